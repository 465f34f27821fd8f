import { afterEach, beforeEach, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDataDir } from '../../src/database/data-dir-lock.js';
import { createDataSource } from '../../src/database/data-source.js';
import { ENTITIES } from '../../src/entities.js';

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** A process that stays alive until killed. */
async function liveProcess(): Promise<ChildProcess & { pid: number }> {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  await once(child, 'spawn');
  assert.ok(child.pid);
  return child as ChildProcess & { pid: number };
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  await once(child, 'exit');
  assert.ok(child.pid);
  return child.pid;
}

describe('lockDataDir', () => {
  let dir: string;
  let lockFile: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-lock-'));
    lockFile = join(dir, 'gatehouse.lock');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill();
        await once(child, 'exit');
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('writes this process’s pid to gatehouse.lock, readable only by the owner, and unlock removes it', async () => {
    const unlock = await lockDataDir(dir);
    assert.match(await readFile(lockFile, 'utf8'), new RegExp(`^${process.pid} [0-9a-f]{24}$`));
    assert.equal((await stat(lockFile)).mode & 0o777, 0o600);
    await unlock();
    assert.equal(await exists(lockFile), false);
    await unlock(); // a second unlock is harmless
  });

  it('refuses a folder locked by another live process, naming the process and the folder', async () => {
    const other = await liveProcess();
    children.push(other);
    await writeFile(lockFile, String(other.pid));
    await assert.rejects(lockDataDir(dir), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.ok(error.message.includes(`in use by process ${other.pid}`), error.message);
      assert.ok(error.message.includes(dir), error.message);
      return true;
    });
    assert.equal(await readFile(lockFile, 'utf8'), String(other.pid), 'the other process keeps its lock');
  });

  it('lets the folder be locked once the other process has unlocked it', async () => {
    const other = await liveProcess();
    children.push(other);
    await writeFile(lockFile, String(other.pid));
    await assert.rejects(lockDataDir(dir), /in use/);
    await rm(lockFile); // what the other process's unlock does
    const unlock = await lockDataDir(dir);
    assert.match(await readFile(lockFile, 'utf8'), new RegExp(`^${process.pid} `));
    await unlock();
  });

  it('takes over a lock left by a process that has exited', async () => {
    const pid = await deadPid();
    await writeFile(lockFile, `${pid}\n`);
    const unlock = await lockDataDir(dir);
    assert.match(await readFile(lockFile, 'utf8'), new RegExp(`^${process.pid} `));
    await unlock();
    assert.equal(await exists(lockFile), false);
  });

  it('takes over a lock carrying this process’s own pid (left by an earlier run with the same pid, as pid 1 in a container)', async () => {
    await writeFile(lockFile, String(process.pid));
    const unlock = await lockDataDir(dir);
    assert.match(await readFile(lockFile, 'utf8'), new RegExp(`^${process.pid} `));
    await unlock();
  });

  it('unlock removes only its own lock, not one taken over since', async () => {
    const first = await lockDataDir(dir);
    const second = await lockDataDir(dir); // same pid: takes the folder over
    const held = await readFile(lockFile, 'utf8');
    await first();
    assert.equal(await readFile(lockFile, 'utf8'), held, 'the first holder’s unlock left the second holder’s lock alone');
    await second();
    assert.equal(await exists(lockFile), false);
  });

  it('takes over an empty or unreadable lock file', async () => {
    for (const content of ['', 'not a pid', '0']) {
      await writeFile(lockFile, content);
      const unlock = await lockDataDir(dir);
      assert.match(await readFile(lockFile, 'utf8'), new RegExp(`^${process.pid} `), JSON.stringify(content));
      await unlock();
    }
  });

  it('fails when the folder does not exist, instead of pretending to lock it', async () => {
    await assert.rejects(lockDataDir(join(dir, 'missing')), (error: NodeJS.ErrnoException) => error.code === 'ENOENT');
  });

  it('stops createDataSource from opening a PGlite folder another live process holds', async () => {
    const other = await liveProcess();
    children.push(other);
    await writeFile(lockFile, String(other.pid));
    await assert.rejects(createDataSource({ kind: 'pglite', dataDir: dir }, ENTITIES), new RegExp(`in use by process ${other.pid}`));
    assert.equal(await readFile(lockFile, 'utf8'), String(other.pid));
  });
});
