import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { grantUserId, mintTokens, registerClient } from '../support/flows.js';
import { eventually, latestSeq, queryAudit, WebhookReceiver } from '../support/audit.js';
import { GrantRepository } from '../../src/tokens/grant.repository.js';
import { AuditRetention } from '../../src/audit/audit-retention.js';
import { AuditHooks, type RevocationHookEvent, type TokenIssuedHookEvent } from '../../src/audit/audit-hooks.js';
import type { AuditEventV1 } from '../../src/audit/audit-schema.js';

let resources = 0;

/** `n` admin events (resource servers created), returned in seq order. */
async function adminEvents(gatehouse: RunningGatehouse, n: number): Promise<AuditEventV1[]> {
  const start = await latestSeq(gatehouse);
  for (let i = 0; i < n; i++) await createResource(gatehouse, { resource: `http://127.0.0.1:1/delivery-${++resources}`, scopes: ['a'] });
  const events = await queryAudit(gatehouse, { cursor: String(start) });
  assert.equal(events.length, n);
  return events;
}

async function deliveryRow(gatehouse: RunningGatehouse, sink: string): Promise<{ delivered_seq: number; attempts: number; last_error: string | null }> {
  const rows = (await gatehouse.db.query('SELECT delivered_seq::int AS delivered_seq, attempts, last_error FROM audit_deliveries WHERE sink = $1', [sink])) as Array<{
    delivered_seq: number;
    attempts: number;
    last_error: string | null;
  }>;
  assert.equal(rows.length, 1, `a delivery row for ${sink}`);
  return rows[0]!;
}

