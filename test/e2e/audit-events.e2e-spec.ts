import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser } from '../support/browser.js';
import { createResource, MemoryLogger, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import {
  grantUserId,
  authorizationUrl,
  basicAuthorization,
  exchangeCode,
  introspect,
  mintTokens,
  obtainCode,
  postForm,
  refreshTokens,
  registerClient,
  revoke,
  type TestClient,
} from '../support/flows.js';
import { eventually, latestSeq, queryAudit, SseClient, WebhookReceiver } from '../support/audit.js';
import { AuditStreams } from '../../src/audit/audit-stream.js';
import { KeyService } from '../../src/keys/key.service.js';
import type { AuditEventV1 } from '../../src/audit/audit-schema.js';

const RESOURCE = 'http://127.0.0.1:1/audit-mcp';
const SCOPES = ['tools:read', 'tools:execute'];

/** The parts of an event a test pins down exactly (ids, times and seqs vary). */
function shape(event: AuditEventV1): Record<string, unknown> {
  return { type: event.type, actor: event.actor.kind, outcome: event.outcome };
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`audit events (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let github: FakeGithub;
    let receiver: WebhookReceiver;
    let gatehouse: RunningGatehouse;
    let resource: { id: string; resource: string; registration_secret: string };
    let logDir: string;
    const logs = new MemoryLogger();

    before(async () => {
      github = await new FakeGithub().start();
      receiver = await new WebhookReceiver().start();
      logDir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-log-'));
      gatehouse = await startGatehouse({
        database,
        github,
        logger: logs,
        // The reuse attack below comes right after the rotation: strict, or it would be a retry (refresh-grace.e2e-spec.ts).
        env: { ...receiver.env, AUDIT_LOG: join(logDir, 'audit.jsonl'), AUDIT_STREAM_HEARTBEAT_MS: '150', LOG_LEVEL: 'debug', REFRESH_REUSE_GRACE_SECONDS: '0' },
      });
      resource = await createResource(gatehouse, { resource: RESOURCE, scopes: SCOPES, default_scopes: ['tools:read'] });
    });

    after(async () => {
      await gatehouse?.close();
      await receiver?.stop();
      await github?.stop();
      if (logDir) await rm(logDir, { recursive: true, force: true });
    });

    /** A confidential client with the refresh grant, registered over HTTP. */
    function confidentialClient(): Promise<TestClient> {
      return registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic', client_name: 'Audit client' });
    }

    it('a full flow, a refresh, an introspection, a revocation and a reuse attack: exactly these events, in order, in the query API, the SSE stream and the signed webhook', async () => {
      const start = await latestSeq(gatehouse);
      const stream = await SseClient.open(`${gatehouse.url}/admin/audit/stream`, { authorization: `Bearer ${gatehouse.adminToken}`, 'last-event-id': String(start) });
      assert.equal(stream.status, 200);
      assert.match(stream.contentType, /^text\/event-stream/);

      const client = await confidentialClient();
      const obtained = await obtainCode(gatehouse, { client, resource: RESOURCE, scope: SCOPES.join(' ') });
      const issued = await exchangeCode(gatehouse, { client }, obtained, { resource: RESOURCE });
      assert.equal(issued.status, 200, issued.text);
      const firstRefresh = issued.body.refresh_token as string;
      const sub = String(decodeJwt(issued.body.access_token).sub);

      // The refresh sends its own request id and user agent: both must reach the event through the request context.
      const refreshed = await postForm(
        `${gatehouse.url}/token`,
        { grant_type: 'refresh_token', refresh_token: firstRefresh },
        { authorization: basicAuthorization(client.client_id, client.client_secret!), 'x-request-id': 'audit-e2e-refresh-1', 'user-agent': 'AuditTest/1.0' },
      );
      assert.equal(refreshed.status, 200, refreshed.text);
      const secondAccess = refreshed.body.access_token as string;

      const introspected = await introspect(gatehouse, { resource, via: 'bearer' }, secondAccess);
      assert.equal(introspected.body.active, true);
      // token.introspected is written behind (within tens of ms): wait for it, so that the order below is the
      // order of the requests rather than of a race between this write and the revocation's transaction.
      await eventually(async () => (await queryAudit(gatehouse, { cursor: String(start), type: 'token.introspected' })).length === 1, 'the introspection is recorded');
      assert.equal((await revoke(gatehouse, { client }, secondAccess)).status, 200);
      const reuse = await refreshTokens(gatehouse, { client }, firstRefresh);
      assert.equal(reuse.body.error, 'invalid_grant');

      const expected = [
        { type: 'client.registered', actor: 'client', outcome: 'success' },
        { type: 'login.succeeded', actor: 'user', outcome: 'success' },
        { type: 'consent.granted', actor: 'user', outcome: 'success' },
        { type: 'authorization_code.issued', actor: 'user', outcome: 'success' },
        { type: 'token.issued', actor: 'client', outcome: 'success' },
        { type: 'token.refreshed', actor: 'client', outcome: 'success' },
        { type: 'token.introspected', actor: 'resource', outcome: 'active' },
        { type: 'token.revoked', actor: 'client', outcome: 'success' },
        { type: 'refresh_token.reuse_detected', actor: 'client', outcome: 'failure' },
        { type: 'grant.revoked', actor: 'system', outcome: 'success' },
      ];

      // The query API: exactly these, in order, with the schema's fields.
      const events = await queryAudit(gatehouse, { cursor: String(start) });
      assert.deepEqual(events.map(shape), expected);
      for (let i = 1; i < events.length; i++) assert.ok(events[i]!.seq > events[i - 1]!.seq, 'seq strictly increases');
      assert.equal(new Set(events.map((event) => event.id)).size, events.length, 'ids are unique');
      const byType = new Map(events.map((event) => [event.type, event]));
      for (const event of events) {
        assert.equal(event.schema, 1);
        assert.ok(!Number.isNaN(Date.parse(event.time)), 'time is a date');
        assert.ok(event.request_id, `${event.type} carries the request id`);
        assert.match(event.ip ?? '', /127\.0\.0\.1/, `${event.type} carries the caller's address`);
        if (event.type !== 'login.succeeded') assert.equal(event.client_id, client.client_id, `${event.type} names the client`);
        assert.equal(event.subject, event.type === 'client.registered' ? null : sub, `${event.type} names the user`);
      }
      const tokenIssued = byType.get('token.issued')!;
      assert.deepEqual(tokenIssued.scopes, SCOPES);
      assert.equal(tokenIssued.resource, RESOURCE);
      assert.equal(tokenIssued.data.grant_type, 'authorization_code');
      assert.equal(tokenIssued.data.jti, decodeJwt(issued.body.access_token).jti);
      assert.deepEqual(tokenIssued.actor, { kind: 'client', id: client.client_id });
      assert.deepEqual(byType.get('login.succeeded')!.actor, { kind: 'user', id: sub });
      const refreshEvent = byType.get('token.refreshed')!;
      assert.equal(refreshEvent.request_id, 'audit-e2e-refresh-1');
      assert.equal(refreshEvent.user_agent, 'AuditTest/1.0');
      assert.deepEqual(byType.get('token.introspected')!.actor, { kind: 'resource', id: RESOURCE });
      assert.equal(byType.get('token.introspected')!.data.jti, decodeJwt(secondAccess).jti);
      assert.equal(byType.get('token.revoked')!.data.jti, decodeJwt(secondAccess).jti);
      assert.equal(byType.get('grant.revoked')!.data.reason, 'refresh_token_reuse');
      assert.equal(byType.get('grant.revoked')!.data.grant_id, decodeJwt(issued.body.access_token).grant_id);

      // The SSE stream, resumed after `start`: the same events, `id:` = seq.
      await eventually(() => stream.messages.length >= expected.length, 'the stream delivers every event');
      assert.deepEqual(stream.events().map(shape), expected);
      assert.deepEqual(stream.messages.map((message) => message.id), events.map((event) => String(event.seq)));
      assert.deepEqual(stream.events(), events);
      await stream.close();

      // The webhook: the same events, each signed, with its id as idempotency key, once.
      const last = events[events.length - 1]!.seq;
      await eventually(() => receiver.accepted.some((event) => event.seq === last), 'the webhook receives every event');
      const delivered = receiver.accepted.filter((event) => event.seq > start);
      assert.deepEqual(delivered, events);
      assert.ok(receiver.requests.every((request) => request.signatureValid), 'every delivery is signed with the shared secret');
      assert.ok(receiver.requests.every((request) => request.idempotencyKey === request.event.id), 'the idempotency key is the event id');
      assert.equal(receiver.duplicates, 0);

      // The log sink's file: the same events as JSON lines.
      await eventually(async () => (await readFile(join(logDir, 'audit.jsonl'), 'utf8').catch(() => '')).includes(events[events.length - 1]!.id), 'the log sink writes every event');
      const lines = (await readFile(join(logDir, 'audit.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as AuditEventV1);
      assert.deepEqual(lines.filter((event) => event.seq > start), events);
    });

    it('never lets a token, code, client secret, registration token or registration secret into logs, events, webhook bodies or the log file', async () => {
      const start = await latestSeq(gatehouse);
      const client = await confidentialClient();
      const obtained = await obtainCode(gatehouse, { client, resource: RESOURCE });
      const issued = await exchangeCode(gatehouse, { client }, obtained);
      assert.equal(issued.status, 200, issued.text);
      const refreshed = await refreshTokens(gatehouse, { client }, issued.body.refresh_token);
      assert.equal(refreshed.status, 200, refreshed.text);
      const minted = await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'user-audit-grep' });
      await introspect(gatehouse, { client }, refreshed.body.refresh_token);
      await introspect(gatehouse, { resource, via: 'basic' }, minted.accessToken);
      await revoke(gatehouse, { client }, minted.refreshToken);
      // A wrong secret and a garbage token go through error paths, which log too.
      await introspect(gatehouse, { client, secret: `${client.client_secret}x` }, issued.body.access_token);
      await refreshTokens(gatehouse, { client }, issued.body.refresh_token);

      const secrets: Record<string, string> = {
        'access token': issued.body.access_token,
        'refresh token': issued.body.refresh_token,
        'refreshed access token': refreshed.body.access_token,
        'rotated refresh token': refreshed.body.refresh_token,
        'minted access token': minted.accessToken,
        'minted refresh token': minted.refreshToken,
        'authorization code': obtained.code,
        'client secret': client.client_secret!,
        'registration access token': client.registration_access_token!,
        'registration secret': resource.registration_secret,
        'admin token': gatehouse.adminToken,
        'webhook secret': receiver.secret,
      };
      for (const [name, value] of Object.entries(secrets)) assert.ok(typeof value === 'string' && value.length >= 20, `${name} was captured`);

      // The introspections' events are written behind: have them in the haystacks too.
      await eventually(async () => (await queryAudit(gatehouse, { cursor: String(start), type: 'token.introspected' })).length >= 2, 'the introspections are recorded');
      const events = await queryAudit(gatehouse, { cursor: String(start) });
      assert.ok(events.length >= 8, `the flow recorded events (${events.length})`);
      const last = events[events.length - 1]!;
      await eventually(() => receiver.accepted.some((event) => event.seq === last.seq), 'the webhook caught up');
      await eventually(async () => (await readFile(join(logDir, 'audit.jsonl'), 'utf8')).includes(last.id), 'the log file caught up');
      const haystacks: Record<string, string> = {
        logs: logs.lines.join('\n'),
        'audit events': JSON.stringify(await queryAudit(gatehouse)),
        'webhook bodies': JSON.stringify(receiver.requests.map((request) => request.event)),
        'audit log file': await readFile(join(logDir, 'audit.jsonl'), 'utf8'),
      };
      assert.ok(logs.lines.length > 20, 'request logs were captured at debug level');
      for (const [where, text] of Object.entries(haystacks)) {
        for (const [name, value] of Object.entries(secrets)) assert.ok(!text.includes(value), `the ${name} appears in the ${where}`);
      }
    });

    it('records login.failed when GitHub sign-in is cancelled, with the browser’s address', async () => {
      const start = await latestSeq(gatehouse);
      const client = await registerClient(gatehouse);
      github.denyNext = true;
      const built = authorizationUrl(gatehouse.url, { client, resource: RESOURCE });
      const browser = new Browser();
      const page = await browser.navigate(built.url, () => false);
      assert.ok(!('stoppedAt' in page));
      const signIn = /href="([^"]*\/login\/github)"/.exec(page.html)?.[1];
      assert.ok(signIn);
      const result = await browser.navigate(new URL(signIn.replace(/&amp;/g, '&'), page.url).href, () => false);
      assert.ok(!('stoppedAt' in result) && result.status === 400, 'the cancelled sign-in shows an error page');
      const failed = await queryAudit(gatehouse, { cursor: String(start), type: 'login.*' });
      assert.deepEqual(failed.map(shape), [{ type: 'login.failed', actor: 'user', outcome: 'failure' }]);
      assert.deepEqual(failed[0]!.data, { provider: 'github', reason: 'cancelled' });
      assert.match(failed[0]!.ip ?? '', /127\.0\.0\.1/);
    });

    it('names the admin as actor: the admin API as `api`, the signing-key rotation outside any request as `cli`', async () => {
      const start = await latestSeq(gatehouse);
      await createResource(gatehouse, { resource: `${RESOURCE}-admin`, scopes: ['a'] });
      await gatehouse.app.get(KeyService).rotate();
      const events = await queryAudit(gatehouse, { cursor: String(start) });
      assert.deepEqual(
        events.map((event) => [event.type, event.actor]),
        [
          ['admin.resource_created', { kind: 'admin', id: 'api' }],
          ['signing_key.rotated', { kind: 'admin', id: 'cli' }],
        ],
      );
      assert.equal(events[1]!.request_id, null);
      assert.deepEqual(Object.keys(events[1]!.data).sort(), ['active', 'alg', 'next', 'retired']);
    });

    it('filters and pages the query API by type, client, subject, time and cursor, and rejects bad filters', async () => {
      const client = await confidentialClient();
      const first = await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'user-query-1' });
      await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'user-query-2' });
      await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'user-query-3' });

      const issued = await queryAudit(gatehouse, { type: 'token.issued', client_id: client.client_id });
      assert.deepEqual(issued.map((event) => event.data.grant_type), ['mint', 'mint', 'mint']);
      assert.deepEqual(issued.map((event) => event.actor.kind), ['resource', 'resource', 'resource']);
      // Events name the Gatehouse user; a minted token's sub is the product's subject.
      const bySubject = await queryAudit(gatehouse, { sub: await grantUserId(gatehouse, first.claims.grant_id) });
      assert.deepEqual(bySubject.map((event) => event.type), ['token.issued']);
      const prefixed = await queryAudit(gatehouse, { type: 'client.*,token.issued', client_id: client.client_id });
      assert.deepEqual(prefixed.map((event) => event.type), ['client.registered', 'token.issued', 'token.issued', 'token.issued']);

      // Two at a time: three pages, the last one short with no next_cursor.
      const page1 = await gatehouse.admin('GET', `/admin/audit?client_id=${encodeURIComponent(client.client_id)}&limit=2`);
      assert.equal(page1.body.events.length, 2);
      assert.equal(page1.body.next_cursor, String(page1.body.events[1].seq));
      const page2 = await gatehouse.admin('GET', `/admin/audit?client_id=${encodeURIComponent(client.client_id)}&limit=2&cursor=${page1.body.next_cursor}`);
      assert.deepEqual(page2.body.events.map((event: AuditEventV1) => event.type), ['token.issued', 'token.issued']);
      const page3 = await gatehouse.admin('GET', `/admin/audit?client_id=${encodeURIComponent(client.client_id)}&limit=2&cursor=${page2.body.next_cursor}`);
      assert.deepEqual(page3.body, { events: [], next_cursor: null });

      const time = issued[1]!.time;
      const since = await queryAudit(gatehouse, { type: 'token.issued', client_id: client.client_id, since: time });
      assert.deepEqual(since.map((event) => event.seq), issued.slice(1).map((event) => event.seq));
      const until = await queryAudit(gatehouse, { type: 'token.issued', client_id: client.client_id, until: time });
      assert.deepEqual(until.map((event) => event.seq), [issued[0]!.seq]);

      // By resource server and by outcome: the registration names no resource, the mints name this one.
      const byResource = await queryAudit(gatehouse, { client_id: client.client_id, resource: resource.resource });
      assert.deepEqual(byResource.map((event) => event.seq), issued.map((event) => event.seq));
      assert.deepEqual(await queryAudit(gatehouse, { client_id: client.client_id, resource: `${resource.resource}/other` }), []);
      const succeeded = await queryAudit(gatehouse, { client_id: client.client_id, outcome: 'success' });
      assert.deepEqual(succeeded.map((event) => event.type), ['client.registered', 'token.issued', 'token.issued', 'token.issued']);
      assert.deepEqual(await queryAudit(gatehouse, { client_id: client.client_id, outcome: 'failure' }), []);

      for (const [query, message] of [
        ['type=token.nonsense', /unknown event type token.nonsense/],
        ['type=DROP', /type must be/],
        ['since=yesterday', /since must be an ISO 8601/],
        ['limit=0', /limit must be/],
        ['cursor=-1', /cursor must be/],
        ['outcome=maybe', /outcome must be one of success, failure, denied, active, inactive/],
        ['colour=blue', /colour/],
      ] as const) {
        const response = await gatehouse.admin('GET', `/admin/audit?${query}`);
        assert.equal(response.status, 400, query);
        assert.equal(response.body.error, 'invalid_request');
        assert.match(response.body.error_description, message);
      }
      const anonymous = await fetch(`${gatehouse.url}/admin/audit`);
      assert.equal(anonymous.status, 401);
      const anonymousStream = await fetch(`${gatehouse.url}/admin/audit/stream`);
      assert.equal(anonymousStream.status, 401);
    });

    it('streams only new events by default, sends heartbeats when idle, filters by type, and lets go of a client that disconnects', async () => {
      const streams = gatehouse.app.get(AuditStreams);
      const before = streams.size;
      const headers = { authorization: `Bearer ${gatehouse.adminToken}` };
      const all = await SseClient.open(`${gatehouse.url}/admin/audit/stream`, headers);
      const onlyAdmin = await SseClient.open(`${gatehouse.url}/admin/audit/stream?type=admin.*`, headers);
      const byResource = await SseClient.open(`${gatehouse.url}/admin/audit/stream?${new URLSearchParams({ resource: `${RESOURCE}-stream`, outcome: 'success' })}`, headers);
      await eventually(() => streams.size === before + 3, 'the streams are open');
      await eventually(() => all.heartbeats >= 2, 'heartbeats arrive while nothing happens');
      assert.equal(all.messages.length, 0, 'events from before the stream opened are not replayed');

      await registerClient(gatehouse);
      await createResource(gatehouse, { resource: `${RESOURCE}-stream`, scopes: ['a'] });
      await eventually(() => all.messages.length === 2 && onlyAdmin.messages.length === 1 && byResource.messages.length === 1, 'the streams see the new events');
      assert.deepEqual(all.events().map((event) => event.type), ['client.registered', 'admin.resource_created']);
      assert.deepEqual(onlyAdmin.events().map((event) => event.type), ['admin.resource_created']);
      assert.deepEqual(byResource.events().map((event) => [event.type, event.resource]), [['admin.resource_created', `${RESOURCE}-stream`]]);

      // Resuming after the first event with Last-Event-ID gives exactly the second.
      const resumed = await SseClient.open(`${gatehouse.url}/admin/audit/stream`, { ...headers, 'last-event-id': all.messages[0]!.id! });
      await eventually(() => resumed.messages.length === 1, 'the resumed stream replays what followed');
      assert.equal(resumed.messages[0]!.id, all.messages[1]!.id);

      await Promise.all([all.close(), onlyAdmin.close(), byResource.close(), resumed.close()]);
      await eventually(() => streams.size === before, 'the server ends the streams whose clients went away');
    });

    it('serves Prometheus metrics to loopback callers: tokens by grant, OAuth errors by code, latency by route pattern, delivery lag', async () => {
      const client = await confidentialClient();
      await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'user-metrics' });
      await refreshTokens(gatehouse, { client }, 'gh_rt_not-a-real-refresh-token-at-all-0000000000000');
      await fetch(`${gatehouse.url}/register/${encodeURIComponent(client.client_id)}`, { headers: { authorization: `Bearer ${client.registration_access_token}` } });

      const response = await fetch(`${gatehouse.url}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await response.text();
      const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
      assert.ok(value(/^gatehouse_tokens_issued_total\{grant_type="mint"\} (\d+)/m) >= 1, 'minted tokens are counted');
      assert.ok(value(/^gatehouse_tokens_issued_total\{grant_type="authorization_code"\} (\d+)/m) >= 1, 'code exchanges are counted');
      assert.ok(value(/^gatehouse_tokens_issued_total\{grant_type="refresh_token"\} (\d+)/m) >= 1, 'refreshes are counted');
      assert.ok(value(/^gatehouse_oauth_errors_total\{error="invalid_grant",route="\/token"\} (\d+)/m) >= 1, 'invalid_grant at /token is counted');
      assert.match(text, /^gatehouse_http_request_duration_seconds_count\{method="GET",route="\/register\/:clientId",status="200"\} \d+/m);
      assert.match(text, /^gatehouse_audit_delivery_lag_seconds\{sink="webhook"\} [\d.e-]+/m);
      assert.match(text, /^gatehouse_audit_deliveries_total\{sink="webhook",result="delivered"\} \d+/m);
      assert.ok(!text.includes(client.client_id), 'no client id in any label');
      assert.ok(!/route="[^"]*\?/.test(text), 'no query string in any label');
      assert.doesNotMatch(text, /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/, 'no uuid in any label');

      // Relayed through a proxy, the request may come from anywhere: no metrics without METRICS_TOKEN.
      const relayed = await fetch(`${gatehouse.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(relayed.status, 404);
    });
  });
}

describe('metrics with METRICS_TOKEN', () => {
  it('needs the bearer token, compared exactly', async () => {
    const token = 'metrics-token-0123456789-0123456789-abcdef';
    const gatehouse = await startGatehouse({ env: { METRICS_TOKEN: token } });
    try {
      const none = await fetch(`${gatehouse.url}/metrics`);
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm="gatehouse-metrics"/);
      const wrong = await fetch(`${gatehouse.url}/metrics`, { headers: { authorization: `Bearer ${token}x` } });
      assert.equal(wrong.status, 401);
      const right = await fetch(`${gatehouse.url}/metrics`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(right.status, 200);
      assert.match(await right.text(), /gatehouse_http_request_duration_seconds/);
    } finally {
      await gatehouse.close();
    }
  });
});
