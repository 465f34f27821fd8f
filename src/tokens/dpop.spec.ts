import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { InvalidDpopProof } from '../common/oauth-errors.js';
import { checkDpopProof, dpopHeader, DpopProofVerifier, normalisedUrl } from './dpop.js';
import type { DpopProofJtiRepository } from './dpop-proof-jti.repository.js';

const URL_ = 'https://auth.example.com/token';
const NOW = 1_800_000_000;

interface ProofOptions {
  alg?: string;
  typ?: string;
  jwk?: JWK | null;
  claims?: Record<string, unknown>;
  key?: CryptoKey;
}

async function keyPair(alg = 'ES256') {
  const pair = await generateKeyPair(alg, { extractable: true });
  return { ...pair, jwk: await exportJWK(pair.publicKey) };
}

/** A proof for POST URL_ at NOW, each part replaceable. */
async function proof(options: ProofOptions = {}, keys?: Awaited<ReturnType<typeof keyPair>>): Promise<string> {
  const alg = options.alg ?? 'ES256';
  const pair = keys ?? (await keyPair(alg));
  const header: Record<string, unknown> = { alg, typ: options.typ ?? 'dpop+jwt' };
  if (options.jwk !== null) header.jwk = options.jwk ?? pair.jwk;
  const claims = { htm: 'POST', htu: URL_, iat: NOW, jti: 'proof-1', ...options.claims };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete (claims as Record<string, unknown>)[name];
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(options.key ?? pair.privateKey);
}

async function refusedWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof InvalidDpopProof, String(error));
    assert.equal(error.status, 400);
    assert.match(error.description, pattern);
    return true;
  });
}

const check = (value: string, request: Partial<Parameters<typeof checkDpopProof>[1]> = {}) => checkDpopProof(value, { method: 'POST', url: URL_, now: NOW, ...request });

describe('DPoP proofs at the token endpoint (RFC 9449 §4.3)', () => {
  it('accepts a valid proof and names its key by its RFC 7638 thumbprint', async () => {
    const keys = await keyPair();
    const checked = await check(await proof({}, keys));
    assert.deepEqual(checked, { jkt: await calculateJwkThumbprint(keys.jwk, 'sha256'), jti: 'proof-1', iat: NOW });
  });

  for (const alg of ['RS256', 'PS256', 'EdDSA']) {
    it(`accepts ${alg}`, async () => {
      assert.equal((await check(await proof({ alg }))).jti, 'proof-1');
    });
  }

  it('refuses an HMAC proof and an unsigned one', async () => {
    const secret = new TextEncoder().encode('a'.repeat(32));
    const hmac = await new SignJWT({ htm: 'POST', htu: URL_, iat: NOW, jti: 'x' }).setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt' }).sign(secret);
    await refusedWith(check(hmac), /invalid/);
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: (await keyPair()).jwk })).toString('base64url')}.${Buffer.from(JSON.stringify({ htm: 'POST', htu: URL_, iat: NOW, jti: 'x' })).toString('base64url')}.`;
    await refusedWith(check(none), /invalid/);
  });

  it('refuses another typ', async () => {
    await refusedWith(check(await proof({ typ: 'jwt' })), /typ/);
  });

  it('refuses a proof without a jwk', async () => {
    await refusedWith(check(await proof({ jwk: null })), /invalid/);
  });

  it('refuses a jwk with private members', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' }) as JWK;
    const keys = await keyPair();
    await refusedWith(check(await proof({ jwk, key: keys.privateKey }, keys)), /invalid|private/);
  });

  it('refuses a signature by another key than the jwk', async () => {
    const other = await keyPair();
    await refusedWith(check(await proof({ key: other.privateKey })), /signature/);
  });

  it('refuses another htm', async () => {
    await refusedWith(check(await proof({ claims: { htm: 'GET' } })), /htm/);
  });

  it('refuses another htu, and compares it without query and fragment after normalisation', async () => {
    await refusedWith(check(await proof({ claims: { htu: 'https://auth.example.com/api/oauth/token' } })), /htu/);
    await refusedWith(check(await proof({ claims: { htu: 'https://evil.example.com/token' } })), /htu/);
    assert.ok(await check(await proof({ claims: { htu: 'HTTPS://Auth.Example.com:443/token?x=1#y' } })));
  });

  it('refuses an iat outside the window either way, and a missing one', async () => {
    await refusedWith(check(await proof({ claims: { iat: NOW - 61 } })), /iat/);
    await refusedWith(check(await proof({ claims: { iat: NOW + 61 } })), /iat/);
    await refusedWith(check(await proof({ claims: { iat: undefined } })), /iat/);
  });

  it('refuses a missing jti', async () => {
    await refusedWith(check(await proof({ claims: { jti: undefined } })), /jti/);
  });

  it('checks ath when a token is presented, and refuses one at the token endpoint', async () => {
    const ath = createHash('sha256').update('token-1').digest('base64url');
    assert.ok(await check(await proof({ claims: { ath } }), { accessToken: 'token-1' }));
    await refusedWith(check(await proof({ claims: { ath } }), { accessToken: 'token-2' }), /ath/);
    await refusedWith(check(await proof({ claims: { ath } })), /ath/);
  });

  it('refuses garbage without throwing anything else', async () => {
    await refusedWith(check('not.a.jws'), /invalid/);
    await refusedWith(check(''), /characters/);
  });

  it('takes one DPoP header with one proof', () => {
    assert.equal(dpopHeader(undefined), undefined);
    assert.equal(dpopHeader(' a.b.c '), 'a.b.c');
    assert.throws(() => dpopHeader(['a.b.c', 'd.e.f']), InvalidDpopProof);
    assert.throws(() => dpopHeader('a.b.c, d.e.f'), InvalidDpopProof);
  });

  it('normalises URLs as RFC 3986 §6.2.2 says', () => {
    assert.equal(normalisedUrl('HTTPS://A.example:443/%7etoken?q#f'), 'https://a.example/%7Etoken');
    assert.equal(normalisedUrl('urn:x'), null);
    assert.equal(normalisedUrl('nonsense'), null);
  });

  it('spends the jti once: a replayed proof is refused', async () => {
    const spent = new Set<string>();
    const jtis = { use: async (jkt: string, jti: string) => !spent.has(`${jkt}:${jti}`) && Boolean(spent.add(`${jkt}:${jti}`)) } as unknown as DpopProofJtiRepository;
    const verifier = new DpopProofVerifier(jtis);
    const keys = await keyPair();
    const fresh = await new SignJWT({ htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000), jti: 'once' })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: keys.jwk })
      .sign(keys.privateKey);
    assert.ok(await verifier.verify(fresh, URL_));
    await refusedWith(verifier.verify(fresh, URL_), /already used/);
  });
});
