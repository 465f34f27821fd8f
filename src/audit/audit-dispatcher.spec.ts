import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { strict as assert } from 'node:assert';
import type { GatehouseConfig } from '../config/config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { AuditDeliveryRepository, DeliveryState } from './audit-delivery.repository.js';
import { AuditDispatcher, backoffMs, COALESCE_MS } from './audit-dispatcher.js';
import type { AuditEventRepository } from './audit-event.repository.js';
import { AuditHooks } from './audit-hooks.js';
import { AuditNotifier } from './audit-notifier.js';
import type { AuditEventV1 } from './audit-schema.js';
import type { AuditSink } from './audit-sink.js';

describe('backoffMs', () => {
  it('doubles from the base with each attempt, up to the cap', () => {
    const top = () => 1 - Number.EPSILON;
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((attempt) => backoffMs(attempt, 100, 1000, top)), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(backoffMs(500, 100, 1000, top), 1000, 'no overflow on huge attempt counts');
  });

  it('jitters between half and all of the delay', () => {
    assert.equal(backoffMs(3, 100, 10_000, () => 0), 200);
    for (let i = 0; i < 200; i++) {
      const delay = backoffMs(3, 100, 10_000);
      assert.ok(delay >= 200 && delay <= 400, String(delay));
    }
  });
});

/** The outbox in memory: `after` as the repository answers it, reads counted. */
class FakeEvents {
  readonly rows: AuditEventV1[] = [];
  reads = 0;

  constructor(private readonly notifier: AuditNotifier) {}

  async after(seq: number, limit: number): Promise<AuditEventV1[]> {
    this.reads++;
    return this.rows.filter((event) => event.seq > seq).slice(0, limit);
  }

  /** One committed transaction with one event, announced as AuditLog does after COMMIT. */
  commit(): AuditEventV1 {
    const event = { seq: this.rows.length + 1, type: 'token.refreshed', data: {} } as unknown as AuditEventV1;
    this.rows.push(event);
    this.notifier.committed([event]);
    return event;
  }

  async horizon(): Promise<number> {
    return this.rows.length;
  }

  /** An event committed before this instance started (not announced to it). */
  committedEarlier(): void {
    this.rows.push({ seq: this.rows.length + 1, type: 'token.issued', data: {} } as unknown as AuditEventV1);
  }
}

/** audit_deliveries for one instance that always holds the lease; every call is listed. */
class FakeDeliveries {
  cursor = 0;
  readonly calls: string[] = [];
  /** While set, skipTo waits for it (a statement in flight). */
  gate: Promise<void> | null = null;

  async forgetAllBut(): Promise<void> {}
  async ensure(): Promise<void> {}
  async status(): Promise<[]> {
    return [];
  }
  async claim(): Promise<DeliveryState> {
    this.calls.push('claim');
    return { deliveredSeq: this.cursor, attempts: 0, waitMs: 0 };
  }
  async advance(_sink: string, _owner: string, _lease: number, seq: number): Promise<boolean> {
    this.calls.push(`advance:${seq}`);
    this.cursor = seq;
    return true;
  }
  async fail(): Promise<boolean> {
    this.calls.push('fail');
    return true;
  }
  async release(): Promise<void> {
    this.calls.push('release');
  }
  async skipTo(_sink: string, _owner: string, seq: number): Promise<void> {
    this.calls.push(`skipTo:${seq}`);
    if (this.gate) await this.gate;
    this.cursor = Math.max(this.cursor, seq);
  }
}

/** A sink that records its batches; `hold()` keeps the next delivery open until `release()`. */
class RecordingSink implements AuditSink {
  readonly id = 'recording';
  readonly batchSize = 100;
  readonly batches: number[][] = [];
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;

  async deliver(events: readonly AuditEventV1[]): Promise<void> {
    this.batches.push(events.map((event) => event.seq));
    if (this.gate) await this.gate;
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.gate = null;
    this.open?.();
  }
}

const POLL_MS = 1000;

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Mocked time passes; what it wakes runs to its next wait. */
async function pass(ms: number): Promise<void> {
  mock.timers.tick(ms);
  await settle();
}

function dispatcherFor(sink: AuditSink) {
  const notifier = new AuditNotifier();
  const events = new FakeEvents(notifier);
  const deliveries = new FakeDeliveries();
  const config = { database: { kind: 'pglite' }, audit: { pollIntervalMs: POLL_MS, retryBaseMs: 100, retryMaxMs: 1000 } } as unknown as GatehouseConfig;
  const dispatcher = new AuditDispatcher(
    config,
    {},
    [sink],
    deliveries as unknown as AuditDeliveryRepository,
    events as unknown as AuditEventRepository,
    notifier,
    new MetricsService(),
  );
  return { dispatcher, events, deliveries, notifier };
}

