import { afterEach, describe, it, mock } from 'node:test';
import { strict as assert } from 'node:assert';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { encrypt } from '../common/crypto.js';
import type { GatehouseConfig, SigningAlg } from '../config/config.js';
import type { Secrets } from '../config/secrets.js';
import type { Database } from '../database/database.module.js';
import type { AuditLog } from '../audit/audit-log.js';
import { KeyService, type VerificationKey } from '../keys/key.service.js';
import type { SigningKeyEntity, SigningKeyState } from '../keys/signing-key.entity.js';
import { generateKeyMaterial } from '../keys/signing-algorithms.js';
import type { SigningKeyRepository } from '../keys/signing-key.repository.js';
import type { AccessTokenClaims } from './access-token.issuer.js';
import { AccessTokenVerifier } from './access-token.verifier.js';

/**
 * The verified-token cache: a real KeyService over a faked key table, so that keys are rotated, deleted and
 * replaced exactly as a reload does it, and a verifier that counts its signature checks.
 */

const ISSUER = 'https://auth.example.com';
const encryptionKey = randomBytes(32);

function keyRow(kid: string, state: SigningKeyState): SigningKeyEntity {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    kid,
    alg: 'ES256',
    state,
    publicJwk: { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! },
    privateKeySealed: encrypt(encryptionKey, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), `signing-key:${kid}`),
    createdAt: new Date(),
    activatedAt: state === 'active' ? new Date() : null,
    retiredAt: state === 'retired' ? new Date() : null,
  };
}

class CountingVerifier extends AccessTokenVerifier {
  checks = 0;

  protected override checkSignature(signingInput: string, key: VerificationKey, signature: Buffer): boolean {
    this.checks++;
    return super.checkSignature(signingInput, key, signature);
  }
}

/** Keys served from `rows` (change it, then `reload()`), and a verifier with a cache of `entries`. */
async function setup(entries = 100) {
  const state = { rows: [keyRow('k1', 'active'), keyRow('k2', 'next')] };
  const repository = { findPublishable: async () => state.rows } as unknown as SigningKeyRepository;
  const secrets: Secrets = { encryptionKey, cookieKey: randomBytes(32) };
  const config = { issuer: ISSUER, keyReloadSeconds: 30, accessTokenCacheEntries: entries } as GatehouseConfig;
  const keys = new KeyService({} as Database, repository, secrets, config, {} as AuditLog);
  await keys.reload();
  return { state, keys, verifier: new CountingVerifier(config, keys) };
}

function mint(keys: KeyService, overrides: Partial<AccessTokenClaims> = {}): { token: string; claims: AccessTokenClaims } {
  const iat = Math.floor(Date.now() / 1000);
  const claims: AccessTokenClaims = {
    iss: ISSUER,
    sub: 'user-1',
    aud: 'https://mcp.example.com',
    client_id: 'client-1',
    scope: 'tools:read',
    iat,
    exp: iat + 3600,
    jti: randomUUID(),
    grant_id: randomUUID(),
    ...overrides,
  };
  return { token: keys.signJwt({ ...claims }, 'at+jwt'), claims };
}

/** The token with one character of `part` (1 payload, 2 signature) changed, away from the padding bits. */
function tamper(token: string, part: 1 | 2): string {
  const parts = token.split('.');
  const text = parts[part]!;
  parts[part] = `${text.slice(0, 10)}${text[10] === 'A' ? 'B' : 'A'}${text.slice(11)}`;
  return parts.join('.');
}

