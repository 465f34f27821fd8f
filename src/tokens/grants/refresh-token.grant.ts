import { Injectable } from '@nestjs/common';
import { sha256 } from '../../common/crypto.js';
import { InvalidGrant, InvalidScope, InvalidTarget, UnauthorizedClient } from '../../common/oauth-errors.js';
import { requiredParam, stringParam } from '../../common/oauth-body.decorator.js';
import { requestIdOf } from '../../common/http.js';
import { Database } from '../../database/database.module.js';
import { AuditLog } from '../../audit/audit-log.js';
import { canonicalResource, ResourcesService } from '../../resources/resources.service.js';
import { GrantRepository, RefreshTokenRepository } from '../grant.repository.js';
import { TokenMinter } from '../token-minter.js';
import { GrantsService } from '../grants.service.js';
import type { GrantContext, GrantHandler, TokenResponse } from './grant-handler.js';

/**
 * refresh_token (OAuth 2.1 §4.3) with rotation on every use. Presenting a token that was already rotated is
 * treated as theft (RFC 9700 §4.14.2): the whole grant is revoked — its refresh tokens and access tokens — and
 * `refresh_token.reuse_detected` is recorded. A narrower `scope` may be asked for; the new refresh token keeps
 * the grant's full scope (RFC 6749 §6).
 */
@Injectable()
export class RefreshTokenGrant implements GrantHandler {
  readonly grantType = 'refresh_token';

  constructor(
    private readonly database: Database,
    private readonly grants: GrantRepository,
    private readonly refreshTokens: RefreshTokenRepository,
    private readonly resources: ResourcesService,
    private readonly minter: TokenMinter,
    private readonly audit: AuditLog,
    private readonly grantsService: GrantsService,
  ) {}

  async handle({ client, params, req }: GrantContext): Promise<TokenResponse> {
    if (!client.metadata.grant_types.includes('refresh_token')) {
      throw new UnauthorizedClient('client is not registered for the refresh_token grant');
    }
    const presented = requiredParam(params, 'refresh_token', 512);
    const scopeParam = stringParam(params, 'scope');
    const resourceParam = stringParam(params, 'resource', 2000);
    const tokenHash = sha256(presented);

    type Outcome = { response: TokenResponse } | { reusedGrant: string };
    const outcome = await this.database.transaction(async (tx): Promise<Outcome> => {
      const current = await this.refreshTokens.rotate(tx, tokenHash);
      if (!current) {
        const known = await this.refreshTokens.findByHash(tx, tokenHash);
        if (known?.rotatedAt) {
          // Only the client the token belongs to can trigger reuse detection; see the authorization_code grant.
          const owner = await this.grants.findById(known.grantId, tx);
          if (owner && owner.clientId !== client.id) throw new InvalidGrant('refresh token was issued to another client');
          return { reusedGrant: known.grantId };
        }
        throw new InvalidGrant(known ? 'refresh token has expired' : 'refresh token is invalid');
      }
      const grant = await this.grants.findById(current.grantId, tx);
      if (!grant || grant.revokedAt) throw new InvalidGrant('refresh token has been revoked');
      if (grant.clientId !== client.id) throw new InvalidGrant('refresh token was issued to another client');

      const resource = await this.resources.get(grant.resourceId, tx);
      if (resourceParam !== undefined && canonicalResource(resourceParam) !== resource.resource) {
        throw new InvalidTarget('resource does not match the one this refresh token was issued for');
      }
      const scopes = narrowedScopes(scopeParam, grant.scopes);
      const { response, claims } = await this.minter.mint(tx, { grantId: grant.id, userId: grant.userId, client, resource, scopes, parentHash: tokenHash });
      // RFC 6749 §5.1: the refresh token keeps the grant's scope; the response's scope is the access token's.
      await this.audit.record(tx, {
        type: 'token.refreshed',
        clientId: client.id,
        subject: grant.userId,
        resource: resource.resource,
        requestId: requestIdOf(req) ?? null,
        data: { grant_id: grant.id, jti: claims.jti, scopes },
      });
      return { response };
    });

    if ('response' in outcome) return outcome.response;
    await this.database.transaction(async (tx) => {
      const requestId = requestIdOf(req) ?? null;
      const grant = await this.grants.findById(outcome.reusedGrant, tx);
      // The detection first, then (if it was still live) the revocation it caused: events in causal order.
      await this.audit.record(tx, {
        type: 'refresh_token.reuse_detected',
        clientId: client.id,
        subject: grant?.userId ?? null,
        requestId,
        data: { grant_id: outcome.reusedGrant },
      });
      if (grant) await this.grantsService.revoke(tx, grant, 'refresh_token_reuse', requestId);
    });
    throw new InvalidGrant('refresh token was already used; the grant has been revoked');
  }
}

function narrowedScopes(requested: string | undefined, granted: string[]): string[] {
  if (requested === undefined || requested.trim() === '') return granted;
  const scopes = [...new Set(requested.split(' ').filter(Boolean))];
  const wider = scopes.filter((scope) => !granted.includes(scope));
  if (wider.length) throw new InvalidScope(`scope exceeds what was granted: ${wider.join(' ')}`);
  return scopes;
}
