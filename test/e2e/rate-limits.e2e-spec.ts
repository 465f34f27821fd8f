import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { startGatehouse, createResource, type RunningGatehouse } from '../support/gatehouse.js';
import {
  assertOAuthError,
  auditEvents,
  basicAuthorization,
  databaseCounts,
  postForm,
  postJson,
  readJson,
  registerClient,
  tokenRequest,
  type JsonResponse,
  type TestClient,
} from '../support/flows.js';
import { eventually } from '../support/audit.js';
import { clientDocument, FakeClientMetadataHost } from '../fakes/client-metadata-host.js';

async function get(gatehouse: RunningGatehouse, path: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return readJson(await fetch(`${gatehouse.url}${path}`, { headers }));
}

/**
 * A refresh that authenticates the client and then fails on the (unknown) token: spends the budgets, changes nothing.
 * `from`: the client address a trusted proxy forwards (the instance must trust loopback as a proxy).
 */
function refreshAttempt(gatehouse: RunningGatehouse, client: TestClient, secret?: string, from?: string): Promise<JsonResponse> {
  return tokenRequest(gatehouse, { client, secret }, { grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token' }, from ? { headers: { 'x-forwarded-for': from } } : {});
}

function assertTooManyRequests(response: JsonResponse, message = ''): number {
  assertOAuthError(response, 429, 'too_many_requests', message);
  const retryAfter = Number(response.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${response.headers.get('retry-after')}`);
  return retryAfter;
}

describe('rate limits', () => {
  describe('shape, audit and reset', () => {
    let gatehouse: RunningGatehouse;
    before(async () => {
      gatehouse = await startGatehouse({ env: { RATE_LIMIT_DISCOVERY: '3/1m', RATE_LIMIT_DEFAULT: '2/1s' } });
    });
    after(() => gatehouse?.close());

    it('answers the request over the budget with an OAuth-shaped 429, Retry-After and RateLimit headers, audited once', async () => {
      for (let i = 0; i < 3; i++) {
        const ok = await get(gatehouse, '/.well-known/oauth-authorization-server');
        assert.equal(ok.status, 200);
        assert.equal(ok.headers.get('ratelimit-policy'), '3;w=60');
        assert.match(ok.headers.get('ratelimit') ?? '', new RegExp(`^limit=3, remaining=${2 - i}, reset=\\d+$`));
      }
      // JWKS is in the same policy: one budget per tracker for the whole policy.
      const refused = await get(gatehouse, '/.well-known/jwks.json');
      const retryAfter = assertTooManyRequests(refused);
      assert.ok(retryAfter <= 60, `Retry-After ${retryAfter}`);
      assert.match(refused.body.error_description, /rate limit exceeded; retry after \d+ s/);
      assert.match(refused.headers.get('ratelimit') ?? '', /^limit=3, remaining=0, reset=\d+$/);
      for (let i = 0; i < 3; i++) assertTooManyRequests(await get(gatehouse, '/.well-known/oauth-authorization-server'));

      const events = await eventually(async () => {
        const rows = await auditEvents(gatehouse, 'rate_limit.exceeded');
        return rows.length > 0 ? rows : undefined;
      }, 'a rate_limit.exceeded event');
      // Let any duplicate writes land before counting.
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await auditEvents(gatehouse, 'rate_limit.exceeded')).length, 1, 'four refused requests, one event');
      assert.deepEqual({ policy: events[0]!.data.policy, tracker: events[0]!.data.tracker }, { policy: 'discovery', tracker: 'ip' });
      const [row] = (await gatehouse.db.query(`SELECT ip FROM audit_events WHERE type = 'rate_limit.exceeded'`)) as { ip: string }[];
      assert.match(row!.ip, /127\.0\.0\.1/);
    });

    it('gives the budget back when the window has passed', async () => {
      assert.equal((await get(gatehouse, '/healthz')).status, 200);
      assert.equal((await get(gatehouse, '/healthz')).status, 200);
      const retryAfter = assertTooManyRequests(await get(gatehouse, '/healthz'));
      assert.equal(retryAfter, 1);
      assert.equal((await get(gatehouse, '/readyz')).status, 429, '/readyz is in the same default policy');
      assert.equal((await get(gatehouse, '/.well-known/oauth-authorization-server')).status, 429, 'discovery was spent by the test before');
      await eventually(async () => (await get(gatehouse, '/healthz')).status === 200, 'the default budget comes back', 5000);
    });
  });

  describe('trackers', () => {
    let gatehouse: RunningGatehouse;
    let alpha: TestClient;
    let beta: TestClient;
    // Each test speaks from addresses of its own (forwarded by a trusted proxy on loopback), so budgets start full.
    before(async () => {
      gatehouse = await startGatehouse({ env: { RATE_LIMIT_TOKEN: '3/1m', RATE_LIMIT_MINT: '2/1m', RATE_LIMIT_ADMIN: '3/1m', RATE_LIMIT_REGISTER: '1000/1m', TRUSTED_PROXIES: 'loopback' } });
      alpha = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic' });
      beta = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_post' });
    });
    after(() => gatehouse?.close());

    it('holds an address to its budget however many client_ids it rotates through, public or confidential', async () => {
      const from = '198.51.100.10';
      const publicClients = await Promise.all([registerClient(gatehouse), registerClient(gatehouse), registerClient(gatehouse), registerClient(gatehouse)]);
      for (const [i, client] of publicClients.slice(0, 3).entries()) assertOAuthError(await refreshAttempt(gatehouse, client, undefined, from), 400, 'invalid_grant', `public client #${i + 1}`);
      assertTooManyRequests(await refreshAttempt(gatehouse, publicClients[3]!, undefined, from), 'a fourth public client_id buys no new budget');
      assertTooManyRequests(await refreshAttempt(gatehouse, alpha, undefined, from), 'nor does a confidential client that proves itself');

      // Confidential clients registered for free are no way around it either.
      const other = '198.51.100.11';
      const confidential = await Promise.all(Array.from({ length: 4 }, () => registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic' })));
      for (const [i, client] of confidential.slice(0, 3).entries()) assertOAuthError(await refreshAttempt(gatehouse, client, undefined, other), 400, 'invalid_grant', `confidential #${i + 1}`);
      assertTooManyRequests(await refreshAttempt(gatehouse, confidential[3]!, undefined, other));
      assertOAuthError(await refreshAttempt(gatehouse, publicClients[3]!, undefined, '198.51.100.12'), 400, 'invalid_grant', 'another address has its own budget');
    });

    it("narrows the address's budget for a caller that proves itself: one client spread over addresses is held to its own", async () => {
      for (let i = 0; i < 2; i++) assertOAuthError(await refreshAttempt(gatehouse, beta, undefined, '198.51.100.20'), 400, 'invalid_grant');
      assertOAuthError(await refreshAttempt(gatehouse, beta, undefined, '198.51.100.21'), 400, 'invalid_grant');
      const refused = await refreshAttempt(gatehouse, beta, undefined, '198.51.100.22');
      assertTooManyRequests(refused, "beta over its own budget, from an address with a whole budget left");
      assert.match(refused.headers.get('ratelimit') ?? '', /^limit=3, remaining=0, reset=\d+$/);
      // The addresses it used keep what beta left them; the headers name the narrower budget.
      const gamma = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic' });
      const allowed = await refreshAttempt(gatehouse, gamma, undefined, '198.51.100.21');
      assertOAuthError(allowed, 400, 'invalid_grant');
      assert.match(allowed.headers.get('ratelimit') ?? '', /^limit=3, remaining=1, reset=\d+$/, 'the address had spent one on beta');
      const events = await eventually(async () => {
        const rows = (await gatehouse.db.query(`SELECT actor_kind, actor_id, client_id, ip, data FROM audit_events WHERE type = 'rate_limit.exceeded' AND client_id = $1`, [beta.client_id])) as Array<Record<string, unknown>>;
        return rows.length > 0 ? rows : undefined;
      }, "beta's rate_limit.exceeded event");
      assert.deepEqual(events[0], { actor_kind: 'client', actor_id: beta.client_id, client_id: beta.client_id, ip: '198.51.100.22', data: { policy: 'token', tracker: 'client', retry_after: (events[0]!.data as { retry_after: number }).retry_after } });
    });

    it('holds the client credentials grant to the same token budget, per client', async () => {
      const machine = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] });
      const attempt = (from: string) => tokenRequest(gatehouse, { client: machine }, { grant_type: 'client_credentials' }, { headers: { 'x-forwarded-for': from } });
      // Not allowed by an administrator: refused, and counted all the same.
      for (let i = 0; i < 3; i++) assertOAuthError(await attempt(`198.51.100.6${i}`), 400, 'unauthorized_client', `attempt #${i + 1}`);
      assertTooManyRequests(await attempt('198.51.100.63'), 'the client over its budget, from an address with a whole budget left');
    });

    it('counts failed authentication against the address only: guessing a secret spends the guesser’s budget, not the client’s', async () => {
      const guesser = '198.51.100.30';
      for (let i = 0; i < 3; i++) assertOAuthError(await refreshAttempt(gatehouse, alpha, 'wrong-secret', guesser), 401, 'invalid_client', `guess #${i + 1}`);
      assertTooManyRequests(await refreshAttempt(gatehouse, alpha, 'wrong-secret', guesser), 'guesses over the address budget');
      assertTooManyRequests(await refreshAttempt(gatehouse, alpha, undefined, guesser), 'the real secret from that address too: the address is spent');
      assertOAuthError(await refreshAttempt(gatehouse, alpha, undefined, '198.51.100.31'), 400, 'invalid_grant', 'alpha elsewhere is untouched by the guesses');
    });

    it('counts resource-server calls by the resource the registration secret proves, inside the address budget', async () => {
      const first = await createResource(gatehouse, { resource: 'https://one.example.test/mcp', scopes: ['tools:read'] });
      const second = await createResource(gatehouse, { resource: 'https://two.example.test/mcp', scopes: ['tools:read'] });
      const body = { client_id: alpha.client_id, subject: 'user-1', scopes: ['tools:read'] };
      const mintFrom = (resource: typeof first, from: string) =>
        postJson(`${gatehouse.url}/api/oauth/token/exchange`, body, { authorization: `Bearer ${resource.registration_secret}`, 'x-forwarded-for': from });
      assert.equal((await mintFrom(first, '198.51.100.40')).status, 200);
      assert.equal((await mintFrom(first, '198.51.100.41')).status, 200);
      assertTooManyRequests(await mintFrom(first, '198.51.100.42'), 'first resource over its budget, whatever the address');
      assert.equal((await mintFrom(second, '198.51.100.42')).status, 200, 'second resource has its own budget');
      assertTooManyRequests(await mintFrom(second, '198.51.100.42'), "and shares the address's, spent by the first resource's refused call and its own");
      const events = await eventually(async () => {
        const rows = (await gatehouse.db.query(`SELECT actor_kind, actor_id, resource, data->>'tracker' AS tracker FROM audit_events WHERE type = 'rate_limit.exceeded' AND data->>'policy' = 'mint' ORDER BY seq`)) as Array<Record<string, unknown>>;
        return rows.length > 1 ? rows : undefined;
      }, 'the mint rate_limit.exceeded events');
      assert.deepEqual(events[0], { actor_kind: 'resource', actor_id: first.resource, resource: first.resource, tracker: 'resource' });
      assert.deepEqual(events[1], { actor_kind: 'client', actor_id: null, resource: null, tracker: 'ip' });
    });

    it('refuses wrong admin tokens once the address has spent its budget, while the admin token elsewhere keeps working', async () => {
      const wrong = { authorization: 'Bearer not-the-admin-token-not-the-admin-token', 'x-forwarded-for': '198.51.100.50' };
      for (let i = 0; i < 3; i++) assertOAuthError(await get(gatehouse, '/admin/resources', wrong), 401, 'invalid_token');
      assertTooManyRequests(await get(gatehouse, '/admin/resources', wrong), 'guessing the admin token');
      assert.equal((await gatehouse.admin('GET', '/admin/resources')).status, 200, 'the admin token from another address');
    });
  });

  describe('a refused request costs nothing', () => {
    let gatehouse: RunningGatehouse;
    let host: FakeClientMetadataHost;
    before(async () => {
      host = await new FakeClientMetadataHost().start();
      gatehouse = await startGatehouse({ env: { ...host.env, RATE_LIMIT_TOKEN: '2/1m', RATE_LIMIT_AUTHORIZE: '2/1m' } });
    });
    after(async () => {
      await gatehouse?.close();
      await host?.stop();
    });

    it('fetches no metadata document and writes nothing but one event per policy for requests over the address budget', async () => {
      // Within the budget, a metadata document URL as client_id is fetched (the control for the count below).
      const control = '/clients/control.json';
      host.serveDocument(control, clientDocument(host.url(control), { redirect_uris: ['http://127.0.0.1:9/callback'] }));
      assertOAuthError(await postForm(`${gatehouse.url}/token`, { grant_type: 'refresh_token', refresh_token: 'x', client_id: host.url(control) }), 400, 'invalid_grant');
      assert.equal(host.count(control), 1, 'within the budget the document is fetched');
      // Spend the rest of both budgets.
      assertOAuthError(await postForm(`${gatehouse.url}/token`, { grant_type: 'refresh_token', refresh_token: 'x', client_id: 'nobody' }), 401, 'invalid_client');
      for (let i = 0; i < 2; i++) assert.equal((await fetch(`${gatehouse.url}/authorize`, { redirect: 'manual' })).status, 400);

      const before = await databaseCounts(gatehouse);
      const paths: string[] = [];
      for (let i = 0; i < 10; i++) {
        const path = `/clients/rotating-${i}.json`;
        const url = host.url(path);
        host.serveDocument(path, clientDocument(url, { redirect_uris: ['http://127.0.0.1:9/callback'] }));
        paths.push(path);
        assertTooManyRequests(await postForm(`${gatehouse.url}/token`, { grant_type: 'refresh_token', refresh_token: 'x', client_id: url }), `token #${i + 1}`);
        const query = new URLSearchParams({ client_id: url, response_type: 'code', redirect_uri: 'http://127.0.0.1:9/callback', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGF0jAw-cM', code_challenge_method: 'S256' });
        assert.equal((await fetch(`${gatehouse.url}/authorize?${query}`, { redirect: 'manual' })).status, 429, `authorize #${i + 1}`);
      }
      assert.deepEqual(paths.map((path) => host.count(path)), Array(10).fill(0), 'no document fetched for a refused request');
      const events = await eventually(async () => {
        const rows = (await gatehouse.db.query(`SELECT type, data->>'policy' AS policy FROM audit_events WHERE type = 'rate_limit.exceeded' ORDER BY seq`)) as Array<{ type: string; policy: string }>;
        return rows.length >= 2 ? rows : undefined;
      }, 'one rate_limit.exceeded per policy');
      assert.deepEqual(events.map((row) => row.policy).sort(), ['authorize', 'token']);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const after = await databaseCounts(gatehouse);
      assert.deepEqual(after, { ...before, audit_events: before.audit_events! + 2 }, 'nothing written but the two events');
    });
  });

  describe('client addresses and proxies', () => {
    it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
      const gatehouse = await startGatehouse({ env: { RATE_LIMIT_DEFAULT: '2/1m' } });
      try {
        assert.equal((await get(gatehouse, '/healthz', { 'x-forwarded-for': '198.51.100.1' })).status, 200);
        assert.equal((await get(gatehouse, '/healthz', { 'x-forwarded-for': '198.51.100.2' })).status, 200);
        assertTooManyRequests(await get(gatehouse, '/healthz', { 'x-forwarded-for': '198.51.100.3' }), 'a new forwarded address does not buy a new budget');
        const [row] = await eventually(async () => {
          const rows = (await gatehouse.db.query(`SELECT ip FROM audit_events WHERE type = 'rate_limit.exceeded'`)) as { ip: string }[];
          return rows.length > 0 ? rows : undefined;
        }, 'the event');
        assert.doesNotMatch(row!.ip, /198\.51\.100/, 'the audit records the peer, not the spoofed header');
      } finally {
        await gatehouse.close();
      }
    });

    it('believes X-Forwarded-For from a trusted proxy: each forwarded client has its own budget and is the audited address', async () => {
      const gatehouse = await startGatehouse({ env: { RATE_LIMIT_DEFAULT: '2/1m', TRUSTED_PROXIES: 'loopback' } });
      try {
        const from = (ip: string) => ({ 'x-forwarded-for': ip });
        assert.equal((await get(gatehouse, '/healthz', from('198.51.100.1'))).status, 200);
        assert.equal((await get(gatehouse, '/healthz', from('198.51.100.1'))).status, 200);
        assertTooManyRequests(await get(gatehouse, '/healthz', from('198.51.100.1')));
        assert.equal((await get(gatehouse, '/healthz', from('198.51.100.2'))).status, 200, 'another client behind the proxy');
        // A client cannot escape by prepending its own X-Forwarded-For: the proxy appends the real address last.
        assertTooManyRequests(await get(gatehouse, '/healthz', from('203.0.113.9, 198.51.100.1')), 'spoofed hop before the real one');
        const [row] = await eventually(async () => {
          const rows = (await gatehouse.db.query(`SELECT ip FROM audit_events WHERE type = 'rate_limit.exceeded' ORDER BY seq LIMIT 1`)) as { ip: string }[];
          return rows.length > 0 ? rows : undefined;
        }, 'the event');
        assert.equal(row!.ip, '198.51.100.1');
        // IPv6 clients are counted per /64.
        assert.equal((await get(gatehouse, '/healthz', from('2001:db8:1:2::1'))).status, 200);
        assert.equal((await get(gatehouse, '/healthz', from('2001:db8:1:2::ffff'))).status, 200);
        assertTooManyRequests(await get(gatehouse, '/healthz', from('2001:db8:1:2:abcd::7')), 'same /64');
        assert.equal((await get(gatehouse, '/healthz', from('2001:db8:1:3::1'))).status, 200, 'another /64');
      } finally {
        await gatehouse.close();
      }
    });
  });

  it('switches off with RATE_LIMITS=off, and one policy with RATE_LIMIT_<POLICY>=off', async () => {
    const off = await startGatehouse({ env: { RATE_LIMITS: 'off', RATE_LIMIT_DEFAULT: '1/1m' } });
    const one = await startGatehouse({ env: { RATE_LIMIT_DEFAULT: 'off', RATE_LIMIT_DISCOVERY: '1/1m' } });
    try {
      for (let i = 0; i < 5; i++) {
        const response = await get(off, '/healthz');
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('ratelimit'), null);
      }
      for (let i = 0; i < 5; i++) assert.equal((await get(one, '/healthz')).status, 200);
      assert.equal((await get(one, '/.well-known/jwks.json')).status, 200);
      assertTooManyRequests(await get(one, '/.well-known/jwks.json'));
    } finally {
      await Promise.all([off.close(), one.close()]);
    }
  });

  it('limits a flood of bad client credentials without writing anything but one audit event', async () => {
    const gatehouse = await startGatehouse({ env: { RATE_LIMIT_TOKEN: '5/1m' } });
    try {
      const before = await gatehouse.count('audit_events');
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) {
        const response = await postForm(`${gatehouse.url}/token`, { grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basicAuthorization('no-such-client', 'secret') });
        statuses.push(response.status);
      }
      assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(15).fill(429)]);
      await eventually(async () => (await gatehouse.count('audit_events')) === before + 1, 'the rate_limit.exceeded event');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await gatehouse.count('audit_events'), before + 1, 'and nothing else');
    } finally {
      await gatehouse.close();
    }
  });
});
