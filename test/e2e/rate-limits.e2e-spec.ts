import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { startGatehouse, createResource, type RunningGatehouse } from '../support/gatehouse.js';
import {
  assertOAuthError,
  auditEvents,
  basicAuthorization,
  mintToken,
  postForm,
  readJson,
  registerClient,
  tokenRequest,
  type JsonResponse,
  type TestClient,
} from '../support/flows.js';
import { eventually } from '../support/audit.js';

async function get(gatehouse: RunningGatehouse, path: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return readJson(await fetch(`${gatehouse.url}${path}`, { headers }));
}

/** A refresh that authenticates the client and then fails on the (unknown) token: spends the client's budget, changes nothing. */
function refreshAttempt(gatehouse: RunningGatehouse, client: TestClient, secret?: string): Promise<JsonResponse> {
  return tokenRequest(gatehouse, { client, secret }, { grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token' });
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
    before(async () => {
      gatehouse = await startGatehouse({ env: { RATE_LIMIT_TOKEN: '3/1m', RATE_LIMIT_MINT: '2/1m', RATE_LIMIT_ADMIN: '3/1m' } });
      alpha = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic' });
      beta = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_post' });
    });
    after(() => gatehouse?.close());

    it('counts two confidential clients behind one address apart, and failed authentication against the address', async () => {
      for (let i = 0; i < 3; i++) assertOAuthError(await refreshAttempt(gatehouse, alpha), 400, 'invalid_grant', `alpha #${i + 1}`);
      assertTooManyRequests(await refreshAttempt(gatehouse, alpha), 'alpha over its budget');
      // Same address, another client that proves itself: a budget of its own.
      for (let i = 0; i < 3; i++) assertOAuthError(await refreshAttempt(gatehouse, beta), 400, 'invalid_grant', `beta #${i + 1}`);
      assertTooManyRequests(await refreshAttempt(gatehouse, beta), 'beta over its budget');
      // Guessing alpha's secret proves nothing: counted against the address, which still has its whole budget...
      for (let i = 0; i < 3; i++) assertOAuthError(await refreshAttempt(gatehouse, alpha, 'wrong-secret'), 401, 'invalid_client', `guess #${i + 1}`);
      // ...until the guesser has spent it. Alpha itself is unaffected by the guesses, and vice versa.
      assertTooManyRequests(await refreshAttempt(gatehouse, alpha, 'wrong-secret'), 'guesses over the address budget');
      const gamma = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic' });
      assertOAuthError(await refreshAttempt(gatehouse, gamma), 400, 'invalid_grant', 'a third client is not held back by the guesser');
    });

    it('counts public clients per client and address, so naming a client from elsewhere cannot spend its budget', async () => {
      const one = await registerClient(gatehouse);
      const two = await registerClient(gatehouse);
      for (let i = 0; i < 3; i++) assertOAuthError(await refreshAttempt(gatehouse, one), 400, 'invalid_grant');
      assertTooManyRequests(await refreshAttempt(gatehouse, one));
      assertOAuthError(await refreshAttempt(gatehouse, two), 400, 'invalid_grant', 'another public client on the same address');
    });

    it('counts resource-server calls by the resource the registration secret proves', async () => {
      const first = await createResource(gatehouse, { resource: 'https://one.example.test/mcp', scopes: ['tools:read'] });
      const second = await createResource(gatehouse, { resource: 'https://two.example.test/mcp', scopes: ['tools:read'] });
      const body = { client_id: alpha.client_id, subject: 'user-1', scopes: ['tools:read'] };
      for (let i = 0; i < 2; i++) assert.equal((await mintToken(gatehouse, first, body)).status, 200);
      assertTooManyRequests(await mintToken(gatehouse, first, body), 'first resource over its budget');
      assert.equal((await mintToken(gatehouse, second, body)).status, 200, 'second resource has its own budget');
      const events = await eventually(async () => {
        const rows = (await gatehouse.db.query(`SELECT actor_kind, actor_id, resource, data FROM audit_events WHERE type = 'rate_limit.exceeded' AND data->>'policy' = 'mint'`)) as { actor_kind: string; actor_id: string; resource: string; data: Record<string, unknown> }[];
        return rows.length > 0 ? rows : undefined;
      }, 'a mint rate_limit.exceeded event');
      assert.deepEqual({ ...events[0], data: undefined }, { actor_kind: 'resource', actor_id: first.resource, resource: first.resource, data: undefined });
    });

    it('keeps the admin token working while wrong admin tokens from the same address are refused with 429', async () => {
      const wrong = { authorization: 'Bearer not-the-admin-token-not-the-admin-token' };
      for (let i = 0; i < 3; i++) assertOAuthError(await get(gatehouse, '/admin/resources', wrong), 401, 'invalid_token');
      assertTooManyRequests(await get(gatehouse, '/admin/resources', wrong), 'guessing the admin token');
      assert.equal((await gatehouse.admin('GET', '/admin/resources')).status, 200, 'the real admin token has its own budget');
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
