import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { AccessTokenVerifier, type GatehouseAuth } from './token-verifier.js';
import { GatehouseAuthError, verifyAccessToken } from './verify-access-token.js';
import { mcpAuthInfo } from './mcp-auth-info.js';
import { Issuer, PRM, RESOURCE } from './issuer.spec.support.js';

/** Asserts a refusal down to the header an MCP client reads. */
async function refused(promise: Promise<GatehouseAuth>, status: number, error: string, challenge: string | undefined): Promise<GatehouseAuthError> {
  const caught = await promise.then(
    () => assert.fail('the token was accepted'),
    (reason: unknown) => reason,
  );
  assert.ok(caught instanceof GatehouseAuthError, String(caught));
  assert.equal(caught.status, status);
  assert.equal(caught.error, error);
  assert.equal(caught.wwwAuthenticate, challenge);
  assert.deepEqual(caught.body, { error, error_description: caught.description });
  assert.equal(caught.headers['Cache-Control'], 'no-store');
  assert.equal(caught.headers['WWW-Authenticate'], challenge);
  return caught;
}

const invalidToken = (description: string, scope = 'notes:read') =>
  `Bearer error="invalid_token", error_description="${description}", scope="${scope}", resource_metadata="${PRM}"`;

describe('verifyAccessToken', () => {
  let issuer: Issuer;
  let verifier: AccessTokenVerifier;
  const read = { requiredScopes: ['notes:read'] };

  before(async () => {
    issuer = await new Issuer().start();
    verifier = new AccessTokenVerifier({ issuer: issuer.url, resource: RESOURCE, jwksUri: `${issuer.url}/jwks.json` });
  });
  after(() => issuer.stop());

  it('accepts a valid bearer token and returns the caller: subject, client, scopes, claims', async () => {
    const token = await issuer.sign({ sub: 'user-42', client_id: 'client-7', scope: 'notes:read notes:write' });
    const auth = await verifyAccessToken(`Bearer ${token}`, { verifier, ...read });
    assert.equal(auth.sub, 'user-42');
    assert.equal(auth.clientId, 'client-7');
    assert.deepEqual(auth.scopes, ['notes:read', 'notes:write']);
    assert.equal(auth.token, token);
    assert.equal(auth.claims.aud, RESOURCE);
    assert.deepEqual(await verifyAccessToken({ token }, { verifier, ...read }), auth, 'a token passed as itself');
    assert.equal((await verifyAccessToken(`bearer ${token} `, { verifier })).sub, 'user-42', 'the scheme is case-insensitive');
  });

  it('gives the caller in the MCP SDK AuthInfo shape', async () => {
    const token = await issuer.sign({ sub: 'user-9' });
    const auth = await verifyAccessToken(`Bearer ${token}`, { verifier });
    const info = mcpAuthInfo(auth, verifier.resource);
    assert.deepEqual({ ...info, resource: info.resource?.href }, {
      token,
      clientId: 'client-1',
      scopes: ['notes:read'],
      expiresAt: auth.claims.exp,
      resource: RESOURCE,
      extra: { sub: 'user-9', claims: auth.claims },
    });
  });

  it('an expired token: 401 invalid_token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await issuer.sign({ iat: now - 600, exp: now - 30 });
    await refused(verifyAccessToken(`Bearer ${token}`, { verifier, ...read }), 401, 'invalid_token', invalidToken('token has expired'));
  });

  it('a token for another resource (wrong aud): 401 invalid_token', async () => {
    for (const aud of ['https://notes.example.com/other', 'https://evil.example/notes', ['https://notes.example.com/other']]) {
      const token = await issuer.sign({ aud });
      await refused(verifyAccessToken(`Bearer ${token}`, { verifier, ...read }), 401, 'invalid_token', invalidToken('token was issued for another resource'));
    }
  });

  it('a token from another issuer (wrong iss): 401 invalid_token', async () => {
    const token = await issuer.sign({ iss: 'https://evil.example' });
    await refused(verifyAccessToken(`Bearer ${token}`, { verifier, ...read }), 401, 'invalid_token', invalidToken('token was issued by another authorization server'));
  });

  it('a missing scope: 403 insufficient_scope whose challenge names every scope needed (step-up)', async () => {
    const token = await issuer.sign({ scope: 'notes:read' });
    const error = await refused(
      verifyAccessToken(`Bearer ${token}`, { verifier, requiredScopes: ['notes:read', 'notes:write'] }),
      403,
      'insufficient_scope',
      `Bearer error="insufficient_scope", error_description="this request needs scope notes:write", scope="notes:read notes:write", resource_metadata="${PRM}"`,
    );
    assert.deepEqual(error.scope, ['notes:read', 'notes:write']);
    assert.equal(error.headers['Access-Control-Expose-Headers'], 'WWW-Authenticate');
  });

  it('a malformed Authorization header: 400 invalid_request', async () => {
    for (const header of ['Bearer not a token', 'Bearer abc,def', 'Bearer "quoted"', 'Bearer ']) {
      await refused(verifyAccessToken(header, { verifier, ...read }), 400, 'invalid_request', `Bearer error="invalid_request", scope="notes:read", resource_metadata="${PRM}"`);
    }
  });

  it('no token or another scheme: 401 with a challenge but no error code (DPoP: dpop.spec.ts)', async () => {
    const challenge = `Bearer scope="notes:read", resource_metadata="${PRM}"`;
    for (const credentials of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer', 'DPoP', ['Bearer a', 'Bearer b'], { token: '' }]) {
      const error = await refused(verifyAccessToken(credentials, { verifier, ...read }), 401, 'unauthorized', challenge);
      assert.equal(error.description, 'a bearer token is required');
    }
  });

  it('a key-bound token (cnf, DPoP) presented as a bearer token: 401 invalid_token', async () => {
    const token = await issuer.sign({ cnf: { jkt: 'x'.repeat(43) } });
    await refused(
      verifyAccessToken(`Bearer ${token}`, { verifier, ...read, request: { method: 'POST', url: RESOURCE } }),
      401,
      'invalid_token',
      invalidToken('token is bound to a key (DPoP) and cannot be used as a bearer token'),
    );
  });

  it('required scopes default to the verifier’s requiredScopes, else none', async () => {
    const strict = new AccessTokenVerifier({ issuer: issuer.url, resource: RESOURCE, jwksUri: `${issuer.url}/jwks.json`, requiredScopes: ['notes:write'] });
    const token = await issuer.sign({ scope: 'notes:read' });
    await refused(verifyAccessToken(`Bearer ${token}`, { verifier: strict }), 403, 'insufficient_scope', `Bearer error="insufficient_scope", error_description="this request needs scope notes:write", scope="notes:write", resource_metadata="${PRM}"`);
    assert.equal((await verifyAccessToken(`Bearer ${token}`, { verifier: strict, requiredScopes: [] })).sub, 'user-1');
    const unscoped = await issuer.sign({ scope: '' });
    assert.deepEqual((await verifyAccessToken(`Bearer ${unscoped}`, { verifier })).scopes, []);
  });

  it('Gatehouse unreachable: 503 temporarily_unavailable without a challenge', async () => {
    const offline = new AccessTokenVerifier({ issuer: 'http://127.0.0.1:9', resource: RESOURCE, jwks: { timeoutMs: 2_000 } });
    const error = await refused(verifyAccessToken(`Bearer ${await issuer.sign()}`, { verifier: offline, ...read }), 503, 'temporarily_unavailable', undefined);
    assert.deepEqual(Object.keys(error.headers), ['Cache-Control']);
  });
});
