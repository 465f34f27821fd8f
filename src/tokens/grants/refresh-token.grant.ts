import { Injectable } from '@nestjs/common';
import { randomToken, sha256 } from '../../common/crypto.js';
import type { Tx } from '../../database/data-source.js';
import { InvalidGrant, InvalidScope, InvalidTarget, UnauthorizedClient } from '../../common/oauth-errors.js';
import { requiredParam, stringParam } from '../../common/oauth-body.decorator.js';
import { requestIdOf } from '../../common/http.js';
import { Database } from '../../database/database.module.js';
import { AuditLog } from '../../audit/audit-log.js';
import { canonicalResource, ResourcesService } from '../../resources/resources.service.js';
import { GrantRepository, RefreshTokenRepository } from '../grant.repository.js';
import { REFRESH_TOKEN_PREFIX, TokenMinter } from '../token-minter.js';
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
    const successor = REFRESH_TOKEN_PREFIX + randomToken();
    const outcome = await this.database.transaction(async (tx): Promise<Outcome> => {
      const rotated = await this.refreshTokens.rotateAndReplace(tx, { tokenHash, clientId: client.id, nextHash: sha256(successor) });
      if (!rotated) return this.refusal(tx, tokenHash, client.id);
      const resource = await this.resources.get(rotated.resourceId, tx);
      if (resourceParam !== undefined && canonicalResource(resourceParam) !== resource.resource) {
        throw new InvalidTarget('resource does not match the one this refresh token was issued for');
      }
      const scopes = narrowedScopes(scopeParam, rotated.scopes);
      const { response, claims } = await this.minter.mint(tx, {
        grantId: rotated.grantId,
        userId: rotated.userId,
        client,
        resource,
        scopes,
        parentHash: tokenHash,
        storedRefreshToken: successor,
      });
      // RFC 6749 §5.1: the refresh token keeps the grant's scope; the response's scope is the access token's.
      await this.audit.record(tx, {
        type: 'token.refreshed',
        clientId: client.id,
        subject: rotated.userId,
        resource: resource.resource,
        requestId: requestIdOf(req) ?? null,
        data: { grant_id: rotated.grantId, jti: claims.jti, scopes },
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

  /** Nothing was rotated: says why (reads only; the write path never touched a token it refuses). */
  private async refusal(tx: Tx, tokenHash: string, clientId: string): Promise<{ reusedGrant: string }> {
    const known = await this.refreshTokens.findByHash(tx, tokenHash);
    if (!known) throw new InvalidGrant('refresh token is invalid');
    const owner = await this.grants.findById(known.grantId, tx);
    // Only the client the token belongs to can trigger reuse detection; see the authorization_code grant.
    if (owner && owner.clientId !== clientId) throw new InvalidGrant('refresh token was issued to another client');
    if (known.rotatedAt) return { reusedGrant: known.grantId };
    if (!owner || owner.revokedAt) throw new InvalidGrant('refresh token has been revoked');
    throw new InvalidGrant('refresh token has expired');
  }
}

function narrowedScopes(requested: string | undefined, granted: string[]): string[] {
  if (requested === undefined || requested.trim() === '') return granted;
  const scopes = [...new Set(requested.split(' ').filter(Boolean))];
  const wider = scopes.filter((scope) => !granted.includes(scope));
  if (wider.length) throw new InvalidScope(`scope exceeds what was granted: ${wider.join(' ')}`);
  return scopes;
}
