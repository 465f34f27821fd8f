import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import {
  grantUserId,
  assertOAuthError,
  auditEvents,
  databaseCounts,
  introspect,
  isActive,
  mintToken,
  mintTokens,
  readJson,
  refreshTokens,
  registerClient,
  revoke,
  type JsonResponse,
  type TestClient,
  type TestResource,
  type TokenCaller,
} from '../support/flows.js';

/**
 * POST /api/oauth/token/exchange: a product backend, authenticated by its registration secret, mints tokens for
 * one of its own users. Bad input gets a precise error naming what is wrong and writes nothing; good input gets an
 * ordinary grant whose tokens verify against the JWKS and refresh at /token. The same care for the bodies of
 * /introspect and /revoke.
 */
describe('mint API and bad input to /introspect and /revoke (pglite)', () => {
  let gatehouse: RunningGatehouse;
  let resourceA: TestResource;
  let resourceB: TestResource;
  let client: TestClient;
  let publicClient: TestClient;

  before(async () => {
    gatehouse = await startGatehouse();
    resourceA = await createResource(gatehouse, { name: 'A', resource: 'https://a.example.test/mcp', scopes: ['tools:read', 'tools:execute'], default_scopes: ['tools:read'], access_token_ttl: 900 });
    resourceB = await createResource(gatehouse, { name: 'B', resource: 'https://b.example.test/mcp', scopes: ['b:only'], default_scopes: ['b:only'] });
    client = await registerClient(gatehouse, { client_name: 'Confidential', token_endpoint_auth_method: 'client_secret_basic' });
    publicClient = await registerClient(gatehouse, { client_name: 'Public', token_endpoint_auth_method: 'none' });
  });
  after(async () => {
    await gatehouse?.close();
  });

  const exchangeUrl = () => `${gatehouse.url}/api/oauth/token/exchange`;
  const bearer = (resource: TestResource) => ({ authorization: `Bearer ${resource.registration_secret}` });

  /** A request that must fail exactly so and leave every table as it was. */
  async function refusedWithoutWrites(request: () => Promise<JsonResponse>, status: number, error: string, message: string, described?: RegExp): Promise<JsonResponse> {
    const before = await databaseCounts(gatehouse);
    const response = await request();
    assertOAuthError(response, status, error, message);
    if (described) assert.match(response.body.error_description, described, `${message}: error_description`);
    assert.deepEqual(await databaseCounts(gatehouse), before, `${message}: nothing written`);
    return response;
  }

  describe('bad input to the mint API', () => {
    it('answers 401 with a Bearer challenge without a registration secret, and invalid_token for a wrong one', async () => {
      const body = JSON.stringify({ client_id: client.client_id, subject: 'user-1' });
      const none = await refusedWithoutWrites(
        async () => readJson(await fetch(exchangeUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body })),
        401,
        'invalid_token',
        'no Authorization',
      );
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm="gatehouse"$/, 'a bare challenge (RFC 6750 §3.1: no error when no credentials were sent)');

      for (const [name, authorization] of [
        ['an unknown registration secret', `Bearer gh_rs_${randomBytes(32).toString('base64url')}`],
        ['a secret with one character changed', `Bearer ${resourceA.registration_secret.slice(0, -1)}${resourceA.registration_secret.endsWith('A') ? 'B' : 'A'}`],
        ['the admin token', `Bearer ${gatehouse.adminToken}`],
        ['a client secret', `Bearer ${client.client_secret}`],
      ] as const) {
        const response = await refusedWithoutWrites(
          async () => readJson(await fetch(exchangeUrl(), { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body })),
          401,
          'invalid_token',
          name,
        );
        assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm="gatehouse", error="invalid_token"$/, `${name}: WWW-Authenticate`);
      }
      const basic = `Basic ${Buffer.from(`${resourceA.id}:${resourceA.registration_secret}`).toString('base64')}`;
      await refusedWithoutWrites(
        async () => readJson(await fetch(exchangeUrl(), { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic }, body })),
        401,
        'invalid_token',
        'the registration secret as Basic credentials',
      );
    });

    it('answers 400 invalid_request for a body that is not JSON', async () => {
      const fields = { client_id: client.client_id, subject: 'user-1' };
      await refusedWithoutWrites(
        async () => readJson(await fetch(exchangeUrl(), { method: 'POST', headers: { ...bearer(resourceA), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) })),
        400,
        'invalid_request',
        'a form body',
        /application\/json/,
      );
      await refusedWithoutWrites(
        async () => readJson(await fetch(exchangeUrl(), { method: 'POST', headers: { ...bearer(resourceA), 'content-type': 'application/x-www-form-urlencoded' }, body: 'subject=user-1&scopes=x' })),
        400,
        'invalid_request',
        'a form body with bad fields: the media type is the error, not the fields',
        /application\/json/,
      );
      await refusedWithoutWrites(
        async () => readJson(await fetch(exchangeUrl(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) })),
        401,
        'invalid_token',
        'a form body without credentials: authentication comes first',
      );
      await refusedWithoutWrites(
        async () => readJson(await fetch(exchangeUrl(), { method: 'POST', headers: { ...bearer(resourceA), 'content-type': 'text/plain' }, body: JSON.stringify(fields) })),
        400,
        'invalid_request',
        'text/plain',
        /application\/json/,
      );
      await refusedWithoutWrites(
        async () => readJson(await fetch(exchangeUrl(), { method: 'POST', headers: bearer(resourceA) })),
        400,
        'invalid_request',
        'no body at all',
      );
      for (const [name, raw] of [
        ['malformed JSON', '{"client_id": '],
        ['a JSON array', JSON.stringify([fields])],
        ['JSON null', 'null'],
      ] as const) {
        await refusedWithoutWrites(() => mintToken(gatehouse, resourceA, raw), 400, 'invalid_request', name);
      }
    });

    it('answers 400 invalid_request naming the field for missing, empty, oversized or ill-typed fields and unknown ones', async () => {
      const valid = { client_id: client.client_id, subject: 'user-1' };
      const cases: Array<[string, unknown, RegExp]> = [
        ['missing client_id', { subject: 'user-1' }, /client_id/],
        ['client_id not a string', { ...valid, client_id: 42 }, /client_id/],
        ['empty client_id', { ...valid, client_id: '' }, /client_id/],
        ['missing subject', { client_id: client.client_id }, /subject/],
        ['empty subject', { ...valid, subject: '' }, /subject/],
        ['subject not a string', { ...valid, subject: 42 }, /subject/],
        ['subject of 10 kB', { ...valid, subject: 's'.repeat(10 * 1024) }, /subject/],
        ['subject of 256 characters', { ...valid, subject: 's'.repeat(256) }, /subject/],
        ['subject with a newline', { ...valid, subject: 'user\n1' }, /subject/],
        ['subject with a BEL control character', { ...valid, subject: 'user\u00071' }, /subject/],
        ['subject with DEL', { ...valid, subject: 'user\u007f' }, /subject/],
        ['scopes not an array', { ...valid, scopes: 'tools:read' }, /scopes/],
        ['scopes holding a number', { ...valid, scopes: ['tools:read', 7] }, /scopes/],
        ['scopes holding an empty string', { ...valid, scopes: [''] }, /scopes/],
        ['an unknown extra field', { ...valid, audience: 'https://b.example.test/mcp' }, /audience/],
        ['a nested unknown field', { ...valid, user: { id: 1 } }, /user/],
      ];
      for (const [name, body, field] of cases) {
        await refusedWithoutWrites(() => mintToken(gatehouse, resourceA, body), 400, 'invalid_request', name, field);
      }
      // A NUL cannot even be parsed into a body: refused before validation.
      await refusedWithoutWrites(() => mintToken(gatehouse, resourceA, { ...valid, subject: 'user\u00001' }), 400, 'invalid_request', 'subject with NUL');
    });

    it('answers 400 invalid_client for an unknown client_id and 400 invalid_scope for scopes the resource does not define', async () => {
      for (const clientId of [randomUUID(), 'no-such-client']) {
        await refusedWithoutWrites(() => mintToken(gatehouse, resourceA, { client_id: clientId, subject: 'user-1' }), 400, 'invalid_client', `client ${clientId}`);
      }
      for (const scopes of [['tools:admin'], ['tools:read', 'b:only'], []]) {
        await refusedWithoutWrites(() => mintToken(gatehouse, resourceA, { client_id: client.client_id, subject: 'user-1', scopes }), 400, 'invalid_scope', JSON.stringify(scopes));
      }
    });

    it('answers 413 for a 70 kB body, with or without valid credentials', async () => {
      const padding = 'x'.repeat(70 * 1024);
      await refusedWithoutWrites(() => mintToken(gatehouse, resourceA, { client_id: client.client_id, subject: 'user-1', padding }), 413, 'request_too_large', 'oversized, authenticated');
      await refusedWithoutWrites(
        async () => readJson(await fetch(exchangeUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ padding }) })),
        413,
        'request_too_large',
        'oversized, anonymous',
      );
      assert.equal((await fetch(`${gatehouse.url}/healthz`)).status, 200, 'the server is still serving');
    });
  });

  describe('minting', () => {
    it('gives each resource server its own subject for the same product user id, and the same one each time', async () => {
      const subject = `user-${randomUUID()}`;
      const usersBefore = await gatehouse.count('users');
      const first = await mintTokens(gatehouse, resourceA, { client_id: client.client_id, subject });
      const again = await mintTokens(gatehouse, resourceA, { client_id: client.client_id, subject });
      assert.equal(await gatehouse.count('users'), usersBefore + 1, 'minting twice for one subject makes one user');
      const fromB = await mintTokens(gatehouse, resourceB, { client_id: client.client_id, subject });
      assert.equal(await gatehouse.count('users'), usersBefore + 2, 'another resource’s "same" subject is another user');

      // The token's sub is the product's own subject (its aud scopes it); the Gatehouse user behind it is per resource.
      assert.deepEqual([first.claims.sub, again.claims.sub, fromB.claims.sub], [subject, subject, subject], "sub is the product's subject");
      const userOf = (minted: { claims: { grant_id: string } }) => grantUserId(gatehouse, minted.claims.grant_id);
      assert.equal(await userOf(first), await userOf(again), 'same resource, same user');
      assert.notEqual(await userOf(first), await userOf(fromB), 'two resources, two users');
      assert.notEqual(first.claims.grant_id, again.claims.grant_id, 'each mint is its own grant');
      const other = await mintTokens(gatehouse, resourceA, { client_id: client.client_id, subject: `${subject}-other` });
      assert.notEqual(await userOf(other), await userOf(first), 'another product user is another user');
    });

    it('answers like /token, with an access token that verifies against the JWKS for the calling resource only', async () => {
      const before = await databaseCounts(gatehouse);
      const response = await mintToken(gatehouse, resourceA, { client_id: client.client_id, subject: `user-${randomUUID()}`, scopes: ['tools:execute', 'tools:execute'] });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.deepEqual(Object.keys(response.body).sort(), ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
      assert.equal(response.body.token_type, 'Bearer');
      assert.equal(response.body.expires_in, 900, 'the resource’s access_token_ttl');
      assert.equal(response.body.scope, 'tools:execute', 'duplicates collapse');
      assert.match(response.body.refresh_token, /^gh_rt_[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(
        await databaseCounts(gatehouse),
        { ...before, users: before.users! + 1, user_identities: before.user_identities! + 1, grants: before.grants! + 1, refresh_tokens: before.refresh_tokens! + 1, audit_events: before.audit_events! + 1 },
      );

      const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(response.body.access_token, jwks, { issuer: gatehouse.url, audience: resourceA.resource, typ: 'at+jwt', algorithms: ['ES256'] });
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(payload.client_id, client.client_id);
      assert.equal(payload.scope, 'tools:execute');
      assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 900);
      await assert.rejects(jwtVerify(response.body.access_token, jwks, { issuer: gatehouse.url, audience: resourceB.resource, typ: 'at+jwt' }), /aud/, 'not valid for another resource');

      const issued = (await auditEvents(gatehouse, 'token.issued')).at(-1);
      assert.equal(issued?.data.grant_type, 'mint');
      assert.equal(issued?.data.jti, payload.jti);
      assert.equal(issued?.subject, await grantUserId(gatehouse, String(payload.grant_id)), 'the event names the Gatehouse user');
      assert.ok(!JSON.stringify(issued).includes(response.body.refresh_token), 'the audit event holds no token');
    });

    it('uses the resource’s default scopes when none are asked for, and gives no refresh token to a client without the grant', async () => {
      const noRefresh = await registerClient(gatehouse, { client_name: 'No refresh', token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'] });
      const response = await mintToken(gatehouse, resourceA, { client_id: noRefresh.client_id, subject: `user-${randomUUID()}` });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.scope, 'tools:read');
      assert.equal(response.body.refresh_token, undefined);
      assert.equal(decodeJwt(response.body.access_token).scope, 'tools:read');
    });

    it('issues a refresh token that works at POST /token and at POST /api/oauth/token, for confidential and public clients', async () => {
      for (const owner of [client, publicClient]) {
        const minted = await mintTokens(gatehouse, resourceA, { client_id: owner.client_id, subject: `user-${randomUUID()}`, scopes: ['tools:read', 'tools:execute'] });
        const atToken = await refreshTokens(gatehouse, { client: owner }, minted.refreshToken);
        assert.equal(atToken.status, 200, atToken.text);
        assert.equal(decodeJwt(atToken.body.access_token).sub, minted.claims.sub, 'same user');
        assert.equal(decodeJwt(atToken.body.access_token).grant_id, minted.claims.grant_id, 'same grant');
        const atAlias = await refreshTokens(gatehouse, { client: owner }, atToken.body.refresh_token, { scope: 'tools:read' }, { path: '/api/oauth/token' });
        assert.equal(atAlias.status, 200, atAlias.text);
        assert.equal(atAlias.body.scope, 'tools:read');
        assert.equal(decodeJwt(atAlias.body.access_token).grant_id, minted.claims.grant_id);
        assertOAuthError(await refreshTokens(gatehouse, { client: owner }, minted.refreshToken, {}, { path: '/api/oauth/token' }), 400, 'invalid_grant', 'the rotated minted token');
      }
    });
  });

  describe('bad input to /introspect and /revoke', () => {
    const endpoints = ['/introspect', '/revoke', '/api/oauth/revoke'] as const;

    it('answers 400 invalid_request for a body that is neither form-encoded nor JSON, and writes nothing', async () => {
      const minted = await mintTokens(gatehouse, resourceA, { client_id: client.client_id, subject: `user-${randomUUID()}` });
      for (const path of endpoints) {
        for (const [type, body] of [
          ['text/plain', `token=${minted.refreshToken}`],
          ['multipart/form-data; boundary=x', `--x\r\ncontent-disposition: form-data; name="token"\r\n\r\n${minted.refreshToken}\r\n--x--\r\n`],
          ['application/xml', `<token>${minted.refreshToken}</token>`],
        ] as const) {
          await refusedWithoutWrites(
            async () => readJson(await fetch(`${gatehouse.url}${path}`, { method: 'POST', headers: { ...bearer(resourceA), 'content-type': type }, body })),
            400,
            'invalid_request',
            `${path}, ${type}`,
            /application\/x-www-form-urlencoded/,
          );
        }
        await refusedWithoutWrites(async () => readJson(await fetch(`${gatehouse.url}${path}`, { method: 'POST', headers: bearer(resourceA) })), 400, 'invalid_request', `${path}, no body`);
        await refusedWithoutWrites(
          async () => readJson(await fetch(`${gatehouse.url}${path}`, { method: 'POST', headers: { ...bearer(resourceA), 'content-type': 'application/json' }, body: '{"token": ' })),
          400,
          'invalid_request',
          `${path}, malformed JSON`,
        );
      }
      assert.equal(await isActive(gatehouse, { client }, minted.refreshToken), true, 'nothing was revoked');
    });

    it('answers 400 invalid_request naming `token` when it is missing, empty, repeated or not a string', async () => {
      const minted = await mintTokens(gatehouse, resourceA, { client_id: client.client_id, subject: `user-${randomUUID()}` });
      const callers: Array<[string, TokenCaller]> = [
        ['resource server', { resource: resourceA, via: 'bearer' }],
        ['client', { client }],
      ];
      for (const path of endpoints) {
        for (const [who, caller] of callers) {
          const call = (params: Record<string, string | undefined>, encoding: 'form' | 'json' = 'form') =>
            path === '/introspect' ? introspect(gatehouse, caller, params.token ?? '', { encoding, params }) : revoke(gatehouse, caller, params.token ?? '', { encoding, path, params });
          await refusedWithoutWrites(() => call({ token: undefined }), 400, 'invalid_request', `${path} (${who}): no token`, /token/);
          await refusedWithoutWrites(() => call({ token: undefined }, 'json'), 400, 'invalid_request', `${path} (${who}): no token, JSON`, /token/);
          await refusedWithoutWrites(() => call({ token: '' }), 400, 'invalid_request', `${path} (${who}): empty token`, /token/);
          await refusedWithoutWrites(() => call({ token: 'x'.repeat(5000) }), 400, 'invalid_request', `${path} (${who}): token of 5000 characters`, /token/);
        }
        const headers = { ...bearer(resourceA) };
        await refusedWithoutWrites(
          async () => readJson(await fetch(`${gatehouse.url}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${minted.refreshToken}&token=${minted.accessToken}` })),
          400,
          'invalid_request',
          `${path}: token twice`,
          /token/,
        );
        for (const token of [42, [minted.refreshToken], { value: minted.refreshToken }, null]) {
          await refusedWithoutWrites(
            async () => readJson(await fetch(`${gatehouse.url}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ token }) })),
            400,
            'invalid_request',
            `${path}: token ${JSON.stringify(token)}`,
            /token/,
          );
        }
      }
      assert.equal(await isActive(gatehouse, { client }, minted.refreshToken), true, 'nothing was revoked');
    });

    it('answers 413 for a 70 kB body, and writes nothing', async () => {
      const minted = await mintTokens(gatehouse, resourceA, { client_id: client.client_id, subject: `user-${randomUUID()}` });
      const padding = 'x'.repeat(70 * 1024);
      for (const path of endpoints) {
        await refusedWithoutWrites(
          async () => readJson(await fetch(`${gatehouse.url}${path}`, { method: 'POST', headers: { ...bearer(resourceA), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: minted.refreshToken, padding }) })),
          413,
          'request_too_large',
          `${path}, form`,
        );
        await refusedWithoutWrites(
          async () => readJson(await fetch(`${gatehouse.url}${path}`, { method: 'POST', headers: { ...bearer(resourceA), 'content-type': 'application/json' }, body: JSON.stringify({ token: minted.refreshToken, padding }) })),
          413,
          'request_too_large',
          `${path}, JSON`,
        );
      }
      assert.equal(await isActive(gatehouse, { client }, minted.refreshToken), true, 'nothing was revoked');
    });
  });
});
