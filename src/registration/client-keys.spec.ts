import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { InvalidClientMetadata } from '../common/oauth-errors.js';
import { validateClientMetadata } from './client-metadata.js';
import { algorithmsForKey, assertJwksUriReachable, InvalidClientKey, parseClientJwks } from './client-keys.js';

const REDIRECT = 'https://app.example.com/callback';

function publicJwk(type: 'ec' | 'rsa' | 'ed25519', options: Record<string, unknown> = {}): Record<string, unknown> {
  const pair =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: (options.bits as number | undefined) ?? 2048 })
        : generateKeyPairSync('ed25519');
  return { ...pair.publicKey.export({ format: 'jwk' }), ...options, bits: undefined };
}

function privateJwk(): Record<string, unknown> {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
}

describe('client keys (private_key_jwt)', () => {
  it('registers private_key_jwt with inline public keys, keeping only the members that describe them', () => {
    const ec = { ...publicJwk('ec'), kid: 'ec-1', use: 'sig', x5c: ['ignored'] };
    const metadata = validateClientMetadata({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [ec, publicJwk('rsa'), publicJwk('ed25519')] } });
    assert.equal(metadata.token_endpoint_auth_method, 'private_key_jwt');
    assert.equal(metadata.jwks?.keys.length, 3);
    assert.deepEqual(Object.keys(metadata.jwks!.keys[0]!).sort(), ['crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(metadata.jwks_uri, undefined);
  });

  it('registers private_key_jwt with an https jwks_uri', () => {
    const metadata = validateClientMetadata({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://app.example.com/jwks.json' });
    assert.equal(metadata.jwks_uri, 'https://app.example.com/jwks.json');
  });

  it('refuses keys for other methods, and anything but exactly one of jwks and jwks_uri', () => {
    const jwks = { keys: [publicJwk('ec')] };
    const cases: Array<[string, Record<string, unknown>]> = [
      ['jwks with a secret method', { jwks }],
      ['jwks_uri with none', { token_endpoint_auth_method: 'none', jwks_uri: 'https://app.example.com/jwks' }],
      ['neither', { token_endpoint_auth_method: 'private_key_jwt' }],
      ['both', { token_endpoint_auth_method: 'private_key_jwt', jwks, jwks_uri: 'https://app.example.com/jwks' }],
      ['http jwks_uri', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://app.example.com/jwks' }],
      ['loopback http jwks_uri', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://127.0.0.1/jwks' }],
      ['jwks_uri with credentials', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://u:p@app.example.com/jwks' }],
      ['empty set', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } }],
      ['private key', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [privateJwk()] } }],
      ['symmetric key', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }],
      ['short RSA key', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk('rsa', { bits: 1024 })] } }],
      ['encryption key', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk('ec', { use: 'enc' })] } }],
      ['HMAC alg', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk('ec', { alg: 'HS256' })] } }],
      ['alg of another key type', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk('ec', { alg: 'RS256' })] } }],
      ['P-384', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' }) }] } }],
      ['not a key', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }] } }],
      ['duplicate kids', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk('ec', { kid: 'a' }), publicJwk('ec', { kid: 'a' })] } }],
      ['too many keys', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: Array.from({ length: 11 }, () => publicJwk('ed25519')) } }],
    ];
    for (const [label, extra] of cases) {
      assert.throws(() => validateClientMetadata({ redirect_uris: [REDIRECT], ...extra }), InvalidClientMetadata, label);
    }
  });

  it('skips keys for other purposes in a published set, but never tolerates a private key in it', () => {
    const signing = publicJwk('ec', { kid: 'sig' });
    const parsed = parseClientJwks({ keys: [publicJwk('rsa', { use: 'enc' }), { kty: 'EC', crv: 'P-521', x: 'AA', y: 'AA' }, signing] }, { lenient: true });
    assert.deepEqual(parsed.keys.map((key) => key.kid), ['sig']);
    assert.throws(() => parseClientJwks({ keys: [signing, privateJwk()] }, { lenient: true }), InvalidClientKey);
    assert.throws(() => parseClientJwks({ keys: [publicJwk('rsa', { use: 'enc' })] }, { lenient: true }), /no usable signing key/);
  });

  it('says which algorithms a key verifies, narrowed by its alg', () => {
    assert.deepEqual(algorithmsForKey({ kty: 'RSA' }), ['RS256', 'PS256']);
    assert.deepEqual(algorithmsForKey({ kty: 'RSA', alg: 'PS256' }), ['PS256']);
    assert.deepEqual(algorithmsForKey({ kty: 'OKP', crv: 'Ed25519' }), ['EdDSA', 'Ed25519']);
    assert.deepEqual(algorithmsForKey({ kty: 'EC', crv: 'P-256' }), ['ES256']);
  });

  it('refuses at registration a jwks_uri on an address never fetched from; names wait for the fetch', () => {
    for (const uri of ['https://10.0.0.1/jwks', 'https://169.254.169.254/latest', 'https://[::1]/jwks', 'https://127.0.0.1/jwks']) {
      assert.throws(() => assertJwksUriReachable(uri, { allowLoopback: false }), InvalidClientMetadata, uri);
    }
    assertJwksUriReachable('https://127.0.0.1/jwks', { allowLoopback: true });
    assertJwksUriReachable('https://internal.example.com/jwks', { allowLoopback: false });
    assertJwksUriReachable(undefined, { allowLoopback: false });
  });
});
