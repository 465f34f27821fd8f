import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEventV1 } from '../../src/audit/audit-schema.js';
import type { TestClient } from '../support/flows.js';
import { eventually, WebhookReceiver } from '../support/audit.js';
import { adminRequest, spawnGatehouse, waitUntilReady, type GatehouseProcess } from '../support/instances.js';
import { createTestDatabase, postgresUnavailable } from '../support/postgres.js';
import { freePort } from '../support/net.js';
import { seedPglite } from '../support/pglite-template.js';

/**
 * Audit delivery when everything goes wrong at once: the webhook receiver is down (connections refused) while events
 * pile up, comes back, and while it drains the backlog the Gatehouse process is SIGKILLed with one delivery in
 * flight: the receiver stored that event but its answer never left. Once Gatehouse is started again, every event in
 * the outbox reaches the receiver at least once, a redelivery carries the same event id and the same body, and
 * nothing arrives that the outbox does not hold.
 */

/** Events the receiver accepts from the backlog before it holds a delivery's answer back. */
const ACCEPTED_BEFORE_HOLD = 10;
/** Events recorded while the receiver is down, at least. */
const BACKLOG = 30;
const LOAD_WORKERS = 3;
const EVENTS_AFTER_RESTART = 5;

interface Outbox {
  label: string;
  env: Record<string, string>;
}

