import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { AccessTokenVerifier, type GatehouseAuth } from './token-verifier.js';
import { GatehouseAuthError, verifyAccessToken, type AccessTokenRequest } from './verify-access-token.js';
import { Issuer, PRM, RESOURCE } from './issuer.spec.support.js';

type Keys = Awaited<ReturnType<typeof generateKeyPair>> & { jwk: JWK; jkt: string };

async function keys(): Promise<Keys> {
  const pair = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  return { ...pair, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

async function refusedProof(promise: Promise<GatehouseAuth>, pattern: RegExp, error = 'invalid_dpop_proof'): Promise<void> {
  const caught = await promise.then(
    () => assert.fail('the token was accepted'),
    (reason: unknown) => reason,
  );
  assert.ok(caught instanceof GatehouseAuthError, String(caught));
  assert.equal(caught.status, 401);
  assert.equal(caught.error, error);
  assert.match(caught.description, pattern);
  assert.match(caught.wwwAuthenticate ?? '', new RegExp(`^DPoP error="${error}", error_description="[^"]*", resource_metadata="${PRM}", algs="ES256 RS256 PS256 EdDSA"$`));
}

describe('verifyAccessToken with DPoP-bound tokens (RFC 9449 §7)', () => {
  let issuer: Issuer;
  let verifier: AccessTokenVerifier;
  let key: Keys;
  let token: string;
  let counter = 0;

  before(async () => {
    issuer = await new Issuer().start();
    verifier = new AccessTokenVerifier({ issuer: issuer.url, resource: RESOURCE, jwksUri: `${issuer.url}/jwks.json` });
    key = await keys();
    token = await issuer.sign({ cnf: { jkt: key.jkt } });
  });
  after(() => issuer.stop());

  /** A proof for POST RESOURCE with `token`, each part replaceable. */
  function proof(claims: Record<string, unknown> = {}, signer: Keys = key): Promise<string> {
    const payload = { htm: 'POST', htu: RESOURCE, iat: Math.floor(Date.now() / 1000), jti: `proof-${++counter}`, ath: ath(token), ...claims };
    return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: signer.jwk }).sign(signer.privateKey);
  }

  const verify = (dpop: string | undefined, request: Partial<AccessTokenRequest> = {}, scheme = 'DPoP') =>
    verifyAccessToken(`${scheme} ${token}`, { verifier, request: { method: 'POST', url: `${RESOURCE}?session=1`, dpop, ...request } });

  it('accepts a bound token with its proof, and refuses the same proof again (in-memory replay cache)', async () => {
    const once = await proof();
    const auth = await verify(once);
    assert.deepEqual(auth.claims.cnf, { jkt: key.jkt });
    await refusedProof(verify(once), /already used/);
  });

  it('refuses the bound token as a bearer token, with a Bearer challenge', async () => {
    const caught = await verify(await proof(), {}, 'Bearer').catch((error: unknown) => error);
    assert.ok(caught instanceof GatehouseAuthError);
    assert.equal(caught.error, 'invalid_token');
    assert.match(caught.wwwAuthenticate ?? '', /^Bearer error="invalid_token"/);
  });

  it('refuses a missing proof, and two', async () => {
    await refusedProof(verify(undefined), /required/);
    await refusedProof(verify(`${await proof()}, ${await proof()}`), /more than one/);
  });

  it('refuses each failed check on its own', async () => {
    await refusedProof(verify(await proof({ htm: 'GET' })), /htm/);
    await refusedProof(verify(await proof({ htu: 'https://notes.example.com/other' })), /htu/);
    await refusedProof(verify(await proof({ ath: ath('another token') })), /ath/);
    await refusedProof(verify(await proof({ ath: undefined })), /ath/);
    await refusedProof(verify(await proof({ iat: Math.floor(Date.now() / 1000) - 120 })), /iat/);
    await refusedProof(verify(await proof({}, await keys())), /key the token is bound to/);
    const hs = await new SignJWT({ htm: 'POST', htu: RESOURCE, iat: Math.floor(Date.now() / 1000), jti: 'hs', ath: ath(token) })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt' })
      .sign(new TextEncoder().encode('x'.repeat(32)));
    await refusedProof(verify(hs), /invalid/);
  });

  it('compares htu after normalisation and without the query', async () => {
    assert.ok(await verify(await proof({ htu: 'HTTPS://Notes.Example.com:443/notes?x=1' })));
  });

  it('refuses a bound token when the request is unknown, and an unbound token under the DPoP scheme', async () => {
    await refusedProof(verifyAccessToken(`DPoP ${token}`, { verifier }), /not told the request/);
    const unbound = await issuer.sign();
    const caught = await verifyAccessToken(`DPoP ${unbound}`, { verifier, request: { method: 'POST', url: RESOURCE, dpop: await proof() } }).catch((error: unknown) => error);
    assert.ok(caught instanceof GatehouseAuthError);
    assert.equal(caught.error, 'invalid_token');
    assert.match(caught.wwwAuthenticate ?? '', /^DPoP error="invalid_token"/);
  });
});
