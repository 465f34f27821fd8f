import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  findCircles,
  findUndeclaredImports,
  findUnplacedFiles,
  findUpwardImports,
  folderGraph,
  importSpecifiers,
  readImportGraph,
  SELF_CONTAINED,
  type ImportGraph,
  type Layer,
} from './import-graph.js';

// Compiled to <dist>/test/architecture/: the sources are three folders up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('the import graph of src/ and packages/', () => {
  const graph = readImportGraph(ROOT);

  it('reads the whole tree, the workspace packages included', () => {
    assert.ok(graph.size > 150, `only ${graph.size} files read from ${ROOT}src`);
    assert.ok(graph.get('src/app.module.ts')?.includes('src/database/database.module.ts'));
    assert.ok(graph.get('packages/guard/src/index.ts')?.includes('packages/guard/src/gatehouse-guard.module.ts'));
    assert.ok(graph.has('packages/client/src/index.ts'));
  });

  it('has no import circle (type-only imports count)', () => {
    assert.deepEqual(findCircles(graph), []);
  });

  it('has no circle between modules (folders) either', () => {
    assert.deepEqual(findCircles(folderGraph(graph)), []);
  });

  it('imports only downward: common < config < database, metrics < rate-limit < features < application', () => {
    assert.deepEqual(findUpwardImports(graph), []);
  });

  it('places every file in a layer or a published package', () => {
    assert.deepEqual(findUnplacedFiles(graph), []);
  });

  it("lets each package import only what its package.json declares (besides Node's builtins)", () => {
    assert.deepEqual(SELF_CONTAINED.flatMap((folder) => findUndeclaredImports(ROOT, folder.replace(/\/$/, ''))), []);
  });
});

describe('the import-graph checks', () => {
  const layers: Layer[] = [
    { name: 'low', members: ['src/low/'] },
    { name: 'feature', members: ['src/a/', 'src/b/'] },
    { name: 'app', members: ['src/main.ts'] },
  ];
  const graph: ImportGraph = new Map([
    ['src/main.ts', ['src/a/a.ts', 'src/low/util.ts']],
    ['src/a/a.ts', ['src/b/b.ts']],
    ['src/b/b.ts', ['src/b/c.ts']],
    ['src/b/c.ts', ['src/a/a.ts']],
    ['src/low/util.ts', ['src/a/a.ts', 'src/low/self.ts']],
    ['src/low/self.ts', ['src/low/self.ts']],
    ['src/lib/index.ts', ['src/lib/inner.ts', 'src/low/util.ts']],
    ['src/lib/inner.ts', []],
    ['src/b/reach.ts', ['src/lib/inner.ts']],
    ['src/stray.ts', []],
  ]);

  it('names each circle as the chain of imports that closes it', () => {
    assert.deepEqual(findCircles(graph).sort(), [
      'src/a/a.ts -> src/b/b.ts -> src/b/c.ts -> src/a/a.ts',
      'src/low/self.ts -> src/low/self.ts',
    ]);
  });

  it('names each upward import, each import out of a published package, and each relative import into one', () => {
    assert.deepEqual(findUpwardImports(graph, layers, ['src/lib/']), [
      'src/low/util.ts -> src/a/a.ts (layer low imports from the higher layer feature)',
      'src/lib/index.ts -> src/low/util.ts (src/lib/ is a published package and imports nothing outside it)',
      'src/b/reach.ts -> src/lib/inner.ts (src/lib/ is a published package: import it by its package name)',
    ]);
  });

  it('finds circles between folders that no file-level circle shows', () => {
    const files: ImportGraph = new Map([
      ['src/a/one.ts', ['src/b/two.ts']],
      ['src/b/two.ts', []],
      ['src/b/three.ts', ['src/a/four.ts']],
      ['src/a/four.ts', []],
      ['src/main.ts', ['src/a/one.ts']],
    ]);
    assert.deepEqual(findCircles(files), []);
    assert.deepEqual(findCircles(folderGraph(files)), ['src/a -> src/b -> src/a']);
  });

  it("names a package's imports that its package.json does not declare, specs and builtins aside", () => {
    const root = mkdtempSync(join(tmpdir(), 'gatehouse-import-graph-'));
    try {
      mkdirSync(join(root, 'packages/x/src'), { recursive: true });
      writeFileSync(join(root, 'packages/x/package.json'), JSON.stringify({ dependencies: { a: '1' }, peerDependencies: { '@s/b': '1' } }));
      const imports = ['a', '@s/b/sub', 'node:fs', 'fs', 'c', 'c/deep', './y.js'].map((name) => `import '${name}';`);
      writeFileSync(join(root, 'packages/x/src/index.ts'), imports.join('\n'));
      writeFileSync(join(root, 'packages/x/src/index.spec.ts'), "import 'test-only';");
      assert.deepEqual(findUndeclaredImports(root, 'packages/x'), ['packages/x/src/index.ts imports c, which packages/x/package.json does not declare']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('names files outside every layer', () => {
    assert.deepEqual(findUnplacedFiles(graph, layers, ['src/lib/']), ['src/stray.ts']);
  });

  it('finds static, type-only, re-exported, side-effect and dynamic imports, multi-line ones included', () => {
    const source = [
      "import 'reflect-metadata';",
      "import { a, type B } from './a.js';",
      'import type {',
      '  C,',
      '  D,',
      "} from '../c.js';",
      "import * as e from './e.js';",
      "export { f } from './f.js';",
      "export * from './g.js';",
      "export type { H } from './h.js';",
      "const later = await import('./i.js');",
      "export const text = 'x from \\'./not-an-import.js\\'';",
      "// import { z } from './commented.js' is not at the start of a line",
    ].join('\n');
    assert.deepEqual(importSpecifiers(source), ['reflect-metadata', './a.js', '../c.js', './e.js', './f.js', './g.js', './h.js', './i.js']);
  });
});
