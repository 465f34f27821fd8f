import { describe, it, mock } from 'node:test';
import { strict as assert } from 'node:assert';
import type { DataSource } from 'typeorm';
import type { GatehouseConfig } from '../config/config.js';
import type { Tx } from './data-source.js';
import { Database } from './database.module.js';
import { RECORD_CACHE_CHANNEL, RECORD_MAX_AGE_MS, RecordCache, deepFreeze } from './record-cache.js';

/** A RecordCache over a real Database whose transactions run on a fake connection that records its statements. */
function setup(kind: 'pglite' | 'postgres') {
  const statements: Array<{ sql: string; params: unknown[] }> = [];
  const tx = { query: async (sql: string, params: unknown[] = []) => (statements.push({ sql, params }), []) } as unknown as Tx;
  const dataSource = { transaction: async <T>(work: (t: Tx) => Promise<T>) => work(tx) } as unknown as DataSource;
  const database = new Database(dataSource);
  const config = { database: kind === 'postgres' ? { kind, url: 'postgres://cache.test/db' } : { kind, dataDir: '/nowhere' } } as GatehouseConfig;
  const cache = new RecordCache(config, database);
  let loads = 0;
  /** A loader that counts its calls and returns a fresh object (or null) each time. */
  const loader = (value: string | null) => async () => (loads++, value === null ? null : { value, items: [value] });
  return { cache, database, statements, loader, loads: () => loads };
}

describe('RecordCache on PGlite (one process: local eviction)', () => {
  it('reads through: loads once, then serves the same frozen value', async () => {
    const { cache, loader, loads } = setup('pglite');
    assert.equal(cache.mode, 'local');
    const first = await cache.read('client', 'c1', loader('one'));
    const second = await cache.read('client', 'c1', loader('changed in the database'));
    assert.equal(loads(), 1);
    assert.equal(second, first);
    assert.equal(cache.has('client', 'c1'), true);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first?.items), 'frozen, nested values included');
    assert.throws(() => (first!.items as string[]).push('x'), TypeError);
  });

  it('never caches a miss (null), unless `keep` says so', async () => {
    const { cache, loader, loads } = setup('pglite');
    assert.equal(await cache.read('client', 'unknown', loader(null)), null);
    assert.equal(await cache.read('client', 'unknown', loader(null)), null);
    assert.equal(loads(), 2, 'an unknown id goes to the database every time');
    assert.equal(cache.has('client', 'unknown'), false);
    await cache.read('resource', 'implicit', loader(null), { keep: () => true });
    await cache.read('resource', 'implicit', loader(null), { keep: () => true });
    assert.equal(loads(), 3);
    const { value } = (await cache.read('client', 'doc', loader('metadata_document'), { keep: (loaded) => loaded?.value !== 'metadata_document' }))!;
    assert.equal(value, 'metadata_document');
    assert.equal(cache.has('client', 'doc'), false);
  });

  it('evicts what a transaction announces once it commits, and nothing when it rolls back; no NOTIFY without listeners', async () => {
    const { cache, database, statements, loader } = setup('pglite');
    await cache.read('client', 'c1', loader('one'));
    await assert.rejects(
      database.transaction(async (tx) => {
        await cache.invalidate(tx, 'client', ['c1']);
        throw new Error('rolled back');
      }),
    );
    assert.equal(cache.has('client', 'c1'), true, 'a rolled-back change evicts nothing');
    await database.transaction(async (tx) => {
      await cache.invalidate(tx, 'client', ['c1']);
      assert.equal(cache.has('client', 'c1'), true, 'still cached until the commit');
    });
    assert.equal(cache.has('client', 'c1'), false);
    assert.deepEqual(statements, []);
  });

  it('refuses to announce outside Database.transaction(): it could not evict after the commit', async () => {
    const { cache } = setup('pglite');
    await assert.rejects(cache.invalidate({} as Tx, 'client', ['c1']), /needs a transaction from Database.transaction/);
  });

  it('forgets one client per client change, but every resource entry on any resource change', async () => {
    const { cache, loader } = setup('pglite');
    await cache.read('client', 'c1', loader('one'));
    await cache.read('client', 'c2', loader('two'));
    await cache.read('resource', 'id:r1', loader('r1'));
    await cache.read('resource', 'scopes', loader('a b'));
    cache.evict('client', ['c1']);
    assert.deepEqual([cache.has('client', 'c1'), cache.has('client', 'c2')], [false, true]);
    cache.evict('resource', ['r2']);
    assert.deepEqual([cache.has('resource', 'id:r1'), cache.has('resource', 'scopes')], [false, false], 'the union depends on every row');
    assert.equal(cache.has('client', 'c2'), true);
  });

  it('does not store a value read while an eviction happened: it may predate the change', async () => {
    const { cache } = setup('pglite');
    let release!: () => void;
    const slow = cache.read('client', 'c1', () => new Promise<{ v: number }>((resolve) => (release = () => resolve({ v: 1 }))));
    cache.evict('client', ['c-other']);
    release();
    assert.deepEqual(await slow, { v: 1 });
    assert.equal(cache.has('client', 'c1'), false);
  });

  it('does not store what a transaction that announced a change reads (its own write is not committed)', async () => {
    const { cache, database, loader } = setup('pglite');
    await database.transaction(async (tx) => {
      await cache.read('resource', 'id:r1', loader('before'), { tx });
      assert.equal(cache.has('resource', 'id:r1'), true, 'an ordinary transaction may fill');
      cache.evict('resource', ['r1']);
      await cache.invalidate(tx, 'resource', ['r1']);
      await cache.read('resource', 'id:r1', loader('uncommitted'), { tx });
      assert.equal(cache.has('resource', 'id:r1'), false);
    });
  });

  it('update replaces a cached value (frozen again) and leaves an uncached one alone', async () => {
    const { cache, loader, loads } = setup('pglite');
    await cache.read('client', 'c1', loader('one'));
    cache.update<{ value: string }>('client', 'c1', (cached) => ({ ...cached, value: 'used' }));
    const updated = await cache.read('client', 'c1', loader('unused'));
    assert.equal(updated?.value, 'used');
    assert.ok(Object.isFrozen(updated));
    cache.update<{ value: string }>('client', 'c2', () => assert.fail('not cached: nothing to change'));
    assert.equal(cache.has('client', 'c2'), false);
    assert.equal(loads(), 1);
  });

  it('reloads an entry older than RECORD_MAX_AGE_MS (the bound for changes made behind its back)', async () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    try {
      const { cache, loader, loads } = setup('pglite');
      await cache.read('client', 'c1', loader('one'));
      mock.timers.tick(RECORD_MAX_AGE_MS - 1);
      await cache.read('client', 'c1', loader('two'));
      assert.equal(loads(), 1);
      mock.timers.tick(1);
      assert.equal(cache.has('client', 'c1'), false);
      assert.equal((await cache.read('client', 'c1', loader('two')))?.value, 'two');
      assert.equal(loads(), 2);
    } finally {
      mock.timers.reset();
    }
  });
});