async function mint(url: string, resourceSecret: string, clientId: string, subject: string): Promise<number> {
  const response = await fetch(`${url}/api/oauth/token/exchange`, {
    method: 'POST',
    headers: { authorization: `Bearer ${resourceSecret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: clientId, subject }),
    signal: AbortSignal.timeout(5000),
  });
  await response.arrayBuffer();
  return response.status;
}

async function failedDeliveries(instance: GatehouseProcess): Promise<number> {
  const metrics = await (await fetch(`${instance.url}/metrics`)).text();
  return Number(/^gatehouse_audit_deliveries_total\{sink="webhook",result="failed"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
}

/** Every event in the outbox, through GET /admin/audit (the embedded database is the running process's alone). */
async function outboxEvents(instance: GatehouseProcess, adminToken: string): Promise<AuditEventV1[]> {
  const events: AuditEventV1[] = [];
  let cursor = '0';
  for (;;) {
    const page = await adminRequest(instance, adminToken, 'GET', `/admin/audit?${new URLSearchParams({ cursor, limit: '500' })}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    events.push(...(page.body.events as AuditEventV1[]));
    if (page.body.next_cursor === null) return events;
    cursor = page.body.next_cursor as string;
  }
}

async function deliverThroughCrash(outbox: Outbox): Promise<void> {
  const receiver = await new WebhookReceiver().start();
  await receiver.stop(); // down from the start: its port refuses connections
  const adminToken = randomBytes(24).toString('hex');
  const issuer = `http://localhost:${await freePort()}`;
  const instances: GatehouseProcess[] = [];
  const start = async (name: string) => {
    const instance = spawnGatehouse(name, {
      ...outbox.env,
      ...receiver.env,
      // Longer than the hold below lasts, so the held delivery is redelivered because of the crash, not a timeout.
      AUDIT_WEBHOOK_TIMEOUT_MS: '60000',
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      ISSUER: issuer,
      ADMIN_TOKEN: adminToken,
      AUDIT_LOG: 'off',
      LOG_LEVEL: 'warn',
      RATE_LIMITS: 'off',
    });
    instances.push(instance);
    await waitUntilReady(instance);
    return instance;
  };
  try {
    const first = await start(`${outbox.label}-first`);
    const resource = await adminRequest(first, adminToken, 'POST', '/admin/resources', { name: 'Audit MCP', resource: 'http://127.0.0.1:1/audit-mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
    assert.equal(resource.status, 201, JSON.stringify(resource.body));
    const registered = await adminRequest(first, adminToken, 'POST', '/admin/clients', { client_name: 'Audit client', redirect_uris: ['http://127.0.0.1:47016/callback'] });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const client = registered.body as TestClient;
    const secret = resource.body.registration_secret as string;

    // Load: mints (one token.issued each) until the process is gone.
    let minted = 0;
    const refusals: number[] = [];
    const load = Array.from({ length: LOAD_WORKERS }, async (_, worker) => {
      for (let i = 0; ; i++) {
        let status: number;
        try {
          status = await mint(first.url, secret, client.client_id, `user-${worker}-${i}`);
        } catch {
          return; // no answer: the process was killed
        }
        if (status === 200) minted++;
        else refusals.push(status);
      }
    });

    await eventually(async () => minted >= BACKLOG && (await failedDeliveries(first)) >= 3, 'a backlog builds while deliveries are refused', 30_000);
    const failedWhileDown = await failedDeliveries(first);
    assert.equal(receiver.requests.length, 0, 'nothing reached the receiver while it was down');

    receiver.holdAfter = ACCEPTED_BEFORE_HOLD;
    await receiver.start();
    await eventually(() => receiver.held > 0, 'the receiver holds a delivery back', 30_000);
    const heldEvent = receiver.requests.at(-1)!.event;
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, null, 'ended by the signal');
    await Promise.all(load);
    assert.deepEqual(refusals, [], 'every mint answered before the kill succeeded');
    const acceptedBeforeKill = receiver.accepted.length;

    receiver.holdAfter = null;
    const second = await start(`${outbox.label}-second`);
    const readyAt = Date.now();
    for (let i = 0; i < EVENTS_AFTER_RESTART; i++) assert.equal(await mint(second.url, secret, client.client_id, `after-${i}`), 200);

    const events = await outboxEvents(second, adminToken);
    const lastSeq = events.at(-1)!.seq;
    await eventually(() => receiver.accepted.some((event) => event.seq === lastSeq), 'the restarted instance delivers the rest', 30_000);
    assert.equal(await second.stop(), 0, second.output());

    const outboxIds = new Set(events.map((event) => event.id));
    const deliveredIds = new Set(receiver.accepted.map((event) => event.id));
    const missing = events.filter((event) => !deliveredIds.has(event.id));
    const invented = receiver.requests.filter((request) => !outboxIds.has(request.event.id));
    const delivered = receiver.requests.filter((request) => request.status === 200);
    const resumedAfterMs = receiver.requests.find((request) => request.receivedAt >= readyAt)!.receivedAt - readyAt;
    console.log(
      `[${outbox.label}] outbox ${events.length} events; refused attempts while down ${failedWhileDown}; accepted before the kill ${acceptedBeforeKill} ` +
        `(the last one's answer withheld); deliveries ${delivered.length}: delivered ${deliveredIds.size}, duplicated ${receiver.duplicates}, ` +
        `missing ${missing.length}, invented ${invented.length}; delivery resumed ${resumedAfterMs} ms after the restart was ready`,
    );

    assert.deepEqual(missing.map((event) => event.seq), [], 'every event in the outbox was delivered');
    assert.deepEqual(invented.map((request) => request.event.seq), [], 'nothing was delivered that the outbox does not hold');
    assert.ok(receiver.requests.every((request) => request.signatureValid && request.idempotencyKey === request.event.id), 'signed, keyed by the event id');
    const heldDeliveries = delivered.filter((request) => request.event.id === heldEvent.id);
    assert.equal(heldDeliveries.length, 2, 'the event whose answer was lost in the crash was delivered again');
    assert.deepEqual(receiver.conflictingDuplicates, [], 'a redelivery carries the body first delivered under its id');
    assert.deepEqual(receiver.accepted, events, 'first deliveries are the outbox as recorded, in seq order');
  } finally {
    for (const instance of instances) instance.kill();
    await Promise.all(instances.map((instance) => instance.exited));
    await receiver.stop();
  }
}

describe('audit webhook delivery through a receiver outage and a Gatehouse crash', () => {
  it('on PostgreSQL: at least once, duplicates keep their id, none missing or invented', { skip: postgresUnavailable() }, async () => {
    const created = await createTestDatabase();
    await deliverThroughCrash({ label: 'postgresql', env: { DATABASE_URL: created.url, ENCRYPTION_KEY: randomBytes(32).toString('hex') } }).finally(() => created.drop());
  });

  const folders: string[] = [];
  after(async () => {
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  });

  it('on the embedded database: the same', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-crash-'));
    folders.push(dataDir);
    await seedPglite(join(dataDir, 'pglite'));
    await deliverThroughCrash({ label: 'embedded', env: { DATA_DIR: dataDir } });
  });
});
