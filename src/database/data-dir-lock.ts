import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Another live process holds the embedded database's folder. */
export class DataDirLocked extends Error {
  constructor(
    readonly dir: string,
    readonly holder: number,
  ) {
    super(`the embedded database in ${dir} is in use by process ${holder}; stop that process, or use the admin API while it runs`);
    this.name = 'DataDirLocked';
  }
}

/**
 * PGlite is one process's database: two processes opening the same folder would corrupt it. The first process
 * takes a pid lock file; a second one fails with a clear message instead. A lock left by a dead process is taken over.
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, 'gatehouse.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // The pid tells other processes who holds the folder; the token makes sure unlock removes only our own lock.
      const content = `${process.pid} ${randomBytes(12).toString('hex')}`;
      await writeFile(file, content, { flag: 'wx', mode: 0o600 });
      return async () => {
        const current = await readFile(file, 'utf8').catch(() => null);
        if (current === content) await rm(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim().split(/\s+/)[0]);
      if (holder && holder !== process.pid && isAlive(holder)) {
        throw new DataDirLocked(dir, holder);
      }
      await rm(file, { force: true });
    }
  }
  throw new Error(`could not lock ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
