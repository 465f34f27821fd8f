import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { InvalidClientMetadata } from '../common/oauth-errors.js';
import { isWebUrl } from '../common/validation.js';
import { isAddressAllowed } from './address-policy.js';

/**
 * The public keys a `private_key_jwt` client (RFC 7523 §2.2, OIDC Core §9) signs its client assertions with: a JWK
 * Set given inline (`jwks`) or published at an https `jwks_uri` (RFC 7591 §2).
 */

/**
 * The signature algorithms a client assertion may use: asymmetric only (never `none` or an HMAC, whose key would
 * be a shared secret). `Ed25519` is RFC 9864's fully-specified name for what `EdDSA` means with an Ed25519 key;
 * oauth4webapi, for one, writes it.
 */
export const CLIENT_ASSERTION_ALGS = ['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519'] as const;
export type ClientAssertionAlg = (typeof CLIENT_ASSERTION_ALGS)[number];

/** A public JWK as Gatehouse keeps it: only the members that say what the key is and what it may do. */
export interface ClientJwk {
  kty: 'EC' | 'RSA' | 'OKP';
  kid?: string;
  alg?: ClientAssertionAlg;
  use?: 'sig';
  crv?: 'P-256' | 'Ed25519';
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

export interface ClientJwks {
  keys: ClientJwk[];
}

const MAX_KEYS = 10;
const MAX_KID_LENGTH = 200;
const MIN_RSA_BITS = 2048;
/** Members that only a private or symmetric key has: a set that carries any of them is refused whole. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const KEPT_MEMBERS = ['kty', 'kid', 'alg', 'use', 'crv', 'x', 'y', 'n', 'e'] as const;

/** Which algorithms a key can verify, by its type and curve. */
export function algorithmsForKey(jwk: Pick<ClientJwk, 'kty' | 'crv' | 'alg'>): readonly ClientAssertionAlg[] {
  const byType: readonly ClientAssertionAlg[] =
    jwk.kty === 'EC' && jwk.crv === 'P-256' ? ['ES256'] : jwk.kty === 'RSA' ? ['RS256', 'PS256'] : jwk.kty === 'OKP' && jwk.crv === 'Ed25519' ? ['EdDSA', 'Ed25519'] : [];
  if (!jwk.alg) return byType;
  // EdDSA and Ed25519 name the same signature with an Ed25519 key (RFC 9864): a key labelled with either takes both.
  return byType.filter((alg) => alg === jwk.alg || (jwk.kty === 'OKP' && (jwk.alg === 'EdDSA' || jwk.alg === 'Ed25519')));
}

export class InvalidClientKey extends Error {}

/**
 * Validates a JWK Set a client registered or published. Every key must be a public signing key of a supported type
 * (EC P-256, RSA of at least 2048 bits, OKP Ed25519) that Node can import; a private or symmetric key anywhere
 * refuses the set (whoever published it has leaked it). `lenient` (a published set, which may also hold keys for
 * other purposes) skips encryption keys and unsupported types instead of refusing them; at least one key must remain.
 */
export function parseClientJwks(value: unknown, { lenient = false }: { lenient?: boolean } = {}): ClientJwks {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Array.isArray((value as { keys?: unknown }).keys)) {
    throw new InvalidClientKey('the JWK Set must be an object with a "keys" array');
  }
  const input = (value as { keys: unknown[] }).keys;
  if (input.length > (lenient ? MAX_KEYS * 2 : MAX_KEYS)) throw new InvalidClientKey(`the JWK Set holds more than ${MAX_KEYS} keys`);
  const keys: ClientJwk[] = [];
  for (const [at, candidate] of input.entries()) {
    if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) throw new InvalidClientKey(`key ${at} is not a JSON object`);
    const jwk = candidate as Record<string, unknown>;
    if (PRIVATE_MEMBERS.some((member) => jwk[member] !== undefined) || jwk.kty === 'oct') {
      throw new InvalidClientKey(`key ${at} is a private or symmetric key; publish only public keys`);
    }
    const unusable = unusableReason(jwk);
    if (unusable) {
      if (lenient) continue;
      throw new InvalidClientKey(`key ${at} ${unusable}`);
    }
    const kept: Record<string, unknown> = {};
    for (const member of KEPT_MEMBERS) if (jwk[member] !== undefined) kept[member] = jwk[member];
    keys.push(kept as unknown as ClientJwk);
  }
  if (keys.length === 0) throw new InvalidClientKey('the JWK Set holds no usable signing key');
  if (keys.length > MAX_KEYS) throw new InvalidClientKey(`the JWK Set holds more than ${MAX_KEYS} signing keys`);
  const kids = keys.flatMap((key) => (key.kid === undefined ? [] : [key.kid]));
  if (new Set(kids).size !== kids.length) throw new InvalidClientKey('two keys share a kid');
  return { keys };
}