describe('AccessTokenVerifier, verified-token cache', () => {
  afterEach(() => mock.restoreAll());

  it('checks the signature of a token once, then answers the same claims from the cache', async () => {
    const { keys, verifier } = await setup();
    const { token, claims } = mint(keys);
    assert.deepEqual(verifier.verify(token), claims);
    assert.equal(verifier.checks, 1);
    assert.deepEqual(verifier.verify(token), claims);
    assert.deepEqual(verifier.verify(token), claims);
    assert.equal(verifier.checks, 1, 'no second signature check');
    const other = mint(keys);
    assert.deepEqual(verifier.verify(other.token), other.claims);
    assert.equal(verifier.checks, 2, 'another token is checked');
  });

  it('never answers a tampered token from the cache, and never caches a failure', async () => {
    const { keys, verifier } = await setup();
    const { token } = mint(keys);
    assert.ok(verifier.verify(token));
    for (const part of [1, 2] as const) {
      const forged = tamper(token, part);
      assert.notEqual(forged, token);
      const before = verifier.checks;
      assert.equal(verifier.verify(forged), null);
      assert.equal(verifier.verify(forged), null);
      assert.equal(verifier.checks, before + 2, `a tampered part ${part} is checked every time`);
    }
    // The cached token's payload with another token's valid signature: the pair never verified.
    const other = mint(keys, { sub: 'user-2' });
    const [header, payload] = token.split('.');
    assert.equal(verifier.verify(`${header}.${payload}.${other.token.split('.')[2]}`), null);
    // Signed by us but for another issuer: the signature checks out, the token does not, and that is not kept.
    const foreign = mint(keys, { iss: 'https://elsewhere.example.com' });
    const before = verifier.checks;
    assert.equal(verifier.verify(foreign.token), null);
    assert.equal(verifier.verify(foreign.token), null);
    assert.equal(verifier.checks, before + 2);
    assert.ok(verifier.verify(token), 'the genuine token still verifies');
  });

  it('keeps honouring a token across a rotation, its key still published as retired', async () => {
    const { state, keys, verifier } = await setup();
    const { token, claims } = mint(keys);
    assert.deepEqual(verifier.verify(token), claims);
    const [k1, k2] = state.rows as [SigningKeyEntity, SigningKeyEntity];
    state.rows = [{ ...k1, state: 'retired', retiredAt: new Date() }, { ...k2, state: 'active' }, keyRow('k3', 'next')];
    await keys.reload();
    assert.deepEqual(verifier.verify(token), claims);
    assert.equal(verifier.checks, 1, 'a reload keeps the key object of a key it keeps');
  });

  it('does not honour a cached token once the key that verified it is no longer published', async () => {
    const { state, keys, verifier } = await setup();
    const { token } = mint(keys);
    assert.ok(verifier.verify(token));
    state.rows = state.rows.filter((row) => row.kid !== 'k1');
    await keys.reload();
    assert.equal(verifier.verify(token), null);
    assert.equal(verifier.verify(token), null);
  });

  it('checks a cached token again when its kid names a new key object, and refuses it if that key did not sign it', async () => {
    const { state, keys, verifier } = await setup();
    const { token } = mint(keys);
    assert.ok(verifier.verify(token));
    // A reload keeps the key object of a kid it already holds (kids are thumbprints), so a kid can only come to name
    // other material by being dropped and published again.
    const rows = state.rows;
    state.rows = rows.filter((row) => row.kid !== 'k1');
    await keys.reload();
    state.rows = rows.map((row) => (row.kid === 'k1' ? keyRow('k1', 'retired') : row));
    await keys.reload();
    assert.equal(verifier.verify(token), null);
    assert.equal(verifier.checks, 2);
  });

  it('checks a cached token again when its key was dropped and published again as a new key object', async () => {
    const { state, keys, verifier } = await setup();
    const { token, claims } = mint(keys);
    assert.ok(verifier.verify(token));
    const rows = state.rows;
    state.rows = rows.filter((row) => row.kid !== 'k1');
    await keys.reload();
    state.rows = rows;
    await keys.reload();
    assert.deepEqual(verifier.verify(token), claims, 'the same key material verifies it again');
    assert.equal(verifier.checks, 2);
    assert.deepEqual(verifier.verify(token), claims);
    assert.equal(verifier.checks, 2, 'and it is cached with the new key object');
  });

  it('holds at most ACCESS_TOKEN_CACHE_ENTRIES tokens, forgetting the least recently used', async () => {
    const { keys, verifier } = await setup(2);
    const [a, b, c] = [mint(keys).token, mint(keys).token, mint(keys).token];
    for (const token of [a, b, c]) assert.ok(verifier.verify(token));
    assert.equal(verifier.checks, 3);
    assert.ok(verifier.verify(a));
    assert.equal(verifier.checks, 4, 'a was forgotten when c came');
    assert.ok(verifier.verify(c));
    assert.equal(verifier.checks, 4, 'c is still remembered');
    assert.ok(verifier.verify(b));
    assert.equal(verifier.checks, 5, 'b was forgotten when a came back');
    assert.ok(verifier.verify(c));
    assert.ok(verifier.verify(b));
    assert.equal(verifier.checks, 5);
  });

  it('checks every time with ACCESS_TOKEN_CACHE_ENTRIES=0', async () => {
    const { keys, verifier } = await setup(0);
    const { token, claims } = mint(keys);
    for (let i = 0; i < 3; i++) assert.deepEqual(verifier.verify(token), claims);
    assert.equal(verifier.checks, 3);
  });

  it('still answers an expired token, as before (expiry is the caller\'s), by checking it again', async () => {
    const { keys, verifier } = await setup();
    const { token, claims } = mint(keys, { exp: Math.floor(Date.now() / 1000) + 60 });
    assert.deepEqual(verifier.verify(token), claims);
    const later = Date.now() + 61_000;
    mock.method(Date, 'now', () => later);
    assert.deepEqual(verifier.verify(token), claims, 'revocation still gets an expired token\'s claims');
    assert.equal(verifier.checks, 2, 'a cached token past its exp is checked again');
    assert.deepEqual(verifier.verify(token), claims);
    assert.equal(verifier.checks, 3, 'and, expired, it is not cached again');
  });

  it('does not cache a token that has already expired, so it cannot push a live one out', async () => {
    const { keys, verifier } = await setup(1);
    const live = mint(keys).token;
    const expired = mint(keys, { iat: Math.floor(Date.now() / 1000) - 120, exp: Math.floor(Date.now() / 1000) - 60 });
    assert.ok(verifier.verify(live));
    assert.deepEqual(verifier.verify(expired.token), expired.claims, 'its claims are still answered');
    assert.ok(verifier.verify(live));
    assert.equal(verifier.checks, 2, 'the live token is still the one remembered');
  });

  it('returns frozen claims, so that no caller can change what another is answered from the cache', async () => {
    const { keys, verifier } = await setup();
    const { token } = mint(keys);
    const first = verifier.verify(token);
    assert.ok(first && Object.isFrozen(first));
    assert.throws(() => Object.assign(first, { scope: 'admin' }), TypeError);
    assert.equal(verifier.verify(token)?.scope, 'tools:read');
  });
});

