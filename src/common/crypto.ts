import { createCipheriv, createDecipheriv, createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A random, URL-safe token with `bytes` bytes of entropy (default 256 bits). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Secrets, codes and refresh tokens are random 256-bit values, so one SHA-256 pass is the right storage hash:
 * a slow KDF adds nothing against brute force of a 256-bit space, and the hash can be indexed for lookup.
 * (Base64url of the UTF-8 bytes, as PKCE's S256 and DPoP's `ath` also want.) crypto.hash, the one-shot form, takes
 * a third of createHash's time: it builds no Hash object.
 */
export function sha256(value: string): string {
  return hash('sha256', value, 'base64url');
}

export function hmac(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('base64url');
}

/**
 * Whether two sha256() digests are equal, in constant time. A digest's length is public (always 43 characters), so
 * unlike safeEqual nothing is hashed again; a value of another length (an empty or damaged one) matches nothing.
 */
export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether `value` is what `storedHash` (its sha256()) was made from: one hash, compared in constant time. */
export function hashMatches(value: string, storedHash: string): boolean {
  return digestsEqual(sha256(value), storedHash);
}

/** Constant-time string equality; the lengths are compared on digests so they leak nothing either. */
export function safeEqual(a: string, b: string): boolean {
  const da = hash('sha256', a, 'buffer');
  const db = hash('sha256', b, 'buffer');
  return timingSafeEqual(da, db) && a.length === b.length;
}

/** AES-256-GCM: iv.ciphertext.tag, base64url. `context` is bound as additional data. */
export function encrypt(key: Buffer, plaintext: string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [iv, body, cipher.getAuthTag()].map((part) => part.toString('base64url')).join('.');
}

/**
 * A sealed value did not authenticate: sealed with another key (the usual case: ENCRYPTION_KEY changed), under
 * another context, or altered. Callers say which of their values it was and what the operator can do.
 */
export class SealedValueUnreadable extends Error {
  constructor(readonly context: string) {
    super(`the sealed value for ${context} cannot be opened with this key`);
    this.name = 'SealedValueUnreadable';
  }
}

export function decrypt(key: Buffer, sealed: string, context: string): string {
  const [iv, body, tag] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
  if (!iv || !body || !tag) throw new Error('malformed sealed value');
  // Pin the tag to the full 16 bytes encrypt() writes: GCM would otherwise accept a truncated tag (down to 4 bytes).
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    // node:crypto says only "Unsupported state or unable to authenticate data".
    throw new SealedValueUnreadable(context);
  }
}
