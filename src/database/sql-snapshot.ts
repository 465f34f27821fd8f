import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Statement } from './sql.js';

/**
 * The checked-in `*.repository.sql` files: each repository's raw statements exactly as PostgreSQL receives them,
 * so that a review sees the SQL a change produces. `npm run sql:snapshot` writes them; sql-snapshot.spec fails
 * when one differs from what the code now produces.
 */

/** The build's root (dist/) and the source tree's (the folder that holds dist/). */
const DIST_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE_ROOT = join(DIST_ROOT, '..');

/** Statements a module exports: directly, or as the `statement` of an exported audited statement. */
export function statementsOf(module: Record<string, unknown>): Array<Statement<unknown>> {
  const found: Array<Statement<unknown>> = [];
  for (const value of Object.values(module)) {
    if (value instanceof Statement) found.push(value);
    else if (typeof value === 'object' && value !== null && 'statement' in value && value.statement instanceof Statement) found.push(value.statement);
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** A snapshot file's text: each statement under its name and its parameters' positions. */
export function renderSnapshot(source: string, statements: ReadonlyArray<Statement<unknown>>): string {
  const header = `-- Written by npm run sql:snapshot from ${source}: its statements as PostgreSQL receives them.\n`;
  const body = statements.map((statement) => {
    const positions = statement.order.map((name, i) => `$${i + 1} ${name}`).join(', ');
    return `-- ${statement.name}${positions ? ` (${positions})` : ''}\n${statement.text.trim()};\n`;
  });
  return [header, ...body].join('\n');
}

async function repositoryFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await repositoryFiles(path)));
    else if (entry.name.endsWith('.repository.ts')) found.push(path);
  }
  return found.sort();
}

export interface Snapshot {
  /** The snapshot's path in the source tree, beside its repository. */
  path: string;
  text: string;
}

/** The snapshot every repository of src/ that runs raw statements should have now. */
export async function expectedSnapshots(): Promise<Snapshot[]> {
  const snapshots: Snapshot[] = [];
  for (const source of await repositoryFiles(join(SOURCE_ROOT, 'src'))) {
    const compiled = join(DIST_ROOT, relative(SOURCE_ROOT, source)).replace(/\.ts$/, '.js');
    const statements = statementsOf((await import(pathToFileURL(compiled).href)) as Record<string, unknown>);
    if (statements.length === 0) continue;
    snapshots.push({ path: source.replace(/\.ts$/, '.sql'), text: renderSnapshot(relative(SOURCE_ROOT, source), statements) });
  }
  return snapshots;
}

/** The snapshot files in the source tree now. */
export async function checkedInSnapshots(): Promise<Snapshot[]> {
  const paths = (await repositoryFiles(join(SOURCE_ROOT, 'src'))).map((path) => path.replace(/\.ts$/, '.sql'));
  const found: Snapshot[] = [];
  for (const path of paths) {
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? null : Promise.reject(error)));
    if (text !== null) found.push({ path, text });
  }
  return found;
}

/** Where a path is, for messages: relative to the source tree. */
export function sourcePath(path: string): string {
  return relative(SOURCE_ROOT, path);
}