/** Why a public JWK cannot verify client assertions, or null if it can. */
function unusableReason(jwk: Record<string, unknown>): string | null {
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'is not a signing key (use must be "sig")';
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return 'is not a verification key (key_ops lacks "verify")';
  if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid.length === 0 || jwk.kid.length > MAX_KID_LENGTH)) {
    return `has a kid that is not a string of 1 to ${MAX_KID_LENGTH} characters`;
  }
  const kty = jwk.kty;
  if (kty !== 'EC' && kty !== 'RSA' && kty !== 'OKP') return 'has an unsupported kty (use EC, RSA or OKP)';
  if (kty === 'EC' && jwk.crv !== 'P-256') return 'is an EC key on a curve other than P-256';
  if (kty === 'OKP' && jwk.crv !== 'Ed25519') return 'is an OKP key other than Ed25519';
  const members = kty === 'RSA' ? ['n', 'e'] : kty === 'EC' ? ['x', 'y'] : ['x'];
  if (members.some((member) => typeof jwk[member] !== 'string')) return `lacks ${members.join(', ')}`;
  if (jwk.alg !== undefined) {
    if (typeof jwk.alg !== 'string' || !(CLIENT_ASSERTION_ALGS as readonly string[]).includes(jwk.alg)) {
      return `names an algorithm other than ${CLIENT_ASSERTION_ALGS.join(', ')}`;
    }
    if (algorithmsForKey({ kty, crv: jwk.crv as ClientJwk['crv'], alg: jwk.alg as ClientAssertionAlg }).length === 0) return `cannot be used with ${jwk.alg}`;
  }
  try {
    const publicMembers = Object.fromEntries(['kty', 'crv', 'x', 'y', 'n', 'e'].flatMap((m) => (jwk[m] === undefined ? [] : [[m, jwk[m]]])));
    const key = createPublicKey({ key: publicMembers, format: 'jwk' });
    if (kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return `is an RSA key shorter than ${MIN_RSA_BITS} bits`;
  } catch {
    return 'is not a valid public key';
  }
  return null;
}

/**
 * The registration rules for a client's keys: `private_key_jwt` needs exactly one of `jwks` and `jwks_uri`, and any
 * other method neither (they would be keys nothing checks). Returns what to store.
 */
export function validateClientKeyMetadata(method: string, input: Record<string, unknown>): { jwks?: ClientJwks; jwks_uri?: string } {
  const hasJwks = input.jwks !== undefined && input.jwks !== null;
  const hasUri = input.jwks_uri !== undefined && input.jwks_uri !== null;
  if (method !== 'private_key_jwt') {
    if (hasJwks || hasUri) throw new InvalidClientMetadata('jwks and jwks_uri are only used with token_endpoint_auth_method private_key_jwt');
    return {};
  }
  if (hasJwks === hasUri) throw new InvalidClientMetadata('private_key_jwt needs exactly one of jwks and jwks_uri');
  if (hasUri) {
    if (typeof input.jwks_uri !== 'string' || !isWebUrl(input.jwks_uri, { allowLoopbackHttp: false })) {
      throw new InvalidClientMetadata('jwks_uri must be an https URL of at most 2000 characters, without fragment or credentials');
    }
    return { jwks_uri: input.jwks_uri };
  }
  try {
    return { jwks: parseClientJwks(input.jwks) };
  } catch (error) {
    if (error instanceof InvalidClientKey) throw new InvalidClientMetadata(`jwks: ${error.message}`);
    throw error;
  }
}

/**
 * Refuses at registration a `jwks_uri` whose host is an IP address Gatehouse would never fetch from (private,
 * link-local, …). Names are judged when they are resolved, at each fetch (MetadataFetcher), as for CIMD documents.
 */
export function assertJwksUriReachable(jwksUri: string | undefined, { allowLoopback }: { allowLoopback: boolean }): void {
  if (jwksUri === undefined) return;
  const host = new URL(jwksUri).hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) && !isAddressAllowed(host, { allowLoopback })) {
    throw new InvalidClientMetadata('jwks_uri must name a host on a public address');
  }
}
