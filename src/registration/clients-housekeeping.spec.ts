import { describe, it, mock } from 'node:test';
import { strict as assert } from 'node:assert';
import { Logger } from '@nestjs/common';
import { loadConfig, type GatehouseConfig } from '../config/config.js';
import type { Database } from '../database/database.module.js';
import type { Tx } from '../database/data-source.js';
import type { RecordCache, RecordKind } from '../database/record-cache.js';
import type { AuditEvent, AuditLog } from '../audit/audit-log.js';
import type { ClientRepository, ExpiredClient } from './client.repository.js';
import { ClientsHousekeeping } from './clients-housekeeping.js';

/** A job over a fake repository that hands out `batches` (sizes) of expired clients, one batch per call. */
function setup(registration: Partial<GatehouseConfig['registration']>, batches: number[] = []) {
  const base = loadConfig({});
  const config: GatehouseConfig = { ...base, registration: { ...base.registration, ...registration } };
  const deleteCalls: Array<{ ttl: { unusedSeconds: number; idleSeconds: number | null }; limit: number }> = [];
  const events: AuditEvent[] = [];
  let transactions = 0;
  let next = 0;
  const repository = {
    deleteExpired: async (_tx: Tx, ttl: { unusedSeconds: number; idleSeconds: number | null }, limit: number): Promise<ExpiredClient[]> => {
      deleteCalls.push({ ttl, limit });
      const size = batches[next++] ?? 0;
      return Array.from({ length: size }, (_, i) => ({ id: `c-${next}-${i}`, reason: i % 2 ? 'idle' : 'never_used', createdAt: new Date(0), lastUsedAt: i % 2 ? new Date(1000) : null }));
    },
  } as unknown as ClientRepository;
  const database = { transaction: async <T>(work: (tx: Tx) => Promise<T>) => (transactions++, work({} as Tx)) } as unknown as Database;
  const audit = { record: async (_tx: Tx, event: AuditEvent) => void events.push(event) } as unknown as AuditLog;
  const announced: Array<{ kind: RecordKind; ids: readonly string[] }> = [];
  const cache = { invalidate: async (_tx: Tx, kind: RecordKind, ids: readonly string[]) => void announced.push({ kind, ids }) } as unknown as RecordCache;
  const job = new ClientsHousekeeping(config, database, repository, audit, cache);
  return { job, deleteCalls, events, announced, transactions: () => transactions };
}

// The job logs how many clients it deleted; not on the test's output.
Logger.overrideLogger(false);

describe('ClientsHousekeeping', () => {
  it('passes the unused lifetime, and the idle lifetime plus the last-use resolution (an hour)', async () => {
    const { job, deleteCalls } = setup({ unusedClientTtlMs: 2 * 3_600_000, idleClientTtlMs: 3 * 86_400_000 });
    await job.expireBatch(10);
    assert.deepEqual(deleteCalls, [{ ttl: { unusedSeconds: 7200, idleSeconds: 3 * 86_400 + 3600 }, limit: 10 }]);
  });

  it('never expires idle clients when DCR_IDLE_CLIENT_DAYS is 0', async () => {
    const { job, deleteCalls } = setup({ idleClientTtlMs: 0 });
    await job.expireBatch(10);
    assert.equal(deleteCalls[0]?.ttl.idleSeconds, null);
  });

  it('runs batches of 1000 until a short one, each in its own transaction, with one client.expired event per client', async () => {
    const { job, deleteCalls, events, announced, transactions } = setup({}, [1000, 1000, 7]);
    await job.tick();
    assert.deepEqual(deleteCalls.map((call) => call.limit), [1000, 1000, 1000]);
    assert.equal(transactions(), 3);
    // Each batch tells every instance's record cache to forget the clients it deleted.
    assert.deepEqual(announced.map(({ kind, ids }) => [kind, ids.length, ids[0]]), [['client', 1000, 'c-1-0'], ['client', 1000, 'c-2-0'], ['client', 7, 'c-3-0']]);
    assert.equal(events.length, 2007);
    assert.deepEqual(events[0], { type: 'client.expired', clientId: 'c-1-0', data: { reason: 'never_used', registered_at: new Date(0).toISOString(), last_used_at: null } });
    assert.equal(events[1]?.data?.reason, 'idle');
    assert.equal(events[1]?.data?.last_used_at, new Date(1000).toISOString());
  });

  it('runs once a minute after boot and then hourly, and not after shutdown', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    try {
      const { job, deleteCalls } = setup({}, []);
      job.onApplicationBootstrap();
      mock.timers.tick(59_999);
      assert.equal(deleteCalls.length, 0);
      // The fake repository is reached synchronously once a run starts, so the counts below are the timers' doing.
      mock.timers.tick(1);
      assert.equal(deleteCalls.length, 1, 'first run soon after boot');
      await job.tick(); // joins the run the timer started
      assert.equal(deleteCalls.length, 1);
      mock.timers.tick(3_600_000 - 60_001);
      assert.equal(deleteCalls.length, 1);
      mock.timers.tick(1);
      assert.equal(deleteCalls.length, 2, 'then every hour');
      await job.tick();
      await job.onApplicationShutdown();
      mock.timers.tick(10 * 3_600_000);
      assert.equal(deleteCalls.length, 2, 'nothing after shutdown');
    } finally {
      mock.timers.reset();
    }
  });

  it('never runs when shut down before its first run', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    try {
      const { job, deleteCalls } = setup({}, []);
      job.onApplicationBootstrap();
      mock.timers.tick(30_000);
      await job.onApplicationShutdown();
      mock.timers.tick(10 * 3_600_000);
      assert.equal(deleteCalls.length, 0);
    } finally {
      mock.timers.reset();
    }
  });
});
