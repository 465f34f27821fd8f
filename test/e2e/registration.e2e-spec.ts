import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';

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
