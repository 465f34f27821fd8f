import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { RecordCache } from '../../src/database/record-cache.js';

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const json = (body: unknown, extra: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...extra },
  body: JSON.stringify(body),
});

describe('dynamic client registration (RFC 7591) and client configuration (RFC 7592)', () => {
  let gatehouse: RunningGatehouse;
  before(async () => {
    gatehouse = await startGatehouse();
  });
  after(async () => {
    await gatehouse?.close();
  });

  it('registers a confidential client by default, returns its secret once, stores only hashes, and drops unknown metadata', async () => {
    const answer = await call(`${gatehouse.url}/register`, json({ client_name: 'Confidential', redirect_uris: ['https://app.example.com/cb'], surprise: '<b>x</b>', jwks_uri_extra: 1 }));
    assert.equal(answer.status, 201);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    const body = answer.body;
    assert.equal(body.token_endpoint_auth_method, 'client_secret_basic', 'RFC 7591 §2 default');
    assert.deepEqual(body.grant_types, ['authorization_code'], 'RFC 7591 §2 default');
    assert.deepEqual(body.response_types, ['code']);
    assert.match(String(body.client_secret), /^gh_cs_[A-Za-z0-9_-]{43}$/);
    assert.equal(body.client_secret_expires_at, 0);
    assert.equal(typeof body.client_id_issued_at, 'number');
    assert.equal(body.surprise, undefined, 'unknown metadata is not echoed');
    assert.equal(body.registration_client_uri, `${gatehouse.url}/register/${String(body.client_id)}`);

    const rows = (await gatehouse.db.query('SELECT secret_hash, registration_token_hash, metadata FROM clients WHERE id = $1', [body.client_id])) as Array<{
      secret_hash: string;
      registration_token_hash: string;
      metadata: Record<string, unknown>;
    }>;
    const row = rows[0]!;
    assert.equal(row.secret_hash, createHash('sha256').update(String(body.client_secret)).digest('base64url'));
    assert.equal(row.registration_token_hash, createHash('sha256').update(String(body.registration_access_token)).digest('base64url'));
    assert.equal(row.metadata.surprise, undefined, 'unknown metadata is not stored');
  });

  it('reads, updates and deletes the registration with the registration access token only', async () => {
    const registered = (await call(`${gatehouse.url}/register`, json({ client_name: 'Public', redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' }))).body;
    assert.equal(registered.client_secret, undefined, 'public clients get no secret');
    const uri = String(registered.registration_client_uri);
    const bearer = { authorization: `Bearer ${String(registered.registration_access_token)}` };

    const read = await call(uri, { headers: bearer });
    assert.equal(read.status, 200);
    assert.equal(read.body.client_name, 'Public');
    assert.equal(read.body.registration_access_token, undefined, 'the token is shown only at registration');

    const wrong = await call(uri, { headers: { authorization: 'Bearer gh_rat_not-the-token' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_token');
    assert.match(wrong.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
    assert.equal((await call(uri)).status, 401);

    const updated = await call(uri, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...bearer },
      body: JSON.stringify({ client_id: registered.client_id, client_name: 'Renamed', redirect_uris: ['http://127.0.0.1/other'], token_endpoint_auth_method: 'none' }),
    });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.client_name, 'Renamed');
    assert.deepEqual(updated.body.redirect_uris, ['http://127.0.0.1/other']);

    const mismatched = await call(uri, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...bearer },
      body: JSON.stringify({ client_id: 'someone-else', redirect_uris: ['http://127.0.0.1/cb'] }),
    });
    assert.equal(mismatched.status, 400);
    assert.equal(mismatched.body.error, 'invalid_client_metadata');

    const deleted = await fetch(uri, { method: 'DELETE', headers: bearer });
    assert.equal(deleted.status, 204);
    assert.equal((await call(uri, { headers: bearer })).status, 401, 'a deleted client has no configuration endpoint');

    // A deleted client is unknown at the token endpoint: 401 invalid_client, so MCP clients re-register.
    const token = await call(`${gatehouse.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: String(registered.client_id) }).toString(),
    });
    assert.equal(token.status, 401);
    assert.equal(token.body.error, 'invalid_client');
  });

  it('rejects invalid metadata precisely and writes nothing', async () => {
    const before = await gatehouse.count('clients');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, 'invalid_redirect_uri'],
      [{ redirect_uris: 'https://a.example.com/cb' }, 'invalid_redirect_uri'],
      [{ redirect_uris: ['https://a.example.com/cb'], token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
      [{ redirect_uris: ['https://a.example.com/cb'], grant_types: ['implicit'] }, 'invalid_client_metadata'],
      // client_credentials is for confidential clients; alone, it makes a client that redirects nowhere.
      [{ redirect_uris: ['https://a.example.com/cb'], grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'none' }, 'invalid_client_metadata'],
      [{ redirect_uris: ['https://a.example.com/cb'], grant_types: ['client_credentials'] }, 'invalid_redirect_uri'],
      [{ redirect_uris: ['https://a.example.com/cb'], response_types: ['token'] }, 'invalid_client_metadata'],
      [{ redirect_uris: ['https://a.example.com/cb'], logo_uri: 'javascript:alert(1)' }, 'invalid_client_metadata'],
      [{ redirect_uris: ['https://a.example.com/cb'], client_name: 'x'.repeat(201) }, 'invalid_client_metadata'],
      [{ redirect_uris: ['https://a.example.com/cb'], jwks_uri: 'https://a.example.com/jwks' }, 'invalid_client_metadata'],
    ];
    for (const [metadata, error] of cases) {
      const answer = await call(`${gatehouse.url}/register`, json(metadata));
      assert.equal(answer.status, 400, JSON.stringify(metadata));
      assert.equal(answer.body.error, error, JSON.stringify(metadata));
      assert.equal(answer.headers.get('cache-control'), 'no-store');
    }
    const form = await call(`${gatehouse.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'redirect_uris=https://a.example.com/cb',
    });
    assert.equal(form.status, 400);
    assert.equal(form.body.error, 'invalid_request');
    assert.equal(await gatehouse.count('clients'), before);
  });

});

describe('application_type (OIDC Registration §2, MCP client registration)', () => {
  let gatehouse: RunningGatehouse;
  before(async () => {
    // Many registrations from one address: the /register rate limit is not what this suite is about.
    gatehouse = await startGatehouse({ env: { RATE_LIMIT_REGISTER: 'off' } });
  });
  after(async () => {
    await gatehouse?.close();
  });
  const register = (metadata: Record<string, unknown>) => call(`${gatehouse.url}/register`, json({ token_endpoint_auth_method: 'none', ...metadata }));

  it('keeps native and web, stores them, and returns them from the registration, RFC 7592 reads and the admin API', async () => {
    const native = await register({
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1:33418/cb', 'http://[::1]/cb', 'http://localhost/cb', 'com.example.app:/oauth', 'cursor://anysphere.cursor/cb', 'https://vscode.dev/redirect'],
    });
    assert.equal(native.status, 201, JSON.stringify(native.body));
    assert.equal(native.body.application_type, 'native');
    const web = await register({ application_type: 'web', redirect_uris: ['https://app.example.com/cb'] });
    assert.equal(web.status, 201, JSON.stringify(web.body));
    assert.equal(web.body.application_type, 'web');

    for (const [registered, kind] of [[native.body, 'native'], [web.body, 'web']] as const) {
      const read = await call(String(registered.registration_client_uri), { headers: { authorization: `Bearer ${String(registered.registration_access_token)}` } });
      assert.equal(read.body.application_type, kind, 'RFC 7592 read');
      const rows = (await gatehouse.db.query('SELECT metadata FROM clients WHERE id = $1', [registered.client_id])) as Array<{ metadata: Record<string, unknown> }>;
      assert.equal(rows[0]?.metadata.application_type, kind, 'stored');
    }
    const listed = (await gatehouse.admin('GET', '/admin/clients')).body as Array<Record<string, unknown>>;
    assert.equal(listed.find((client) => client.client_id === native.body.client_id)?.application_type, 'native');
    assert.equal(listed.find((client) => client.client_id === web.body.client_id)?.application_type, 'web');
    const created = await gatehouse.admin('POST', '/admin/clients', { application_type: 'web', redirect_uris: ['https://pre.example.com/cb'] });
    assert.equal(created.status, 201);
    assert.equal((created.body as Record<string, unknown>).application_type, 'web');
  });

  it('infers it when omitted (MCP clients that predate the field register loopback URIs without it)', async () => {
    assert.equal((await register({ redirect_uris: ['http://127.0.0.1/cb'] })).body.application_type, 'native');
    assert.equal((await register({ redirect_uris: ['http://127.0.0.1/cb', 'https://vscode.dev/redirect'] })).body.application_type, 'native');
    assert.equal((await register({ redirect_uris: ['com.example.app:/cb'] })).body.application_type, 'native');
    assert.equal((await register({ redirect_uris: ['https://app.example.com/cb'] })).body.application_type, 'web');
  });

  it('refuses redirect URIs the application type does not allow, and unknown types, writing nothing', async () => {
    const before = await gatehouse.count('clients');
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ application_type: 'web', redirect_uris: ['http://127.0.0.1:3000/cb'] }, 'invalid_redirect_uri', /web allows only https.*http:\/\/127\.0\.0\.1:3000\/cb.*native/],
      [{ application_type: 'web', redirect_uris: ['https://app.example.com/cb', 'http://localhost/cb'] }, 'invalid_redirect_uri', /web allows only https/],
      [{ application_type: 'web', redirect_uris: ['com.example.app:/cb'] }, 'invalid_redirect_uri', /web allows only https/],
      [{ application_type: 'native', redirect_uris: ['http://app.example.com/cb'] }, 'invalid_redirect_uri', /loopback/],
      [{ application_type: 'desktop', redirect_uris: ['http://127.0.0.1/cb'] }, 'invalid_client_metadata', /application_type must be one of web, native/],
      [{ application_type: ['native'], redirect_uris: ['http://127.0.0.1/cb'] }, 'invalid_client_metadata', /application_type/],
    ];
    for (const [metadata, error, description] of cases) {
      const answer = await register(metadata);
      assert.equal(answer.status, 400, JSON.stringify(metadata));
      assert.equal(answer.body.error, error, JSON.stringify(metadata));
      assert.match(String(answer.body.error_description), description);
      assert.equal(answer.headers.get('cache-control'), 'no-store');
    }
    assert.equal(await gatehouse.count('clients'), before);
  });

  it('applies the same rule to RFC 7592 updates, leaving the registration as it was on refusal', async () => {
    const registered = (await register({ redirect_uris: ['http://127.0.0.1/cb'] })).body;
    const bearer = { authorization: `Bearer ${String(registered.registration_access_token)}` };
    const put = (metadata: Record<string, unknown>) =>
      call(String(registered.registration_client_uri), {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...bearer },
        body: JSON.stringify({ client_id: registered.client_id, token_endpoint_auth_method: 'none', ...metadata }),
      });
    const refused = await put({ application_type: 'web', redirect_uris: ['http://127.0.0.1/cb'] });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_redirect_uri');
    assert.equal((await call(String(registered.registration_client_uri), { headers: bearer })).body.application_type, 'native');
    const moved = await put({ application_type: 'web', redirect_uris: ['https://app.example.com/cb'] });
    assert.equal(moved.status, 200);
    assert.equal(moved.body.application_type, 'web');
  });
});

