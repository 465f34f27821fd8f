import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Logger, type LoggerService } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Database } from '../database/database.module.js';
import { requestContext } from '../common/request-context.middleware.js';
import { contextOf, type RequestContext } from '../common/http.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { AuditEventRepository } from './audit-event.repository.js';
import type { NewAuditEvent } from './audit-event-insert.js';
import { AuditLog, OBSERVATION_WRITES, type AuditEvent } from './audit-log.js';
import { AuditNotifier } from './audit-notifier.js';
import type { AuditEventV1 } from './audit-schema.js';

/** Warnings logged through Nest's Logger, kept for the assertions. */
const warnings: unknown[][] = [];
const capture: LoggerService = {
  log: () => undefined,
  error: () => undefined,
  warn: (...args: unknown[]) => void warnings.push(args),
};
Logger.overrideLogger(capture);

/** An outbox table in memory; `failing` makes appends throw, `hold` keeps them waiting. */
class FakeEvents {
  readonly appended: NewAuditEvent[][] = [];
  failing = false;
  hold: Promise<void> | null = null;
  private seq = 0;

  async append(_tx: unknown, rows: readonly NewAuditEvent[]): Promise<AuditEventV1[]> {
    if (this.hold) await this.hold;
    if (this.failing) throw new Error('connection terminated');
    this.appended.push([...rows]);
    return rows.map((row) => ({ seq: ++this.seq, type: row.type }) as AuditEventV1);
  }
}

function setUp() {
  const events = new FakeEvents();
  const notifier = new AuditNotifier();
  const metrics = new MetricsService();
  const database = { manager: {} } as unknown as Database;
  const log = new AuditLog(database, events as unknown as AuditEventRepository, notifier, metrics);
  return { events, notifier, metrics, log };
}

const introspected = (jti: string): AuditEvent => ({
  type: 'token.introspected',
  actor: { kind: 'resource', id: 'https://mcp.example.test/mcp' },
  outcome: 'active',
  data: { token_type: 'access_token', jti, by: 'resource' },
});

/** The context the request-context middleware gives a request with these headers from this address. */
function contextFor(headers: Record<string, string>, ip: string): RequestContext {
  const req = { headers, ip, socket: { remoteAddress: ip }, method: 'POST', originalUrl: '/introspect', url: '/introspect' } as unknown as Request;
  const res = { setHeader: () => undefined, on: () => undefined } as unknown as Response;
  let nextCalled = false;
  requestContext(req, res, () => (nextCalled = true));
  assert.ok(nextCalled);
  return contextOf(req)!;
}

async function counter(metrics: MetricsService, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  const sample = metric.find((value) => Object.entries(labels).every(([key, label]) => value.labels[key] === label));
  return sample?.value ?? 0;
}

describe('AuditLog.recordObservation', () => {
  it('takes each event’s request context and time when it is recorded, not when the batch is written', async () => {
    const { events, log } = setUp();
    const before = Date.now();
    log.recordObservation({ ...introspected('j1'), request: contextFor({ 'x-request-id': 'req-one', 'user-agent': 'ProbeOne/1' }, '203.0.113.1') });
    log.recordObservation({ ...introspected('j2'), request: contextFor({ 'x-request-id': 'req-two', 'user-agent': 'ProbeTwo/2' }, '203.0.113.2') });
    assert.equal(events.appended.length, 0, 'queued, not written');
    // Written from here, outside both requests.
    await log.flushObservations();
    assert.equal(events.appended.length, 1, 'one write for both');
    const rows = events.appended[0]!;
    assert.deepEqual(
      rows.map((row) => [row.requestId, row.ip, row.userAgent, row.data.jti]),
      [
        ['req-one', '203.0.113.1', 'ProbeOne/1', 'j1'],
        ['req-two', '203.0.113.2', 'ProbeTwo/2', 'j2'],
      ],
    );
    for (const row of rows) assert.ok(row.time.getTime() >= before && row.time.getTime() <= Date.now());
  });

  it('announces written events to the notifier (sinks, metrics), after the write', async () => {
    const { notifier, log } = setUp();
    const announced: AuditEventV1[] = [];
    notifier.onCommitted((written) => announced.push(...written));
    const commits = notifier.commits;
    log.recordObservation(introspected('j1'));
    assert.equal(announced.length, 0, 'nothing announced before it is written');
    await log.flushObservations();
    assert.deepEqual(announced.map((event) => event.type), ['token.introspected']);
    assert.equal(notifier.commits, commits + 1);
  });

  it('on a failed write: warns without the events, counts the failure, retries once, then drops and counts them', async () => {
    const { events, metrics, log } = setUp();
    warnings.length = 0;
    events.failing = true;
    log.recordObservation(introspected('jti-not-in-logs'));
    await log.flushObservations();
    assert.equal(await counter(metrics, 'gatehouse_audit_write_behind_failures_total'), 2, 'the write and its retry');
    assert.equal(await counter(metrics, 'gatehouse_audit_events_dropped_total', { reason: 'write_failed' }), 1);
    assert.equal(warnings.length, 2);
    assert.match(JSON.stringify(warnings), /connection terminated/);
    assert.doesNotMatch(JSON.stringify(warnings), /jti-not-in-logs/, 'event data stays out of the log');
  });

  it(`drops observations beyond ${OBSERVATION_WRITES.maxPending} waiting, counting each and warning once`, async () => {
    const { events, metrics, log } = setUp();
    warnings.length = 0;
    let release!: () => void;
    events.hold = new Promise((resolve) => (release = resolve));
    for (let i = 0; i < OBSERVATION_WRITES.maxPending + 5; i++) log.recordObservation(introspected(`j${i}`));
    assert.equal(await counter(metrics, 'gatehouse_audit_events_dropped_total', { reason: 'queue_full' }), 5);
    assert.equal(warnings.length, 1, 'one warning for the episode');
    release();
    events.hold = null;
    await log.flushObservations();
    assert.equal(events.appended.flat().length, OBSERVATION_WRITES.maxPending);
  });

  it('beforeApplicationShutdown writes what is queued, and anything recorded later goes straight out', async () => {
    const { events, log } = setUp();
    log.recordObservation(introspected('j1'));
    await log.beforeApplicationShutdown();
    assert.deepEqual(events.appended.flat().map((row) => row.data.jti), ['j1']);
    log.recordObservation(introspected('j2'));
    // Synchronously: the write started without waiting for a timer (the fake appends before its first await).
    assert.deepEqual(events.appended.flat().map((row) => row.data.jti), ['j1', 'j2']);
    await log.flushObservations();
  });
});
