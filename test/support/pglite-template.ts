import { PGlite } from '@electric-sql/pglite';
import { rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * PGlite runs initdb in WebAssembly the first time it opens an empty folder: several CPU-seconds, the largest cost
 * of starting a Gatehouse on a fresh embedded database. Tests copy a cluster initialised once instead: an empty
 * cluster, exactly what PGlite itself leaves in a new folder, so Gatehouse still does everything it does on a first
 * start (lock, migrations, keys) on each copy. `test/run.mjs` makes one for the whole run (TEST_PGLITE_TEMPLATE);
 * a spec run on its own makes one for its process.
 */
let ownTemplate: Promise<string> | undefined;

function template(): Promise<string> {
  const shared = process.env.TEST_PGLITE_TEMPLATE;
  if (shared) return Promise.resolve(shared);
  ownTemplate ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pglite-template-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const cluster = join(dir, 'pglite');
    const db = await PGlite.create({ dataDir: cluster });
    await db.close();
    return cluster;
  })();
  return ownTemplate;
}

/** Puts an empty, initialised PGlite cluster at `pgliteDir` (DATA_DIR/pglite for a Gatehouse), which must not exist yet. */
export async function seedPglite(pgliteDir: string): Promise<void> {
  const source = await template();
  await mkdir(join(pgliteDir, '..'), { recursive: true, mode: 0o700 });
  await cp(source, pgliteDir, { recursive: true, errorOnExist: true, force: false });
}
