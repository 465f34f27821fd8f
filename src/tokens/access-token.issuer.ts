import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { KeyService } from '../keys/key.service.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import type { IdentityClaims } from '../resources/identity-claims.js';

/**
 * RFC 9068 §2.2 claims, plus `grant_id` so that revoking a grant reaches its access tokens too, plus the identity
 * claims (§2.2.3.1) the resource server opted into.
 */
export interface AccessTokenClaims extends IdentityClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  iat: number;
  exp: number;
  jti: string;
  grant_id: string;
  /** RFC 9449 §6.1: the thumbprint of the key the token is bound to (DPoP); absent for a bearer token. */
  cnf?: { jkt: string };
}

/** What an access token needs of its resource server: the audience and the lifetime. */
export type TokenAudience = Pick<ResourceServerEntity, 'resource' | 'accessTokenTtl'>;

export interface IssuedAccessToken {
  token: string;
  claims: AccessTokenClaims;
  expiresIn: number;
}

@Injectable()
export class AccessTokenIssuer {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly keys: KeyService,
  ) {}

  /**
   * `subject`: the grant's (its `sub`); `identity`: the grant's identity claims, which never replace a registered
   * claim (they come first and the registered ones are written over them). `jti`: one the caller chose already (the
   * refresh grant records it before it signs); a new one otherwise. `jkt`: the DPoP key to bind the token to.
   */
  issue(input: { subject: string; identity: IdentityClaims; clientId: string; resource: TokenAudience; scopes: string[]; grantId: string; jti?: string; jkt?: string }): IssuedAccessToken {
    const iat = Math.floor(Date.now() / 1000);
    const expiresIn = input.resource.accessTokenTtl;
    const claims: AccessTokenClaims = {
      ...input.identity,
      iss: this.config.issuer,
      sub: input.subject,
      aud: input.resource.resource,
      client_id: input.clientId,
      scope: input.scopes.join(' '),
      iat,
      exp: iat + expiresIn,
      jti: input.jti ?? randomUUID(),
      grant_id: input.grantId,
      ...(input.jkt === undefined ? {} : { cnf: { jkt: input.jkt } }),
    };
    return { token: this.keys.signJwt({ ...claims }, 'at+jwt'), claims, expiresIn };
  }
}