describe('RecordCache on PostgreSQL (shared by instances: announced with NOTIFY)', () => {
  it('is bypassed until its listener resumes it: every read goes to the database and nothing is stored', async () => {
    const { cache, loader, loads } = setup('postgres');
    assert.equal(cache.mode, 'bypassed');
    await cache.read('client', 'c1', loader('one'));
    await cache.read('client', 'c1', loader('one'));
    assert.equal(loads(), 2);
    assert.equal(cache.has('client', 'c1'), false);
    cache.resume();
    assert.equal(cache.mode, 'listening');
    await cache.read('client', 'c1', loader('one'));
    await cache.read('client', 'c1', loader('one'));
    assert.equal(loads(), 3);
  });

  it('while its listener is down, bypasses and empties the cache; it resumes empty', async () => {
    const { cache, loader, loads } = setup('postgres');
    cache.resume();
    await cache.read('client', 'c1', loader('one'));
    cache.suspend();
    assert.equal(cache.mode, 'bypassed');
    assert.equal((await cache.read('client', 'c1', loader('changed meanwhile')))?.value, 'changed meanwhile', 'read from the database');
    assert.equal((await cache.read('client', 'c1', loader('changed again')))?.value, 'changed again', 'and not stored');
    cache.resume();
    assert.equal(cache.has('client', 'c1'), false, 'resumes empty: notifications may have been missed');
    assert.equal(loads(), 3);
  });

  it('does not store a value whose read overlapped a suspension, even if the listener is back by then', async () => {
    const { cache } = setup('postgres');
    cache.resume();
    let release!: () => void;
    const slow = cache.read('client', 'c1', () => new Promise<{ v: number }>((resolve) => (release = () => resolve({ v: 1 }))));
    cache.suspend();
    cache.resume();
    release();
    await slow;
    assert.equal(cache.has('client', 'c1'), false);
  });

  it('announces changes with pg_notify inside the transaction, one payload per record', async () => {
    const { cache, database, statements } = setup('postgres');
    await database.transaction((tx) => cache.invalidate(tx, 'client', ['c1', 'c2']));
    await database.transaction((tx) => cache.invalidate(tx, 'client', []));
    assert.deepEqual(statements, [
      { sql: 'SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', params: [RECORD_CACHE_CHANNEL, ['client:c1', 'client:c2']] },
    ]);
  });

  it('applies notifications: client:<id> evicts that client, resource:<id> every resource entry, anything else everything', async () => {
    const { cache, loader } = setup('postgres');
    cache.resume();
    const fill = async () => {
      for (const key of ['c1', 'c2']) await cache.read('client', key, loader(key));
      for (const key of ['id:r1', 'scopes']) await cache.read('resource', key, loader(key));
    };
    const cached = () => [cache.has('client', 'c1'), cache.has('client', 'c2'), cache.has('resource', 'id:r1'), cache.has('resource', 'scopes')];
    await fill();
    cache.applyNotification('client:c1');
    assert.deepEqual(cached(), [false, true, true, true]);
    cache.applyNotification('resource:r9');
    assert.deepEqual(cached(), [false, true, false, false]);
    await fill();
    const observed: Array<[string | null, readonly string[]]> = [];
    cache.observe((kind, ids) => observed.push([kind, ids]));
    cache.applyNotification('grant:g1');
    assert.deepEqual(cached(), [true, true, true, true], 'an announced-only kind evicts no record');
    assert.deepEqual(observed, [['grant', ['g1']]], 'but reaches the observers');
    cache.applyNotification('newer_kind:g1');
    assert.deepEqual(cached(), [false, false, false, false], 'an unknown kind (a newer version) forgets everything');
    assert.deepEqual(observed.at(-1), [null, []]);
    await fill();
    cache.applyNotification('*');
    assert.deepEqual(cached(), [false, false, false, false]);
  });
});

describe('deepFreeze', () => {
  it('freezes nested objects and arrays, and returns its argument', () => {
    const value = { a: { b: [1, { c: 2 }] }, at: new Date(0) };
    assert.equal(deepFreeze(value), value);
    assert.ok(Object.isFrozen(value.a) && Object.isFrozen(value.a.b) && Object.isFrozen(value.a.b[1]) && Object.isFrozen(value.at));
    assert.equal(deepFreeze(null), null);
    assert.equal(deepFreeze('text'), 'text');
  });
});
