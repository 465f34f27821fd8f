import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { decrypt, digestsEqual, encrypt, hashMatches, hmac, randomToken, safeEqual, SealedValueUnreadable, sha256 } from './crypto.js';

/** Flips one bit of one base64url part of a sealed `iv.body.tag` value. */
function flipBit(sealed: string, part: 0 | 1 | 2): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[0] = bytes[0]! ^ 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('sha256', () => {
  it('is the base64url SHA-256 digest of the UTF-8 text', () => {
    const value = randomToken();
    assert.equal(sha256(value), createHash('sha256').update(Buffer.from(value, 'utf8')).digest('base64url'));
    assert.equal(sha256('é'), createHash('sha256').update(Buffer.from([0xc3, 0xa9])).digest('base64url'));
    assert.match(sha256(value), /^[A-Za-z0-9_-]{43}$/);
  });

  it('is deterministic and distinguishes inputs', () => {
    const value = randomToken();
    assert.equal(sha256(value), sha256(value));
    assert.notEqual(sha256(value), sha256(value + 'x'));
  });
});

describe('randomToken', () => {
  it('gives URL-safe tokens of the requested entropy, never the same twice', () => {
    assert.match(randomToken(), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(randomToken(24), 'base64url').length, 24);
    assert.notEqual(randomToken(), randomToken());
  });
});

describe('hmac', () => {
  it('depends on both key and message', () => {
    const key = randomBytes(32);
    assert.equal(hmac(key, 'message'), hmac(Buffer.from(key), 'message'));
    assert.notEqual(hmac(key, 'message'), hmac(key, 'message2'));
    assert.notEqual(hmac(key, 'message'), hmac(randomBytes(32), 'message'));
  });
});

describe('hashMatches and digestsEqual', () => {
  it('match a value to its stored digest only', () => {
    const secret = randomToken();
    const stored = sha256(secret);
    assert.equal(hashMatches(secret, stored), true);
    assert.equal(hashMatches(secret + 'x', stored), false);
    assert.equal(hashMatches('', stored), false);
    assert.equal(hashMatches(secret, ''), false, 'an empty stored digest matches nothing');
    assert.equal(hashMatches(secret, stored.slice(0, -1)), false, 'nor a damaged one');
  });

  it('compare digests by their bytes: a character outside ASCII is not read as another', () => {
    const digest = sha256('x');
    assert.equal(digestsEqual(digest, `${digest}`), true);
    // U+0141 truncated to one byte would be 0x41, 'A'.
    const a = `A${digest.slice(1)}`;
    assert.equal(digestsEqual(a, `\u0141${digest.slice(1)}`), false);
    assert.equal(digestsEqual(a, a.toLowerCase()), false);
  });
});

describe('safeEqual', () => {
  it('is true only for identical strings', () => {
    const value = randomToken();
    assert.equal(safeEqual(value, `${value}`), true);
    assert.equal(safeEqual('', ''), true);
    assert.equal(safeEqual(value, value.slice(0, -1)), false, 'prefix');
    assert.equal(safeEqual(value, value + 'A'), false, 'longer');
    assert.equal(safeEqual(value, ''), false, 'empty');
    assert.equal(safeEqual('abc', 'abd'), false, 'same length');
    assert.equal(safeEqual('abc', 'ABC'), false, 'case');
  });
});

describe('encrypt / decrypt', () => {
  const key = randomBytes(32);

  it('round-trips text, including non-ASCII and empty text', () => {
    for (const plaintext of ['-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n', 'ünïcødé ✓', '', randomToken(512)]) {
      assert.equal(decrypt(key, encrypt(key, plaintext, 'signing-key:kid-1'), 'signing-key:kid-1'), plaintext);
    }
  });

  it('seals the same text differently each time (fresh IV), in iv.body.tag form', () => {
    const a = encrypt(key, 'same text', 'ctx');
    const b = encrypt(key, 'same text', 'ctx');
    assert.notEqual(a, b);
    const [iv, , tag] = a.split('.');
    assert.equal(a.split('.').length, 3);
    assert.equal(Buffer.from(iv!, 'base64url').length, 12);
    assert.equal(Buffer.from(tag!, 'base64url').length, 16);
    assert.equal(a.includes('same text'), false);
  });

  it('refuses a different key with a SealedValueUnreadable naming the context', () => {
    const sealed = encrypt(key, 'secret', 'signing-key:kid-1');
    assert.throws(() => decrypt(randomBytes(32), sealed, 'signing-key:kid-1'), (error: unknown) => {
      assert.ok(error instanceof SealedValueUnreadable, String(error));
      assert.equal(error.context, 'signing-key:kid-1');
      return true;
    });
  });

  it('refuses a different context (the additional data binds the value to its owner)', () => {
    const sealed = encrypt(key, 'secret', 'signing-key:kid-1');
    assert.throws(() => decrypt(key, sealed, 'signing-key:kid-2'));
    assert.throws(() => decrypt(key, sealed, ''));
  });

  it('refuses a tampered iv, ciphertext or tag', () => {
    const sealed = encrypt(key, 'a secret long enough to flip bits in', 'ctx');
    for (const part of [0, 1, 2] as const) {
      assert.throws(() => decrypt(key, flipBit(sealed, part), 'ctx'), `part ${part}`);
    }
  });

  it('refuses a truncated authentication tag', () => {
    // GCM tags shorter than 16 bytes are a prefix of the full tag; accepting them makes forgery far cheaper.
    const sealed = encrypt(key, 'secret', 'ctx');
    const [iv, body, tag] = sealed.split('.');
    for (const length of [4, 8, 12, 15]) {
      const short = Buffer.from(tag!, 'base64url').subarray(0, length).toString('base64url');
      assert.throws(() => decrypt(key, [iv, body, short].join('.'), 'ctx'), `${length}-byte tag`);
    }
  });

  it('refuses malformed sealed values', () => {
    const sealed = encrypt(key, 'secret', 'ctx');
    const [iv, body] = sealed.split('.');
    for (const value of ['', 'garbage', `${iv}.${body}`, `${iv}.${body}.`]) {
      assert.throws(() => decrypt(key, value, 'ctx'), JSON.stringify(value));
    }
  });
});
