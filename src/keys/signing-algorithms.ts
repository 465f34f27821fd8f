import { constants, generateKeyPair, sign, verify, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { SIGNING_ALGS, type SigningAlg } from '../config/config.js';

/**
 * The public half of a signing key as a JWK (RFC 7517), with exactly the members its RFC 7638 thumbprint covers:
 * EC P-256 for ES256, RSA for RS256, OKP Ed25519 for EdDSA (RFC 8037).
 */
export type PublicKeyJwk = { kty: 'EC'; crv: 'P-256'; x: string; y: string } | { kty: 'RSA'; n: string; e: string } | { kty: 'OKP'; crv: 'Ed25519'; x: string };

/**
 * RSA keys are 2048-bit: enough (NIST SP 800-57 through 2030) for signatures that matter for a day at most, since
 * access tokens live 24 h at most and keys retire; a 3072-bit key signs about ten times slower, and every token is signed.
 */
export const RSA_MODULUS_BITS = 2048;

/** A freshly generated key: its kid (the JWK thumbprint), public JWK, and private half as PKCS#8 PEM. */
export interface KeyMaterial {
  alg: SigningAlg;
  kid: string;
  publicJwk: PublicKeyJwk;
  privateKeyPem: string;
}

export function isSigningAlg(value: string): value is SigningAlg {
  return (SIGNING_ALGS as readonly string[]).includes(value);
}

/** Generates a key pair for `alg` off the event loop (an RSA key takes a few hundred milliseconds). */
export async function generateKeyMaterial(alg: SigningAlg): Promise<KeyMaterial> {
  const { publicKey, privateKey } = await generatePair(alg);
  const publicJwk = publicJwkOf(alg, publicKey);
  return { alg, kid: await calculateJwkThumbprint(publicJwk), publicJwk, privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

/** The JWS signature (RFC 7515) over `data`: ES256 as raw r‖s (RFC 7518 §3.4), RS256 as RSASSA-PKCS1-v1_5 with SHA-256. */
export function signatureOf(alg: SigningAlg, privateKey: KeyObject, data: Buffer): Buffer {
  switch (alg) {
    case 'ES256':
      return sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    case 'RS256':
      return sign('sha256', data, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
    case 'EdDSA':
      return sign(null, data, privateKey);
  }
}

export function signatureValid(alg: SigningAlg, publicKey: KeyObject, data: Buffer, signature: Buffer): boolean {
  switch (alg) {
    case 'ES256':
      return verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
    case 'RS256':
      return verify('sha256', data, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    case 'EdDSA':
      return verify(null, data, publicKey, signature);
  }
}

/** Throws unless `key` is of the kind `alg` signs with: a stored row whose key and alg disagree is never used. */
export function assertKeyFits(alg: SigningAlg, key: KeyObject): void {
  const details = key.asymmetricKeyDetails;
  const fits =
    alg === 'ES256'
      ? key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1'
      : alg === 'RS256'
        ? key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= RSA_MODULUS_BITS
        : key.asymmetricKeyType === 'ed25519';
  if (!fits) throw new Error(`a signing key does not fit its algorithm ${alg}`);
}

function generatePair(alg: SigningAlg): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => (error ? reject(error) : resolve({ publicKey, privateKey }));
    switch (alg) {
      case 'ES256':
        return generateKeyPair('ec', { namedCurve: 'P-256' }, done);
      case 'RS256':
        return generateKeyPair('rsa', { modulusLength: RSA_MODULUS_BITS, publicExponent: 0x10001 }, done);
      case 'EdDSA':
        return generateKeyPair('ed25519', undefined, done);
    }
  });
}

function publicJwkOf(alg: SigningAlg, publicKey: KeyObject): PublicKeyJwk {
  const jwk = publicKey.export({ format: 'jwk' });
  switch (alg) {
    case 'ES256':
      return { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
    case 'RS256':
      return { kty: 'RSA', n: jwk.n!, e: jwk.e! };
    case 'EdDSA':
      return { kty: 'OKP', crv: 'Ed25519', x: jwk.x! };
  }
}
