import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { KeyService } from '../keys/key.service.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';

/** RFC 9068 §2.2 claims, plus `grant_id` so that revoking a grant reaches its access tokens too. */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  iat: number;
  exp: number;
  jti: string;
  grant_id: string;
}

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

  issue(input: { userId: string; clientId: string; resource: ResourceServerEntity; scopes: string[]; grantId: string }): IssuedAccessToken {
    const iat = Math.floor(Date.now() / 1000);
    const expiresIn = input.resource.accessTokenTtl;
    const claims: AccessTokenClaims = {
      iss: this.config.issuer,
      sub: input.userId,
      aud: input.resource.resource,
      client_id: input.clientId,
      scope: input.scopes.join(' '),
      iat,
      exp: iat + expiresIn,
      jti: randomUUID(),
      grant_id: input.grantId,
    };
    return { token: this.keys.signJwt({ ...claims }, 'at+jwt'), claims, expiresIn };
  }
}
