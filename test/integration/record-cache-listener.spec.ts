import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import pg from 'pg';
import type { Socket } from 'node:net';
import type { GatehouseConfig } from '../../src/config/config.js';
import { Database } from '../../src/database/database.module.js';
import { RECORD_CACHE_CHANNEL, RecordCache } from '../../src/database/record-cache.js';
import { LISTENER_APPLICATION_NAME, RecordCacheListener } from '../../src/database/record-cache-listener.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { postgresUnavailable } from '../support/postgres.js';

// The listener logs its losses and reconnections; not on the test's output.
Logger.overrideLogger(false);

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(10);
  }
}

/** Pings every 100 ms and gives an echo 300 ms, so that a silent session is noticed within the test's patience. */
class QuickListener extends RecordCacheListener {
  protected override readonly pingEveryMs = 100;
  protected override readonly echoTimeoutMs = 300;
  protected override readonly retryFirstMs = 200;

  /** The socket of its current session (pausing it stands for a connection that died without saying so). */
  socket(): Socket {
    return (this as unknown as { connection: { connection: { stream: Socket } } }).connection.connection.stream;
  }
}

/**
 * The listener of one instance against a real PostgreSQL: another session (standing for another instance) announces
 * changes with pg_notify, as RecordCache.invalidate does, and the test kills the listener's session.
 */
describe('RecordCacheListener on PostgreSQL', { skip: postgresUnavailable() }, () => {
  let db: TestDatabase;
  let other: pg.Client;
  let cache: RecordCache;
  let listener: RecordCacheListener;
  let loads = 0;
  const load = (value: string) => async () => (loads++, { value });

  before(async () => {
    db = await openTestDatabase('postgres');
    const config = { database: db.config } as GatehouseConfig;
    cache = new RecordCache(config, new Database(db.dataSource));
    listener = new RecordCacheListener(config, db.dataSource, cache);
    other = new pg.Client({ connectionString: db.config.kind === 'postgres' ? db.config.url : '' });
    await other.connect();
    await listener.onApplicationBootstrap();
  });
  after(async () => {
    await listener?.onApplicationShutdown();
    await other?.end();
    await db?.close();
  });

  const listenerSessions = async (): Promise<number[]> =>
    (await other.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [LISTENER_APPLICATION_NAME])).rows.map(
      (row) => row.pid,
    );

  it('boots listening: one session of its own, proven to receive', async () => {
    assert.equal(cache.mode, 'listening');
    assert.equal((await listenerSessions()).length, 1);
    await cache.read('client', 'c0', load('zero'));
    assert.equal(cache.has('client', 'c0'), true);
  });

  it('evicts what another session announces when its transaction commits, and nothing for one that rolls back', async () => {
    await cache.read('client', 'c1', load('one'));
    await cache.read('client', 'c2', load('two'));
    await other.query('BEGIN');
    await other.query('SELECT pg_notify($1, $2)', [RECORD_CACHE_CHANNEL, 'client:c1']);
    await sleep(200);
    assert.equal(cache.has('client', 'c1'), true, 'nothing is delivered before COMMIT');
    await other.query('COMMIT');
    await waitFor('c1 is evicted', () => !cache.has('client', 'c1'));
    assert.equal(cache.has('client', 'c2'), true, 'only the record announced');

    await other.query('BEGIN');
    await other.query('SELECT pg_notify($1, $2)', [RECORD_CACHE_CHANNEL, 'client:c2']);
    await other.query('ROLLBACK');
    // A later notification arrives only after any earlier one: once it has, c2 would have been evicted too.
    await cache.read('client', 'c3', load('three'));
    await other.query('SELECT pg_notify($1, $2)', [RECORD_CACHE_CHANNEL, 'client:c3']);
    await waitFor('c3 is evicted', () => !cache.has('client', 'c3'));
    assert.equal(cache.has('client', 'c2'), true, 'a rolled-back announcement evicts nothing');
  });

  it('bypasses the cache as soon as its session is killed, and comes back empty once it has reconnected', async () => {
    await cache.read('client', 'c4', load('four'));
    const [pid] = await listenerSessions();
    await other.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor('the cache is bypassed', () => cache.mode === 'bypassed', 2000);
    assert.equal(cache.has('client', 'c4'), false);
    const before = loads;
    await cache.read('client', 'c4', load('from the database'));
    await cache.read('client', 'c4', load('from the database'));
    assert.equal(loads - before, 2, 'every read goes to the database while the listener is down');

    await waitFor('the listener is back', () => cache.mode === 'listening', 10_000);
    const sessions = await listenerSessions();
    assert.equal(sessions.length, 1);
    assert.notEqual(sessions[0], pid, 'a new session');
    assert.equal(cache.has('client', 'c4'), false, 'resumed empty');
    await cache.read('client', 'c5', load('five'));
    await other.query('SELECT pg_notify($1, $2)', [RECORD_CACHE_CHANNEL, 'client:c5']);
    await waitFor('the new session evicts c5', () => !cache.has('client', 'c5'));
  });

  it('ignores pings (its own and other instances\'), and forgets everything on a payload it does not know', async () => {
    await cache.read('client', 'c6', load('six'));
    await other.query('SELECT pg_notify($1, $2)', [RECORD_CACHE_CHANNEL, 'ping:someone-else']);
    await cache.read('client', 'c7', load('seven'));
    await other.query('SELECT pg_notify($1, $2)', [RECORD_CACHE_CHANNEL, 'client:c7']);
    await waitFor('c7 is evicted', () => !cache.has('client', 'c7'));
    assert.equal(cache.has('client', 'c6'), true);
    await other.query('SELECT pg_notify($1, $2)', [RECORD_CACHE_CHANNEL, 'kind_of_a_newer_version:x']);
    await waitFor('everything is forgotten', () => !cache.has('client', 'c6'));
  });

  it('closes its session on shutdown and stays bypassed', async () => {
    // (Last: it stops the listener the other cases use.)
    await listener.onApplicationShutdown();
    assert.equal(cache.mode, 'bypassed');
    await waitFor('its session is gone', async () => (await listenerSessions()).length === 0);
    await sleep(1500);
    assert.equal(cache.mode, 'bypassed', 'no reconnection after shutdown');
    assert.deepEqual(await listenerSessions(), []);
  });
});

describe('RecordCacheListener whose session goes silent', { skip: postgresUnavailable() }, () => {
  let db: TestDatabase;
  let cache: RecordCache;
  let listener: QuickListener;

  before(async () => {
    db = await openTestDatabase('postgres');
    const config = { database: db.config } as GatehouseConfig;
    cache = new RecordCache(config, new Database(db.dataSource));
    listener = new QuickListener(config, db.dataSource, cache);
    await listener.onApplicationBootstrap();
  });
  after(async () => {
    await listener?.onApplicationShutdown();
    await db?.close();
  });

  it('notices that its pings no longer come back, bypasses the cache, and reconnects', async () => {
    assert.equal(cache.mode, 'listening');
    await cache.read('client', 'c1', async () => ({ value: 'one' }));
    const silent = listener.socket();
    // Nothing reaches the listener any more, and nothing tells it so: no error, no end of the connection.
    silent.pause();
    await waitFor('the cache is bypassed', () => cache.mode === 'bypassed', 2000);
    assert.equal(cache.has('client', 'c1'), false);
    await waitFor('a new session listens', () => cache.mode === 'listening', 5000);
    assert.notEqual(listener.socket(), silent);
    silent.destroy();
  });
});