/** Accepted events after `start`: each exactly once, in seq order. */
function assertInOrderOnce(receiver: WebhookReceiver, expected: AuditEventV1[], start: number): void {
  const delivered = receiver.accepted.filter((event) => event.seq > start);
  assert.deepEqual(delivered.map((event) => event.seq), expected.map((event) => event.seq), 'every event delivered, in seq order');
  assert.deepEqual(delivered, expected, 'delivered as recorded');
  assert.equal(receiver.duplicates, 0, 'no event delivered twice as new');
  assert.ok(receiver.requests.every((request) => request.signatureValid), 'every request is signed');
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`audit webhook delivery under faults (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let receiver: WebhookReceiver;
    let gatehouse: RunningGatehouse;

    before(async () => {
      receiver = await new WebhookReceiver().start();
      gatehouse = await startGatehouse({ database, env: receiver.env });
    });

    after(async () => {
      await gatehouse?.close();
      await receiver?.stop();
    });

    it('retries with backoff while the receiver answers 500, holding later events back, then delivers everything once, in order', async () => {
      const start = await latestSeq(gatehouse);
      receiver.failing = true;
      const events = await adminEvents(gatehouse, 5);
      await eventually(() => receiver.requests.filter((request) => request.status === 500).length >= 4, 'several failed attempts');
      const failedRow = await deliveryRow(gatehouse, 'webhook');
      assert.ok(failedRow.attempts >= 1, 'attempts are recorded');
      assert.match(failedRow.last_error ?? '', /HTTP 500/);
      assert.ok(failedRow.delivered_seq < events[0]!.seq, 'the cursor has not moved past the failing event');
      // Ordered delivery: while the first event fails, nothing after it is attempted.
      const attempted = new Set(receiver.requests.filter((request) => request.event.seq > start).map((request) => request.event.seq));
      assert.deepEqual([...attempted], [events[0]!.seq]);
      assert.equal(receiver.accepted.filter((event) => event.seq > start).length, 0);

      receiver.failing = false;
      await eventually(() => receiver.accepted.some((event) => event.seq === events[4]!.seq), 'the backlog drains once the receiver recovers');
      assertInOrderOnce(receiver, events, start);
      // The receiver answers before the cursor moves: wait for the row rather than race it.
      const row = await eventually(async () => {
        const current = await deliveryRow(gatehouse, 'webhook');
        return current.delivered_seq === events[4]!.seq && current;
      }, 'the cursor reaches the last event');
      assert.equal(row.attempts, 0);
      assert.equal(row.last_error, null);

      const metrics = await (await fetch(`${gatehouse.url}/metrics`)).text();
      assert.ok(Number(/^gatehouse_audit_deliveries_total\{sink="webhook",result="failed"\} (\d+)/m.exec(metrics)?.[1]) >= 4, 'failures are counted');
    });

    it('resumes after a restart in the middle of a backlog: nothing lost, nothing twice, order kept', async () => {
      const start = await latestSeq(gatehouse);
      const delivered = await adminEvents(gatehouse, 2);
      await eventually(async () => (await deliveryRow(gatehouse, 'webhook')).delivered_seq === delivered[1]!.seq, 'the first events go through');
      receiver.failing = true;
      const backlog = await adminEvents(gatehouse, 3);
      await eventually(() => receiver.requests.some((request) => request.status === 500 && request.event.seq === backlog[0]!.seq), 'the backlog is being retried');

      gatehouse = await gatehouse.restart();
      const afterRestart = await adminEvents(gatehouse, 2);
      receiver.failing = false;
      await eventually(() => receiver.accepted.some((event) => event.seq === afterRestart[1]!.seq), 'the restarted instance drains the backlog');
      assertInOrderOnce(receiver, [...delivered, ...backlog, ...afterRestart], start);
    });

    it('leaves no event behind when the transaction fails after recording one, and delivers none', async () => {
      const resource = await createResource(gatehouse, { resource: 'http://127.0.0.1:1/delivery-rollback', scopes: ['a'], default_scopes: ['a'] });
      const client = await registerClient(gatehouse);
      const first = await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'user-rollback' });
      await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'user-rollback' });
      const start = await latestSeq(gatehouse);
      await eventually(() => receiver.accepted.some((event) => event.seq === start), 'caught up');

      // The first grant's revocation records grant.revoked; the second throws, failing the whole transaction.
      const grants = gatehouse.app.get(GrantRepository);
      const original = grants.revoke.bind(grants);
      let calls = 0;
      grants.revoke = async (...args: Parameters<GrantRepository['revoke']>) => {
        if (++calls === 2) throw new Error('forced failure after the first revocation was recorded');
        return original(...args);
      };
      try {
        const response = await gatehouse.admin('DELETE', `/admin/users/${await grantUserId(gatehouse, first.claims.grant_id)}/grants`);
        assert.equal(response.status, 500);
        assert.equal(calls, 2, 'the failure came after one revocation and its event');
      } finally {
        grants.revoke = original;
      }
      assert.equal(await latestSeq(gatehouse), start, 'no event was committed');
      const revoked = (await gatehouse.db.query(`SELECT count(*)::int AS n FROM grants WHERE user_id = $1 AND revoked_at IS NOT NULL`, [await grantUserId(gatehouse, first.claims.grant_id)])) as Array<{ n: number }>;
      assert.equal(revoked[0]?.n, 0, 'no grant was revoked');
      // A later event is delivered, and nothing from the failed transaction came before it.
      const marker = await adminEvents(gatehouse, 1);
      await eventually(() => receiver.accepted.some((event) => event.seq === marker[0]!.seq), 'the next event is delivered');
      assert.deepEqual(receiver.accepted.filter((event) => event.seq > start).map((event) => event.type), ['admin.resource_created']);
    });

    it('prunes events past retention in batches, but never one a sink has not delivered', async () => {
      const start = await latestSeq(gatehouse);
      const delivered = await adminEvents(gatehouse, 2);
      await eventually(async () => (await deliveryRow(gatehouse, 'webhook')).delivered_seq === delivered[1]!.seq, 'delivered');
      // The idle hooks sink moves its cursor up at most once per poll interval; retention waits for every sink.
      await eventually(async () => (await deliveryRow(gatehouse, 'hooks')).delivered_seq >= delivered[1]!.seq, 'passed by the idle hooks sink');
      receiver.failing = true;
      const pending = await adminEvents(gatehouse, 2);
      await gatehouse.db.query(`UPDATE audit_events SET occurred_at = now() - interval '100 days' WHERE seq > $1`, [start]);

      const retention = gatehouse.app.get(AuditRetention);
      await retention.tick();
      const left = await queryAudit(gatehouse, { cursor: String(start) });
      assert.deepEqual(left.map((event) => event.seq), pending.map((event) => event.seq), 'delivered old events are gone, undelivered ones stay');

      receiver.failing = false;
      await eventually(() => receiver.accepted.some((event) => event.seq === pending[1]!.seq), 'the pending events are delivered');
      await eventually(async () => (await deliveryRow(gatehouse, 'webhook')).delivered_seq === pending[1]!.seq, 'the cursor moved');
      await eventually(async () => (await deliveryRow(gatehouse, 'hooks')).delivered_seq >= pending[1]!.seq, 'the hooks cursor moved');
      await retention.tick();
      assert.deepEqual(await queryAudit(gatehouse, { cursor: String(start) }), [], 'delivered everywhere, they go too');
    });
  });
}

describe('in-process audit hooks', () => {
  let gatehouse: RunningGatehouse;
  const issued: TokenIssuedHookEvent[] = [];
  const revocations: RevocationHookEvent[] = [];

  before(async () => {
    gatehouse = await startGatehouse({
      env: { AUDIT_POLL_INTERVAL_MS: '50' },
      audit: {
        hooks: {
          onTokenIssued: (event) => {
            issued.push(event);
          },
          // A hook that throws is logged and does not stop the others or later events.
          onEvent: () => {
            throw new Error('a broken embedder hook');
          },
        },
      },
    });
  });

  after(async () => {
    await gatehouse?.close();
  });

  it('calls onTokenIssued and onRevocation after commit, with ids only, in order, despite a failing hook', async () => {
    const unsubscribe = gatehouse.app.get(AuditHooks).onRevocation((event) => {
      revocations.push(event);
    });
    const resource = await createResource(gatehouse, { resource: 'http://127.0.0.1:1/hooks', scopes: ['a'], default_scopes: ['a'] });
    const client = await registerClient(gatehouse);
    const minted = await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'user-hooks' });
    const revoked = await gatehouse.admin('DELETE', `/admin/users/${await grantUserId(gatehouse, minted.claims.grant_id)}/grants`);
    assert.deepEqual(revoked.body, { revoked: 1, consents_cleared: 0 });

    await eventually(() => revocations.length === 1, 'the revocation hook was called');
    assert.equal(issued.length, 1);
    assert.equal(issued[0]!.grantType, 'mint');
    assert.equal(issued[0]!.jti, minted.claims.jti);
    assert.equal(issued[0]!.grantId, minted.claims.grant_id);
    assert.equal(issued[0]!.clientId, client.client_id);
    assert.deepEqual(issued[0]!.scopes, ['a']);
    assert.equal(revocations[0]!.type, 'grant.revoked');
    assert.equal(revocations[0]!.grantId, minted.claims.grant_id);
    assert.equal(revocations[0]!.reason, 'revoked_by_admin');
    assert.ok(revocations[0]!.event.seq > issued[0]!.event.seq);
    assert.ok(!JSON.stringify([issued, revocations]).includes(minted.accessToken), 'hooks never see a token');
    unsubscribe();
  });
});