describe('client secret expiry (DCR_CLIENT_SECRET_DAYS, RFC 7591 client_secret_expires_at)', () => {
  const DAYS = 30;
  let gatehouse: RunningGatehouse;
  before(async () => {
    gatehouse = await startGatehouse({ env: { RATE_LIMIT_REGISTER: 'off', DCR_CLIENT_SECRET_DAYS: String(DAYS) } });
  });
  after(async () => {
    await gatehouse?.close();
  });

  /** A token request that passes client authentication and then fails on the unknown refresh token. */
  const tokenRequest = (clientId: string, secret: string) =>
    call(`${gatehouse.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
      body: 'grant_type=refresh_token&refresh_token=gh_rt_unknown',
    });

  /** Moves the stored expiry into the past and makes the server read the row again, as if the days had passed. */
  async function expire(clientId: string): Promise<void> {
    await gatehouse.db.query(`UPDATE clients SET secret_expires_at = now() - interval '1 second' WHERE id = $1`, [clientId]);
    gatehouse.app.get(RecordCache).evict('client', [clientId]);
  }

  it('gives a confidential client a secret that expires after the configured days, and says when', async () => {
    const now = Math.floor(Date.now() / 1000);
    const registered = (await call(`${gatehouse.url}/register`, json({ redirect_uris: ['https://app.example.com/cb'] }))).body;
    const expiresAt = Number(registered.client_secret_expires_at);
    assert.ok(Math.abs(expiresAt - (now + DAYS * 86_400)) < 60, `client_secret_expires_at ${expiresAt}`);
    const rows = (await gatehouse.db.query('SELECT secret_expires_at FROM clients WHERE id = $1', [registered.client_id])) as Array<{ secret_expires_at: Date }>;
    assert.equal(Math.floor(new Date(rows[0]!.secret_expires_at).getTime() / 1000), expiresAt);
    const read = await call(String(registered.registration_client_uri), { headers: { authorization: `Bearer ${String(registered.registration_access_token)}` } });
    assert.equal(read.body.client_secret_expires_at, expiresAt, 'RFC 7592 read');

    const publicClient = (await call(`${gatehouse.url}/register`, json({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' }))).body;
    assert.equal(publicClient.client_secret_expires_at, undefined, 'a public client has no secret to expire');
    const preRegistered = await gatehouse.admin('POST', '/admin/clients', { redirect_uris: ['https://pre.example.com/cb'] });
    assert.equal((preRegistered.body as Record<string, unknown>).client_secret_expires_at, 0, 'pre-registered secrets are managed by administrators');
  });

  it('refuses an expired secret at /token with invalid_client, and renews it through RFC 7592', async () => {
    const registered = (await call(`${gatehouse.url}/register`, json({ client_name: 'Expiring', redirect_uris: ['https://app.example.com/cb'], grant_types: ['authorization_code', 'refresh_token'] }))).body;
    const clientId = String(registered.client_id);
    const oldSecret = String(registered.client_secret);
    assert.equal((await tokenRequest(clientId, oldSecret)).body.error, 'invalid_grant', 'a live secret authenticates');

    await expire(clientId);
    const refused = await tokenRequest(clientId, oldSecret);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'invalid_client');
    assert.match(String(refused.body.error_description), /client secret expired; renew it .*RFC 7592/);
    assert.match(refused.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.equal(refused.headers.get('cache-control'), 'no-store');
    const wrong = await tokenRequest(clientId, 'gh_cs_wrong');
    assert.equal(wrong.body.error_description, 'client authentication failed', 'without the secret, nothing is learnt about its expiry');

    const renewed = await call(String(registered.registration_client_uri), {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${String(registered.registration_access_token)}` },
      body: JSON.stringify({ client_id: clientId, client_name: 'Expiring', redirect_uris: ['https://app.example.com/cb'], grant_types: ['authorization_code', 'refresh_token'] }),
    });
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    const newSecret = String(renewed.body.client_secret);
    assert.match(newSecret, /^gh_cs_/);
    assert.notEqual(newSecret, oldSecret);
    assert.ok(Number(renewed.body.client_secret_expires_at) > Date.now() / 1000 + (DAYS - 1) * 86_400, 'a new expiry');
    assert.equal((await tokenRequest(clientId, newSecret)).body.error, 'invalid_grant', 'the new secret authenticates');
    assert.equal((await tokenRequest(clientId, oldSecret)).body.error, 'invalid_client', 'the old one does not');
  });
});
