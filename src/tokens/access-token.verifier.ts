import { Inject, Injectable } from '@nestjs/common';
import { verify } from 'node:crypto';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { KeyService, SIGNING_ALG } from '../keys/key.service.js';
import type { AccessTokenClaims } from './access-token.issuer.js';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Checks that a string is an access token Gatehouse signed: three base64url parts, header `alg` ES256 and
 * `typ` at+jwt with a kid Gatehouse publishes, a valid signature, and our issuer. Expiry is left to the caller
 * (revocation still wants expired tokens' claims; introspection does not). Never throws on bad input.
 */
@Injectable()
export class AccessTokenVerifier {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly keys: KeyService,
  ) {}

  verify(token: string): AccessTokenClaims | null {
    if (token.length > 4096 || !JWT_SHAPE.test(token)) return null;
    const [headerPart, payloadPart, signaturePart] = token.split('.') as [string, string, string];
    const header = parseJson(headerPart);
    if (!header || header.alg !== SIGNING_ALG || header.typ !== 'at+jwt' || typeof header.kid !== 'string') return null;
    const key = this.keys.publicKey(header.kid);
    if (!key) return null;
    const signature = Buffer.from(signaturePart, 'base64url');
    const valid = verify('sha256', Buffer.from(`${headerPart}.${payloadPart}`), { key, dsaEncoding: 'ieee-p1363' }, signature);
    if (!valid) return null;
    const claims = parseJson(payloadPart);
    if (!claims || claims.iss !== this.config.issuer) return null;
    const { sub, aud, client_id, scope, iat, exp, jti, grant_id } = claims;
    if (typeof sub !== 'string' || typeof aud !== 'string' || typeof client_id !== 'string' || typeof scope !== 'string') return null;
    if (typeof iat !== 'number' || typeof exp !== 'number' || typeof jti !== 'string' || typeof grant_id !== 'string') return null;
    return { iss: this.config.issuer, sub, aud, client_id, scope, iat, exp, jti, grant_id };
  }
}

function parseJson(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
