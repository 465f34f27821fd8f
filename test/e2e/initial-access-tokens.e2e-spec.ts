import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { assertOAuthError, auditEvents, databaseCounts, postJson, storageHash, type JsonResponse } from '../support/flows.js';
import { runCli } from '../support/processes.js';
import { seedPglite } from '../support/pglite-template.js';

/** Initial access tokens (RFC 7591 §3): the admin API and CLI that issue them, and POST /register that spends them. */
const METADATA = { client_name: 'Fleet client', redirect_uris: ['http://127.0.0.1:40555/callback'], token_endpoint_auth_method: 'none' };
const RATE = { RATE_LIMIT_REGISTER: '10000/1m' };

function register(gatehouse: RunningGatehouse, headers: Record<string, string> = {}, metadata: Record<string, unknown> = METADATA): Promise<JsonResponse> {
  return postJson(`${gatehouse.url}/register`, metadata, headers);
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface TokenAnswer {
  id: string;
  token: string;
  description: string | null;
  max_registrations: number | null;
  registrations: number;
  status: string;
  expires_at: string | null;
  created_at: string;
  revoked_at: string | null;
}

async function createToken(gatehouse: RunningGatehouse, body: Record<string, unknown> = {}): Promise<TokenAnswer> {
  const created = await gatehouse.admin('POST', '/admin/initial-access-tokens', body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body as TokenAnswer;
}

async function listed(gatehouse: RunningGatehouse, id: string): Promise<Record<string, unknown>> {
  const list = await gatehouse.admin('GET', '/admin/initial-access-tokens');
  assert.equal(list.status, 200);
  const entry = (list.body as Array<Record<string, unknown>>).find((token) => token.id === id);
  assert.ok(entry, `token ${id} is listed`);
  return entry;
}

/** Everything a registration could write, including the tokens' use counts. */
async function snapshot(gatehouse: RunningGatehouse): Promise<Record<string, unknown>> {
  const uses = (await gatehouse.db.query('SELECT id, registrations FROM initial_access_tokens ORDER BY id')) as unknown[];
  return { ...(await databaseCounts(gatehouse)), uses };
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`initial access tokens required (DCR_REQUIRE_INITIAL_ACCESS_TOKEN=true, ${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let gatehouse: RunningGatehouse;
    before(async () => {
      gatehouse = await startGatehouse({ database, env: { DCR_REQUIRE_INITIAL_ACCESS_TOKEN: 'true', ...RATE } });
    });
    after(async () => {
      await gatehouse?.close();
    });

    it('refuses a registration without a valid token with 401 invalid_token and a Bearer challenge, before reading it, writing nothing', async () => {
      const before = await snapshot(gatehouse);
      const none = await register(gatehouse);
      assertOAuthError(none, 401, 'invalid_token');
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      // The token is checked first: invalid metadata without a token is still a 401.
      assertOAuthError(await register(gatehouse, {}, { redirect_uris: 'nope' }), 401, 'invalid_token');
      assertOAuthError(await register(gatehouse, { authorization: 'Basic dXNlcjpwYXNz' }), 401, 'invalid_token');
      const wrong = await register(gatehouse, bearer(`gh_iat_${'x'.repeat(43)}`));
      assertOAuthError(wrong, 401, 'invalid_token');
      assert.equal(wrong.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      assert.deepEqual(await snapshot(gatehouse), before);
    });

    it('issues a token once (stored as its SHA-256), lists it without the token, and counts the registrations it makes', async () => {
      const created = await createToken(gatehouse, { description: 'CI runners', max_registrations: 2, expires_in: 3600 });
      assert.match(created.token, /^gh_iat_[A-Za-z0-9_-]{43}$/);
      assert.equal(created.description, 'CI runners');
      assert.equal(created.max_registrations, 2);
      assert.equal(created.registrations, 0);
      assert.equal(created.status, 'active');
      assert.ok(Math.abs(Date.parse(created.expires_at!) - Date.now() - 3600_000) < 60_000);
      const rows = (await gatehouse.db.query('SELECT * FROM initial_access_tokens WHERE id = $1', [created.id])) as Array<Record<string, unknown>>;
      assert.equal(rows[0]?.token_hash, storageHash(created.token));
      assert.ok(!JSON.stringify(rows).includes(created.token), 'the token itself is not stored');
      const entry = await listed(gatehouse, created.id);
      assert.equal(entry.token, undefined, 'never shown again');
      assert.equal(entry.registrations, 0);

      const first = await register(gatehouse, bearer(created.token));
      assert.equal(first.status, 201, first.text);
      const second = await register(gatehouse, bearer(created.token));
      assert.equal(second.status, 201, second.text);
      const recorded = (await gatehouse.db.query('SELECT initial_access_token_id FROM clients WHERE id = ANY($1::text[])', [[first.body.client_id, second.body.client_id]])) as Array<{ initial_access_token_id: string }>;
      assert.deepEqual(recorded.map((row) => row.initial_access_token_id), [created.id, created.id], 'each client records the token that registered it');
      const registered = (await auditEvents(gatehouse, 'client.registered')).filter((event) => event.data.initial_access_token_id === created.id);
      assert.equal(registered.length, 2);
      assert.deepEqual({ registrations: (await listed(gatehouse, created.id)).registrations, status: (await listed(gatehouse, created.id)).status }, { registrations: 2, status: 'used_up' });

      // Used up: refused, and nothing written (not even a use).
      const before = await snapshot(gatehouse);
      assertOAuthError(await register(gatehouse, bearer(created.token)), 401, 'invalid_token');
      assert.deepEqual(await snapshot(gatehouse), before);
    });

    it('refuses expired and revoked tokens; revoking is audited once and leaves the clients it registered', async () => {
      const token = await createToken(gatehouse, { description: 'to revoke' });
      assert.equal(token.max_registrations, null);
      assert.equal(token.expires_at, null);
      const client = await register(gatehouse, bearer(token.token));
      assert.equal(client.status, 201);

      const revoked = await gatehouse.admin('DELETE', `/admin/initial-access-tokens/${token.id}`);
      assert.equal(revoked.status, 204);
      const entry = await listed(gatehouse, token.id);
      assert.equal(entry.status, 'revoked');
      assert.ok(typeof entry.revoked_at === 'string');
      assert.equal((await gatehouse.admin('DELETE', `/admin/initial-access-tokens/${token.id}`)).status, 204, 'revoking again is harmless');
      const events = (await auditEvents(gatehouse, 'admin.initial_access_token_revoked')).filter((event) => event.data.initial_access_token_id === token.id);
      assert.equal(events.length, 1);

      const before = await snapshot(gatehouse);
      assertOAuthError(await register(gatehouse, bearer(token.token)), 401, 'invalid_token');
      assert.deepEqual(await snapshot(gatehouse), before);
      const configuration = await fetch(`${gatehouse.url}/register/${String(client.body.client_id)}`, { headers: bearer(String(client.body.registration_access_token)) });
      assert.equal(configuration.status, 200, 'a client registered with a revoked token keeps working');

      const expiring = await createToken(gatehouse, { expires_in: 60 });
      await gatehouse.db.query(`UPDATE initial_access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [expiring.id]);
      assertOAuthError(await register(gatehouse, bearer(expiring.token)), 401, 'invalid_token');
      assert.equal((await listed(gatehouse, expiring.id)).status, 'expired');

      assert.equal((await gatehouse.admin('DELETE', '/admin/initial-access-tokens/00000000-0000-4000-8000-000000000000')).status, 404);
      assert.equal((await gatehouse.admin('DELETE', '/admin/initial-access-tokens/not-a-uuid')).status, 404);
    });

    it('audits creation with the id and never the token', async () => {
      const token = await createToken(gatehouse, { description: 'audited', max_registrations: 5 });
      const events = (await auditEvents(gatehouse, 'admin.initial_access_token_created')).filter((event) => event.data.initial_access_token_id === token.id);
      assert.equal(events.length, 1);
      assert.equal(events[0]?.data.max_registrations, 5);
      const all = JSON.stringify(await gatehouse.db.query('SELECT * FROM audit_events'));
      assert.ok(!all.includes(token.token));
    });

    it('validates the admin input strictly and requires the admin token', async () => {
      for (const body of [{ surprise: 1 }, { max_registrations: 0 }, { max_registrations: 1.5 }, { expires_in: 10 }, { expires_in: 40_000_000 }, { description: '' }, { description: 7 }]) {
        const answer = await gatehouse.admin('POST', '/admin/initial-access-tokens', body);
        assert.equal(answer.status, 400, JSON.stringify(body));
        assert.equal(answer.body.error, 'invalid_request');
      }
      assert.equal((await fetch(`${gatehouse.url}/admin/initial-access-tokens`)).status, 401);
      assert.equal((await fetch(`${gatehouse.url}/admin/initial-access-tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 401);
    });
  });

  describe(`initial access tokens optional (default, ${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let gatehouse: RunningGatehouse;
    before(async () => {
      gatehouse = await startGatehouse({ database, env: RATE });
    });
    after(async () => {
      await gatehouse?.close();
    });

    it('registers without a token, records a valid one, and refuses an invalid one that is presented', async () => {
      const open = await register(gatehouse);
      assert.equal(open.status, 201, open.text);
      const token = await createToken(gatehouse);
      const withToken = await register(gatehouse, bearer(token.token));
      assert.equal(withToken.status, 201);
      const rows = (await gatehouse.db.query('SELECT initial_access_token_id FROM clients WHERE id = $1', [withToken.body.client_id])) as Array<{ initial_access_token_id: string | null }>;
      assert.equal(rows[0]?.initial_access_token_id, token.id);

      const before = await snapshot(gatehouse);
      const wrong = await register(gatehouse, bearer('gh_iat_not-a-real-token'));
      assertOAuthError(wrong, 401, 'invalid_token');
      assert.equal(wrong.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      assert.deepEqual(await snapshot(gatehouse), before);
    });
  });
}

describe('initial access tokens under concurrent registrations (postgres)', { skip: postgresUnavailable() }, () => {
  let gatehouse: RunningGatehouse;
  before(async () => {
    gatehouse = await startGatehouse({ database: 'postgres', env: { DCR_REQUIRE_INITIAL_ACCESS_TOKEN: 'true', ...RATE } });
  });
  after(async () => {
    await gatehouse?.close();
  });

  it('a token with three uses registers exactly three of many simultaneous requests', async () => {
    const token = await createToken(gatehouse, { max_registrations: 3 });
    const answers = await Promise.all(Array.from({ length: 20 }, () => register(gatehouse, bearer(token.token))));
    const statuses = answers.map((answer) => answer.status);
    assert.equal(statuses.filter((status) => status === 201).length, 3, statuses.join(' '));
    assert.equal(statuses.filter((status) => status === 401).length, 17);
    const rows = (await gatehouse.db.query('SELECT registrations FROM initial_access_tokens WHERE id = $1', [token.id])) as Array<{ registrations: number }>;
    assert.equal(rows[0]?.registrations, 3);
    assert.equal(await gatehouse.count('clients'), 3);
  });
});

describe('initial access tokens from the CLI', () => {
  let dataDir: string;
  let env: Record<string, string>;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-iat-cli-'));
    await seedPglite(join(dataDir, 'pglite'));
    env = { DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates (printing the token once), lists and revokes', async () => {
    const created = await runCli(['initial-access-tokens', 'create', '--description', 'From the CLI', '--max-registrations', '10', '--expires-in', '86400'], env);
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout) as TokenAnswer;
    assert.match(token.token, /^gh_iat_/);
    assert.equal(token.max_registrations, 10);
    assert.equal(token.description, 'From the CLI');

    const list = JSON.parse((await runCli(['initial-access-tokens', 'list'], env)).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(list.map((entry) => [entry.id, entry.status, entry.token]), [[token.id, 'active', undefined]]);

    const revoked = await runCli(['initial-access-tokens', 'revoke', token.id], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((JSON.parse(revoked.stdout) as { status: string }).status, 'revoked');

    // Refused while the command line is parsed: a usage error (exit 2) naming the option, before anything opens.
    const invalid = await runCli(['initial-access-tokens', 'create', '--max-registrations', 'zero'], env);
    assert.equal(invalid.code, 2, invalid.stderr);
    assert.match(invalid.stderr, /--max-registrations/);
    const missing = await runCli(['initial-access-tokens', 'revoke'], env);
    assert.equal(missing.code, 2);
  });
});
