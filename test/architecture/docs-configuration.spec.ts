import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIGURATION_VARIABLES } from '../../src/config/config.js';
import { brokenLinks, difference, documentedVariables, environmentReads, headingAnchors, relativeLinks, sourceFiles } from './docs-check.js';

// Compiled to <dist>/test/architecture/: the sources are three folders up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('docs/configuration.md', () => {
  const documented = documentedVariables(readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8'));
  const readElsewhere = sourceFiles(ROOT, 'src').flatMap((file) => environmentReads(readFileSync(join(ROOT, file), 'utf8')));
  const read = [...new Set([...CONFIGURATION_VARIABLES, ...readElsewhere])].sort();

  it('reads the configuration and the page', () => {
    assert.ok(read.length > 50 && read.includes('DATABASE_URL'), `only ${read.length} variables read from the configuration`);
    assert.ok(documented.length > 50 && documented.includes('DATABASE_URL'), `only ${documented.length} variables read from the page`);
  });

  it('documents every environment variable Gatehouse reads', () => {
    const { undocumented } = difference(read, documented);
    assert.deepEqual(undocumented, [], `read but missing from docs/configuration.md: ${undocumented.join(', ')}`);
  });

  it('documents no variable Gatehouse does not read', () => {
    const { unread } = difference(read, documented);
    assert.deepEqual(unread, [], `in docs/configuration.md but read nowhere: ${unread.join(', ')}`);
  });
});

describe('relative links in README.md, CHANGELOG.md and docs/', () => {
  it('lead to files and headings that exist', () => {
    const docs = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`);
    const files = ['README.md', 'CHANGELOG.md'].filter((file) => existsSync(join(ROOT, file))).concat(docs);
    assert.ok(docs.length >= 8, `only ${docs.length} files in docs/`);
    assert.deepEqual(brokenLinks(ROOT, files), []);
  });
});

describe('the documentation checks', () => {
  it('take the variables from the first column of the tables only, outside code', () => {
    const page = [
      '| Variable | Default | Meaning |',
      '| --- | --- | --- |',
      '| `PORT` | `3000` | Like `HOST`. |',
      '| `GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET` | unset | Both. |',
      '```',
      '| `IN_CODE` | x | y |',
      '```',
      'Prose naming `NOT_A_ROW`.',
    ].join('\n');
    assert.deepEqual(documentedVariables(page), ['GITHUB_CLIENT_ID', 'GITHUB_CLIENT_SECRET', 'PORT']);
  });

  it('find process.env reads in either notation', () => {
    assert.deepEqual(environmentReads("const a = process.env.LOG_FORMAT; const b = process.env['NO_COLOR']; env.OTHER;"), ['LOG_FORMAT', 'NO_COLOR']);
  });

  it('name what each side lacks', () => {
    assert.deepEqual(difference(['PORT', 'HOST', 'NEW_ONE'], ['PORT', 'HOST', 'GONE']), { undocumented: ['NEW_ONE'], unread: ['GONE'] });
  });

  it('make anchors as GitHub does', () => {
    const anchors = headingAnchors(["# Sign in with your company's identity provider (OpenID Connect)", '## `ENCRYPTION_KEY`', '## Notes', '## Notes', '```', '# not a heading', '```'].join('\n'));
    assert.deepEqual([...anchors], ['sign-in-with-your-companys-identity-provider-openid-connect', 'encryption_key', 'notes', 'notes-1']);
  });

  it('collect relative links and images, not absolute ones or code', () => {
    const markdown = ['See [a](docs/a.md#x) and [b](https://example.com) and `[c](c.md)`.', '<p><img src="shot.png" alt=""></p>', '```', '[d](d.md)', '```'].join('\n');
    assert.deepEqual(relativeLinks(markdown), ['docs/a.md#x', 'shot.png']);
  });
});
