import { Injectable } from '@nestjs/common';
import { randomToken, sha256 } from '../common/crypto.js';
import type { Tx } from '../database/data-source.js';
import type { ClientEntity } from '../registration/client.entity.js';
import { ClientsService } from '../registration/clients.service.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { AccessTokenIssuer, type AccessTokenClaims, type TokenAudience } from './access-token.issuer.js';
import { RefreshTokenRepository } from './grant.repository.js';
import type { TokenResponse } from './grants/grant-handler.js';
import type { IdentityClaims } from '../resources/identity-claims.js';

export const REFRESH_TOKEN_PREFIX = 'gh_rt_';

export interface MintInput {
  grantId: string;
  /** The grant's `sub` and identity claims. */
  subject: string;
  identity: IdentityClaims;
  client: ClientEntity;
  resource: ResourceServerEntity;
  /** Scopes for this access token: the grant's, or a subset asked for at refresh. */
  scopes: string[];
  /** The refresh token this one replaces, when rotating. */
  parentHash: string | null;
  /** A successor refresh token the caller has already stored (the refresh grant writes it with the rotation). */
  storedRefreshToken?: string;
}

/**
 * Writes the next refresh token of a grant (inside the caller's transaction) and signs the access token.
 * A client that did not register the refresh_token grant gets no refresh token (RFC 7591 §2 grant_types).
 * Every grant that issues tokens comes through here (authorization_code, refresh_token, the mint API), so this is
 * also where a client's use is recorded — in the same transaction, and only when the recorded use is stale.
 */
@Injectable()
export class TokenMinter {
  constructor(
    private readonly accessTokens: AccessTokenIssuer,
    private readonly refreshTokens: RefreshTokenRepository,
    private readonly clients: ClientsService,
  ) {}

  async mint(tx: Tx, input: MintInput): Promise<{ response: TokenResponse; claims: AccessTokenClaims }> {
    await this.clients.recordUse(tx, input.client);
    let refreshToken = input.storedRefreshToken;
    if (refreshToken === undefined && input.client.metadata.grant_types.includes('refresh_token')) {
      refreshToken = REFRESH_TOKEN_PREFIX + randomToken();
      await this.refreshTokens.insert(tx, {
        tokenHash: sha256(refreshToken),
        grantId: input.grantId,
        parentHash: input.parentHash,
        expiresAt: new Date(Date.now() + input.resource.refreshTokenTtl * 1000),
      });
    }
    return this.sign(input, refreshToken);
  }

  /**
   * Signs the access token and shapes the response; writes nothing (the caller stored `refreshToken`, if any).
   * `jti`: the one the caller already recorded, if it did. `jkt`: the DPoP key the access token is bound to, if any.
   */
  sign(
    input: Pick<MintInput, 'grantId' | 'subject' | 'identity' | 'client' | 'scopes'> & { resource: TokenAudience; jti?: string; jkt?: string },
    refreshToken: string | undefined,
  ): { response: TokenResponse; claims: AccessTokenClaims } {
    const access = this.accessTokens.issue({
      subject: input.subject,
      identity: input.identity,
      clientId: input.client.id,
      resource: input.resource,
      scopes: input.scopes,
      grantId: input.grantId,
      jti: input.jti,
      jkt: input.jkt,
    });
    const response: TokenResponse = {
      access_token: access.token,
      token_type: input.jkt === undefined ? 'Bearer' : 'DPoP',
      expires_in: access.expiresIn,
      scope: access.claims.scope,
    };
    if (refreshToken) response.refresh_token = refreshToken;
    return { response, claims: access.claims };
  }
}