describe('AccessTokenVerifier, signing algorithms', () => {
  /** A row of `alg` made as KeyService makes one. */
  async function rowOf(alg: SigningAlg, kid: string, state: SigningKeyState): Promise<SigningKeyEntity> {
    const material = await generateKeyMaterial(alg);
    return { ...keyRow(kid, state), alg, publicJwk: material.publicJwk, privateKeySealed: encrypt(encryptionKey, material.privateKeyPem, `signing-key:${kid}`) };
  }

  it('verifies tokens of each algorithm by the key that signed them, across a change of algorithm', async () => {
    const { state, keys, verifier } = await setup();
    const es256 = mint(keys);
    for (const alg of ['RS256', 'EdDSA'] as const) {
      state.rows = [...state.rows.map((row) => (row.state === 'active' ? { ...row, state: 'retired' as const, retiredAt: new Date() } : row)), await rowOf(alg, `k-${alg}`, 'active')];
      state.rows = state.rows.filter((row) => row.state !== 'next');
      await keys.reload();
      const { token, claims } = mint(keys);
      assert.equal(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')).alg, alg);
      assert.deepEqual(verifier.verify(token), claims, alg);
    }
    assert.deepEqual(verifier.verify(es256.token), es256.claims, 'the ES256 token of before still verifies');
  });

  it("refuses a header whose alg is not its key's, none and HS256 included", async () => {
    const { state, keys, verifier } = await setup();
    state.rows = [...state.rows, await rowOf('RS256', 'k-rsa', 'retired')];
    await keys.reload();
    const { token } = mint(keys);
    const [, payload, signature] = token.split('.');
    for (const alg of ['RS256', 'EdDSA', 'none', 'HS256', 'ES384']) {
      for (const kid of ['k1', 'k-rsa']) {
        const header = Buffer.from(JSON.stringify({ alg, typ: 'at+jwt', kid })).toString('base64url');
        if (alg === 'RS256' && kid === 'k-rsa') continue;
        assert.equal(verifier.verify(`${header}.${payload}.${signature}`), null, `${alg} with ${kid}`);
      }
    }
  });
});
