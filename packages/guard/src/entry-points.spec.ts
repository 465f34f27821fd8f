import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';

/** Every module a compiled entry point loads, following relative imports, and the packages it asks for. */
function packagesLoadedBy(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (url: URL) => {
    if (seen.has(url.href)) return;
    seen.add(url.href);
    const source = readFileSync(url, 'utf8');
    // `import type` is erased by the compiler, so every specifier left in the output is loaded at run time.
    const statements = /^(?:import|export)\s[\w\s{},*$]*?from\s*['"]([^'"]+)['"]|^import\s*['"]([^'"]+)['"]/gm;
    for (const [, from, bare] of source.matchAll(statements)) {
      const specifier = (from ?? bare)!;
      if (specifier.startsWith('.')) visit(new URL(specifier, url));
      else packages.add(specifier);
    }
  };
  visit(new URL(entry, import.meta.url));
  return packages;
}

describe('entry points', () => {
  for (const entry of ['./core.js', './express.js']) {
    it(`${entry} loads neither NestJS nor Express: only jose and node: modules`, () => {
      const loaded = [...packagesLoadedBy(entry)];
      assert.ok(loaded.includes('jose') && loaded.includes('node:crypto'), `the parser finds imports: ${loaded.join(', ')}`);
      assert.deepEqual(loaded.filter((name) => name !== 'jose' && !name.startsWith('node:')), []);
    });
  }

  it('the NestJS entry point is the one that loads NestJS', () => {
    assert.ok(packagesLoadedBy('./index.js').has('@nestjs/common'));
  });
});