describe('AuditDispatcher', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it(`coalesces: commits within ${COALESCE_MS} ms of the first are delivered by one read and one cursor update`, async () => {
    const sink = new RecordingSink();
    const { dispatcher, events, deliveries } = dispatcherFor(sink);
    await dispatcher.onApplicationBootstrap();
    await settle();
    const reads = events.reads;
    for (let i = 0; i < 10; i++) {
      events.commit();
      await settle();
      await pass(2);
    }
    assert.deepEqual(sink.batches, [], 'nothing read before the window closes');
    await pass(COALESCE_MS);
    assert.deepEqual(sink.batches, [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]);
    assert.equal(events.reads, reads + 1, 'one read for ten commits');
    assert.deepEqual(deliveries.calls.filter((call) => call.startsWith('advance')), ['advance:10']);
    await dispatcher.beforeApplicationShutdown();
  });

  it('does not read again to find nothing after a short batch, yet misses no commit made while delivering', async () => {
    const sink = new RecordingSink();
    const { dispatcher, events } = dispatcherFor(sink);
    await dispatcher.onApplicationBootstrap();
    await settle();
    events.commit();
    await settle();
    sink.hold();
    await pass(COALESCE_MS);
    assert.deepEqual(sink.batches, [[1]], 'delivering the first');
    events.commit();
    await settle();
    sink.release();
    await settle();
    await pass(COALESCE_MS);
    assert.deepEqual(sink.batches, [[1], [2]], 'the commit during delivery is read after one window, not at the next poll');
    const reads = events.reads;
    await pass(POLL_MS / 2);
    assert.equal(events.reads, reads, 'caught up: no read until a commit or the poll');
    await pass(POLL_MS / 2);
    assert.equal(events.reads, reads + 1, 'the poll still reads (other instances’ events)');
    await dispatcher.beforeApplicationShutdown();
  });

  it('reads nothing for hooks without a listener, keeps their cursor near the newest event, and delivers from subscription on', async () => {
    const hooks = new AuditHooks();
    const { dispatcher, events, deliveries } = dispatcherFor(hooks);
    for (let i = 0; i < 3; i++) events.committedEarlier();
    await dispatcher.onApplicationBootstrap();
    await settle();
    for (let i = 0; i < 5; i++) {
      events.commit();
      await settle();
      await pass(COALESCE_MS);
    }
    assert.equal(events.reads, 0, 'no reads without a listener');
    assert.deepEqual(deliveries.calls, ['skipTo:3'], 'one cursor move when it went idle (to the newest event at boot), none per commit');
    await pass(POLL_MS);
    assert.deepEqual(deliveries.calls, ['skipTo:3', 'skipTo:8'], 'then at most one per poll interval, after commits');
    await pass(POLL_MS * 3);
    assert.equal(deliveries.calls.length, 2, 'and none without commits');
    // Committed since the last cursor move: before the listener, so not for it.
    events.commit();
    events.commit();
    await settle();

    const received: number[] = [];
    const unsubscribe = hooks.onEvent((event) => void received.push(event.seq));
    await settle();
    events.commit();
    await settle();
    await pass(COALESCE_MS);
    assert.deepEqual(received, [11], 'only what was committed after subscribing');
    assert.ok(events.reads > 0);

    unsubscribe();
    events.commit();
    await settle();
    await pass(COALESCE_MS);
    const reads = events.reads;
    assert.ok(deliveries.calls.includes('release'), 'idle again: the lease is handed back');
    assert.equal(deliveries.calls.at(-1), 'skipTo:12', 'and the cursor moved up');
    events.commit();
    await settle();
    await pass(COALESCE_MS);
    assert.equal(events.reads, reads, 'no reads once the last listener is gone');
    assert.deepEqual(received, [11]);
    await dispatcher.beforeApplicationShutdown();
  });

  it('a listener added while the idle cursor is being moved gets what is committed right after, without waiting for the poll', async () => {
    const hooks = new AuditHooks();
    const { dispatcher, events, deliveries } = dispatcherFor(hooks);
    let release!: () => void;
    deliveries.gate = new Promise((resolve) => (release = resolve));
    await dispatcher.onApplicationBootstrap();
    await settle();
    assert.deepEqual(deliveries.calls, ['skipTo:0'], 'the idle move is in flight');
    const received: number[] = [];
    hooks.onEvent((event) => void received.push(event.seq));
    events.commit();
    deliveries.gate = null;
    release();
    await settle();
    await pass(COALESCE_MS);
    assert.deepEqual(received, [1]);
    await dispatcher.beforeApplicationShutdown();
  });
});
