import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { InvalidDpopProof, UseDpopNonce } from '../common/oauth-errors.js';
import { checkDpopProof, dpopHeader, DpopProofVerifier, normalisedUrl } from './dpop.js';
import type { DpopProofJtiRepository } from './dpop-proof-jti.repository.js';
import { DPOP_NONCE_WINDOW_SECONDS, DpopNonces } from './dpop-nonce.js';

const URL_ = 'https://auth.example.com/token';
const NONCE_KEY = Buffer.alloc(32, 7);

function nonces(dpopNonce: 'off' | 'required', issuer = 'https://auth.example.com', encryptionKey = NONCE_KEY): DpopNonces {
  return new DpopNonces({ issuer, dpopNonce }, { encryptionKey });
}
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
    const verifier = new DpopProofVerifier(jtis, nonces('off'));
    const keys = await keyPair();
    const fresh = await new SignJWT({ htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000), jti: 'once' })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: keys.jwk })
      .sign(keys.privateKey);
    assert.ok(await verifier.verify(fresh, URL_));
    await refusedWith(verifier.verify(fresh, URL_), /already used/);
  });

  it("takes the proof's nonce, and refuses a malformed one", async () => {
    assert.equal((await check(await proof({ claims: { nonce: 'n-1' } }))).nonce, 'n-1');
    assert.equal((await check(await proof())).nonce, undefined);
    await refusedWith(check(await proof({ claims: { nonce: 7 } })), /nonce/);
    await refusedWith(check(await proof({ claims: { nonce: '' } })), /nonce/);
  });

  it('with nonces required, answers use_dpop_nonce to a proof without a current one, before spending its jti', async () => {
    const spent: string[] = [];
    const jtis = { use: async (_jkt: string, jti: string) => Boolean(spent.push(jti)) } as unknown as DpopProofJtiRepository;
    const server = nonces('required');
    const verifier = new DpopProofVerifier(jtis, server);
    const keys = await keyPair();
    const signed = (claims: Record<string, unknown>) =>
      new SignJWT({ htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000), ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: keys.jwk }).sign(keys.privateKey);
    const useNonce = (error: unknown) => error instanceof UseDpopNonce && error.status === 400 && error.code === 'use_dpop_nonce';

    await assert.rejects(verifier.verify(await signed({ jti: 'no-nonce' }), URL_), useNonce);
    await assert.rejects(verifier.verify(await signed({ jti: 'forged', nonce: 'forged-nonce' }), URL_), useNonce);
    const stale = server.current(Date.now() / 1000 - 2 * DPOP_NONCE_WINDOW_SECONDS);
    await assert.rejects(verifier.verify(await signed({ jti: 'stale', nonce: stale }), URL_), useNonce);
    const otherKey = nonces('required', 'https://auth.example.com', Buffer.alloc(32, 8)).current();
    await assert.rejects(verifier.verify(await signed({ jti: 'other-key', nonce: otherKey }), URL_), useNonce);
    assert.deepEqual(spent, [], 'no refused proof spent its jti');

    assert.equal((await verifier.verify(await signed({ jti: 'current', nonce: server.current() }), URL_)).jti, 'current');
    assert.deepEqual(spent, ['current']);
  });
});

describe('DPoP server nonces', () => {
  const T = 1_800_000_000;

  it('are the same on every instance with the key and issuer, and differ from window to window', () => {
    const a = nonces('required');
    const b = nonces('required');
    assert.equal(a.current(T), b.current(T));
    assert.match(a.current(T), /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a.current(T), a.current(T + DPOP_NONCE_WINDOW_SECONDS));
    assert.notEqual(a.current(T), nonces('required', 'https://other.example.com').current(T), 'another issuer');
    assert.notEqual(a.current(T), nonces('required', 'https://auth.example.com', Buffer.alloc(32, 9)).current(T), 'another key');
  });

  it("are accepted in their window, the one after it and the one before it (a clock ahead), and not later", () => {
    const server = nonces('required');
    const window = DPOP_NONCE_WINDOW_SECONDS;
    const issued = server.current(T);
    assert.ok(server.accepts(issued, T));
    assert.ok(server.accepts(issued, T + window), 'the next window');
    assert.ok(server.accepts(issued, T - window), 'an instance whose clock is one window behind');
    assert.equal(server.accepts(issued, T + 2 * window), false, 'two windows later');
    assert.equal(server.accepts(issued, T - 2 * window), false);
    assert.equal(server.accepts(undefined, T), false);
    assert.equal(server.accepts(issued.slice(0, -1), T), false);
    assert.equal(server.accepts(`${issued}x`, T), false);
    assert.equal(nonces('required', 'https://other.example.com').accepts(issued, T), false, 'another issuer');
  });
});
