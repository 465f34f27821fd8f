import { describe, it, mock } from 'node:test';
import { strict as assert } from 'node:assert';
import { Logger } from '@nestjs/common';
import { loadConfig, type GatehouseConfig } from '../config/config.js';
import type { Database } from '../database/database.module.js';
import type { Tx } from '../database/data-source.js';
import type { RecordCache, RecordKind } from '../database/record-cache.js';
import type { AuditEvent, AuditLog } from '../audit/audit-log.js';
import type { ClientRepository, ExpiredClient } from './client.repository.js';
import type { ClientAssertionJtiRepository } from './client-assertion-jti.repository.js';
import { ClientsHousekeeping } from './clients-housekeeping.js';

type Ttl = { unusedSeconds: number; idleSeconds: number | null };

/**
 * A job over a fake repository that hands out `batches` (sizes) of expired dynamic clients, one batch per call, and
 * `documentBatches` of expired metadata-document clients likewise.
 */
function setup(settings: { registration?: Partial<GatehouseConfig['registration']>; cimd?: Partial<GatehouseConfig['cimd']> } = {}, batches: number[] = [], documentBatches: number[] = []) {
  const base = loadConfig({});
  const config: GatehouseConfig = { ...base, registration: { ...base.registration, ...settings.registration }, cimd: { ...base.cimd, ...settings.cimd } };
  const deleteCalls: Array<{ ttl: Ttl; limit: number }> = [];
  const documentCalls: Array<{ ttl: Ttl; limit: number }> = [];
  const events: AuditEvent[] = [];
  let transactions = 0;
  let next = 0;
  let nextDocuments = 0;
  const repository = {
    deleteExpired: async (_tx: Tx, ttl: Ttl, limit: number): Promise<ExpiredClient[]> => {
      deleteCalls.push({ ttl, limit });
      const size = batches[next++] ?? 0;
      return Array.from({ length: size }, (_, i) => ({ id: `c-${next}-${i}`, kind: 'dynamic', reason: i % 2 ? 'idle' : 'never_used', createdAt: new Date(0), lastUsedAt: i % 2 ? new Date(1000) : null }));
    },
    deleteExpiredMetadataDocuments: async (_tx: Tx, ttl: Ttl, limit: number): Promise<ExpiredClient[]> => {
      documentCalls.push({ ttl, limit });
      const size = documentBatches[nextDocuments++] ?? 0;
      return Array.from({ length: size }, (_, i) => ({
        id: `https://app.example.com/${nextDocuments}-${i}.json`,
        kind: 'metadata_document',
        reason: i % 2 ? 'idle' : 'never_issued_tokens',
        createdAt: new Date(0),
        lastUsedAt: new Date(2000),
      }));
    },
  } as unknown as ClientRepository;
  const database = { transaction: async <T>(work: (tx: Tx) => Promise<T>) => (transactions++, work({} as Tx)) } as unknown as Database;
  const audit = { record: async (_tx: Tx, event: AuditEvent) => void events.push(event) } as unknown as AuditLog;
  const announced: Array<{ kind: RecordKind; ids: readonly string[] }> = [];
  const cache = { invalidate: async (_tx: Tx, kind: RecordKind, ids: readonly string[]) => void announced.push({ kind, ids }) } as unknown as RecordCache;
  const jtis = { deleteExpired: async () => 0 } as unknown as ClientAssertionJtiRepository;
  const job = new ClientsHousekeeping(config, database, repository, audit, cache, jtis);
  return { job, deleteCalls, documentCalls, events, announced, transactions: () => transactions };
}

// The job logs how many clients it deleted; not on the test's output.
Logger.overrideLogger(false);

describe('ClientsHousekeeping', () => {
  it('passes the unused lifetime, and the idle lifetime plus the last-use resolution (an hour)', async () => {
    const { job, deleteCalls } = setup({ registration: { unusedClientTtlMs: 2 * 3_600_000, idleClientTtlMs: 3 * 86_400_000 } });
    await job.expireBatch(10);
    assert.deepEqual(deleteCalls, [{ ttl: { unusedSeconds: 7200, idleSeconds: 3 * 86_400 + 3600 }, limit: 10 }]);
  });

  it('never expires idle clients when DCR_IDLE_CLIENT_DAYS is 0', async () => {
    const { job, deleteCalls } = setup({ registration: { idleClientTtlMs: 0 } });
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
    assert.deepEqual(events[0], { type: 'client.expired', clientId: 'c-1-0', data: { kind: 'dynamic', reason: 'never_used', registered_at: new Date(0).toISOString(), last_used_at: null } });
    assert.equal(events[1]?.data?.reason, 'idle');
    assert.equal(events[1]?.data?.last_used_at, new Date(1000).toISOString());
  });

  it('passes the metadata-document lifetimes, both plus the last-use resolution, since both run from the last use', async () => {
    const { job, documentCalls } = setup({ cimd: { unusedClientTtlMs: 5 * 3_600_000, idleClientTtlMs: 2 * 86_400_000 } });
    await job.expireBatch(10);
    assert.deepEqual(documentCalls, [{ ttl: { unusedSeconds: 5 * 3600 + 3600, idleSeconds: 2 * 86_400 + 3600 }, limit: 10 }]);
    const off = setup({ cimd: { idleClientTtlMs: 0 } });
    await off.job.expireBatch(10);
    assert.equal(off.documentCalls[0]?.ttl.idleSeconds, null, 'CIMD_IDLE_CLIENT_DAYS=0 keeps idle ones');
    assert.equal(off.deleteCalls[0]?.ttl.idleSeconds, 90 * 86_400 + 3600, 'and leaves the dynamic lifetimes alone');
  });

  it('fills each batch with metadata-document clients after the dynamic ones, recording their kind, and announces them all', async () => {
    // Batch 1: 1000 dynamic, no room for documents; batch 2: 400 dynamic and 600 documents (full); batch 3: 0 and 3.
    const { job, deleteCalls, documentCalls, events, announced, transactions } = setup({}, [1000, 400, 0], [600, 3]);
    await job.tick();
    assert.deepEqual(deleteCalls.map((call) => call.limit), [1000, 1000, 1000]);
    assert.deepEqual(documentCalls.map((call) => call.limit), [600, 1000]);
    assert.equal(transactions(), 3);
    // Metadata-document clients are not cached records, but their tokens may be known live (AccessTokenStandings).
    assert.deepEqual(announced.map(({ ids }) => ids.length), [1000, 1000, 3]);
    assert.equal(events.length, 2003);
    const document = events.find((event) => event.clientId === 'https://app.example.com/1-0.json');
    assert.deepEqual(document, {
      type: 'client.expired',
      clientId: 'https://app.example.com/1-0.json',
      data: { kind: 'metadata_document', reason: 'never_issued_tokens', registered_at: new Date(0).toISOString(), last_used_at: new Date(2000).toISOString() },
    });
    assert.equal(events.filter((event) => event.data?.kind === 'metadata_document').length, 603);
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
