import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedPglite } from '../support/pglite-template.js';
import { UserEntity } from '../../src/authorization/user.entity.js';
import { DATABASE_KINDS, openTestDatabase, skipUnless, type TestDatabase } from '../support/database.js';
import { insertUser } from '../factories/rows.js';
import { Database } from '../../src/database/database.module.js';

/** Gives every other pending piece of work a chance to run: where statements could interleave, they would. */
const yieldToOthers = () => sleep(5);

for (const kind of DATABASE_KINDS) {
  describe(`transactions on the ${kind} data source`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;

    before(async () => {
      db = await openTestDatabase(kind);
    });
    after(async () => {
      await db?.close();
    });

    async function namesLike(prefix: string): Promise<string[]> {
      const rows = (await db.dataSource.query('SELECT display_name FROM users WHERE display_name LIKE $1 ORDER BY display_name', [`${prefix}%`])) as Array<{ display_name: string }>;
      return rows.map((row) => row.display_name);
    }

    for (const throwerFirst of [true, false]) {
      it(`keeps concurrent transactions apart: only the thrower's rows roll back (${throwerFirst ? 'thrower' : 'committer'} starts first)`, async () => {
        const tag = randomBytes(6).toString('hex');
        const failure = new Error('rolled back on purpose');
        const thrower = () =>
          db.dataSource.transaction(async (tx) => {
            await tx.query('INSERT INTO users (display_name) VALUES ($1)', [`${tag}-rollback-1`]);
            await yieldToOthers();
            await tx.query('INSERT INTO users (display_name) VALUES ($1)', [`${tag}-rollback-2`]);
            await yieldToOthers();
            throw failure;
          });
        const committer = () =>
          db.dataSource.transaction(async (tx) => {
            await tx.query('INSERT INTO users (display_name) VALUES ($1)', [`${tag}-commit-1`]);
            await yieldToOthers();
            await tx.query('INSERT INTO users (display_name) VALUES ($1)', [`${tag}-commit-2`]);
            await yieldToOthers();
            return 'committed';
          });
        const [a, b] = throwerFirst ? await Promise.allSettled([thrower(), committer()]) : (await Promise.allSettled([committer(), thrower()])).reverse();
        assert.deepEqual(a, { status: 'rejected', reason: failure });
        assert.deepEqual(b, { status: 'fulfilled', value: 'committed' });
        assert.deepEqual(await namesLike(tag), [`${tag}-commit-1`, `${tag}-commit-2`]);
      });
    }

    it('never shows a transaction’s uncommitted rows to a query outside it', async () => {
      const tag = randomBytes(6).toString('hex');
      let outside: Promise<Array<{ n: number }>> | undefined;
      await assert.rejects(
        db.dataSource.transaction(async (tx) => {
          await tx.query('INSERT INTO users (display_name) VALUES ($1)', [tag]);
          outside = db.dataSource.query('SELECT count(*)::int AS n FROM users WHERE display_name = $1', [tag]) as Promise<Array<{ n: number }>>;
          await yieldToOthers();
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.ok(outside);
      assert.deepEqual(await outside, [{ n: 0 }]);
    });

    it('releases the session after a failed statement, and rolls that transaction back', async () => {
      const tag = randomBytes(6).toString('hex');
      await assert.rejects(
        db.dataSource.transaction(async (tx) => {
          await tx.query('INSERT INTO users (display_name) VALUES ($1)', [tag]);
          await tx.query('SELECT * FROM no_such_table');
        }),
        /no_such_table/,
      );
      assert.deepEqual(await namesLike(tag), []);
      await db.dataSource.transaction(async (tx) => {
        await tx.query('INSERT INTO users (display_name) VALUES ($1)', [`${tag}-after`]);
      });
      assert.deepEqual(await namesLike(tag), [`${tag}-after`]);
    });

    it('runs many concurrent transactions to completion, each committing its own row', async () => {
      const tag = randomBytes(6).toString('hex');
      const count = 25;
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          db.dataSource.transaction(async (tx) => {
            await tx.query('INSERT INTO users (display_name) VALUES ($1)', [`${tag}-${String(i).padStart(2, '0')}`]);
            await yieldToOthers();
          }),
        ),
      );
      assert.equal((await namesLike(tag)).length, count);
    });

    it('returns the updated row from UPDATE … RETURNING through the query builder', async () => {
      const id = await insertUser(db.dataSource, 'before');
      const renamed = `after-${randomBytes(4).toString('hex')}`;
      const result = await db.dataSource
        .createQueryBuilder()
        .update(UserEntity)
        .set({ displayName: renamed })
        .where('id = :id', { id })
        .returning('*')
        .execute();
      assert.equal(result.affected, 1);
      const rows = result.raw as Array<Record<string, unknown>>;
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.id, id);
      assert.equal(rows[0]?.display_name, renamed);
      assert.ok(rows[0]?.created_at, 'every column comes back');
    });

    it('returns the row from UPDATE … RETURNING inside a transaction, by property names too', async () => {
      const id = await insertUser(db.dataSource, 'before');
      const raw = await db.dataSource.transaction(async (tx) => {
        const result = await tx.createQueryBuilder().update(UserEntity).set({ displayName: 'in-tx' }).where('id = :id', { id }).returning(['id', 'displayName']).execute();
        return result.raw as Array<Record<string, unknown>>;
      });
      assert.deepEqual(raw, [{ id, display_name: 'in-tx' }]);
    });

    it('returns no rows and affected 0 when UPDATE … RETURNING matches nothing', async () => {
      const result = await db.dataSource
        .createQueryBuilder()
        .update(UserEntity)
        .set({ displayName: 'nobody' })
        .where('id = :id', { id: '00000000-0000-4000-8000-000000000000' })
        .returning('*')
        .execute();
      assert.deepEqual(result.raw, []);
      assert.equal(result.affected, 0);
    });

    it('counts affected rows of UPDATE and DELETE without RETURNING', async () => {
      const tag = randomBytes(6).toString('hex');
      await insertUser(db.dataSource, `${tag}-a`);
      await insertUser(db.dataSource, `${tag}-b`);
      const updated = await db.dataSource.createQueryBuilder().update(UserEntity).set({ displayName: () => `display_name || '-x'` }).where('display_name LIKE :p', { p: `${tag}%` }).execute();
      assert.equal(updated.affected, 2);
      const deleted = await db.dataSource.createQueryBuilder().delete().from(UserEntity).where('display_name LIKE :p', { p: `${tag}%` }).execute();
      assert.equal(deleted.affected, 2);
      assert.deepEqual(await namesLike(tag), []);
    });

    it('runs after-end hooks whether the transaction commits or rolls back, and a hook that throws changes neither', async () => {
      const database = new Database(db.dataSource);
      const tag = randomBytes(6).toString('hex');
      const ran: string[] = [];
      const committed = await database.transaction(async (tx) => {
        await tx.query('INSERT INTO users (display_name) VALUES ($1)', [`${tag}-kept`]);
        database.afterEnd(tx, () => {
          throw new Error('a broken hook');
        });
        database.afterEnd(tx, () => ran.push('end after commit'));
        database.afterCommit(tx, () => ran.push('commit'));
        return 'the result';
      });
      assert.equal(committed, 'the result');
      await assert.rejects(
        database.transaction(async (tx) => {
          await tx.query('INSERT INTO users (display_name) VALUES ($1)', [`${tag}-undone`]);
          database.afterEnd(tx, () => ran.push('end after rollback'));
          database.afterCommit(tx, () => ran.push('never'));
          throw new Error('the work failed');
        }),
        /the work failed/,
      );
      assert.deepEqual(ran, ['end after commit', 'commit', 'end after rollback']);
      assert.deepEqual(await namesLike(tag), [`${tag}-kept`]);
    });
  });
}

describe('the embedded database in its worker thread', () => {
  let db: TestDatabase;

  before(async () => {
    db = await openTestDatabase('pglite');
  });
  after(async () => {
    await db?.close();
  });

  it('runs a statement off the main thread: timers keep firing while it runs', async () => {
    let turns = 0;
    let running = true;
    const tick = () => {
      if (!running) return;
      turns++;
      setTimeout(tick, 5);
    };
    tick();
    const turnsBefore = turns;
    await db.dataSource.query('SELECT pg_sleep(0.3)');
    running = false;
    // Run in the main thread, PGlite would hold the event loop for the whole statement: no timer in between.
    assert.ok(turns - turnsBefore >= 2, `the event loop turned ${turns - turnsBefore} times during the statement`);
  });

  it('begins a transaction after every one-off statement called before it, though those hand the session on at once', async () => {
    const tag = randomBytes(6).toString('hex');
    const pool = (db.dataSource.driver as unknown as { master: { query(text: string, values: unknown[]): Promise<unknown> } }).master;
    const inserts = Array.from({ length: 20 }, (_, i) => pool.query('INSERT INTO users (display_name) VALUES ($1)', [`${tag}-${String(i).padStart(2, '0')}`]));
    const seen = db.dataSource.transaction(async (tx) => {
      const rows = (await tx.query('SELECT count(*)::int AS n FROM users WHERE display_name LIKE $1', [`${tag}%`])) as Array<{ n: number }>;
      return rows[0]?.n;
    });
    await Promise.all(inserts);
    assert.equal(await seen, 20);
  });

  it('keeps a failed prepared statement from affecting the next ones', async () => {
    const pool = (db.dataSource.driver as unknown as { master: { query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }> } }).master;
    await assert.rejects(pool.query({ name: 'broken_statement', text: 'SELECT * FROM no_such_table WHERE id = $1', values: [1] }), (error: Error & { code?: string }) => error.code === '42P01');
    const first = await pool.query({ name: 'sum_statement', text: 'SELECT $1::int + 1 AS n', values: [41] });
    const second = await pool.query({ name: 'sum_statement', text: 'SELECT $1::int + 1 AS n', values: [1] });
    assert.deepEqual([first.rows, second.rows], [[{ n: 42 }], [{ n: 2 }]]);
  });

  it('ends the process when the thread dies, rather than answering every later request with an error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pglite-thread-'));
    try {
      await seedPglite(join(dir, 'pglite'));
      // The worker is killed from outside, as a crash inside PGlite would end it.
      const script = `
        const { PgliteThread } = await import(${JSON.stringify(new URL('../../src/database/pglite-thread.js', import.meta.url).href)});
        const thread = await PgliteThread.open(${JSON.stringify(join(dir, 'pglite'))});
        await thread.query('SELECT 1', []);
        await thread.worker.terminate();
        setTimeout(() => { console.log('still running'); process.exit(0); }, 5000);
      `;
      // A file, not --eval: the worker inherits the process's flags, and --input-type would stop it.
      const file = join(dir, 'kill-the-thread.mjs');
      await writeFile(file, script);
      const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 1, output);
      assert.match(output, /the embedded database's thread stopped/);
      assert.doesNotMatch(output, /still running/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
