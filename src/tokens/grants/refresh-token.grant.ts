import { Injectable } from '@nestjs/common';
import { randomToken, sha256 } from '../../common/crypto.js';
import { InvalidGrant, InvalidScope, InvalidTarget, UnauthorizedClient } from '../../common/oauth-errors.js';
import { requiredParam, stringParam } from '../../common/oauth-body.decorator.js';
import { requestIdOf } from '../../common/http.js';
import { Database } from '../../database/database.module.js';
import { AuditLog } from '../../audit/audit-log.js';
import { canonicalResource, ResourcesService } from '../../resources/resources.service.js';
import { GrantRepository, RefreshTokenRepository, type PresentedRefreshToken } from '../grant.repository.js';
import type { ClientEntity } from '../../registration/client.entity.js';
import { CLIENT_USE_RESOLUTION_MS, ClientsService } from '../../registration/clients.service.js';
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
    private readonly clients: ClientsService,
  ) {}

  async handle({ client, params, req }: GrantContext): Promise<TokenResponse> {
    if (!client.metadata.grant_types.includes('refresh_token')) {
      throw new UnauthorizedClient('client is not registered for the refresh_token grant');
    }
    const tokenHash = sha256(requiredParam(params, 'refresh_token', 512));
    const scopeParam = stringParam(params, 'scope');
    const resourceParam = stringParam(params, 'resource', 2000);

    // One read, then one statement that rotates, stores the successor and writes the event (no BEGIN/COMMIT).
    const presented = await this.refreshTokens.inspect(tokenHash);
    const outcome =
      presented !== null && usable(presented, client.id)
        ? await this.rotate(presented, client, tokenHash, scopeParam, resourceParam, req)
        : { reusedGrant: refusal(presented, client.id) };

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

  private async rotate(
    presented: PresentedRefreshToken,
    client: ClientEntity,
    tokenHash: string,
    scopeParam: string | undefined,
    resourceParam: string | undefined,
    req: GrantContext['req'],
  ): Promise<{ response: TokenResponse } | { reusedGrant: string }> {
    const resource = await this.resources.get(presented.resourceId);
    if (resourceParam !== undefined && canonicalResource(resourceParam) !== resource.resource) {
      throw new InvalidTarget('resource does not match the one this refresh token was issued for');
    }
    const scopes = narrowedScopes(scopeParam, presented.scopes);
    const successor = REFRESH_TOKEN_PREFIX + randomToken();
    const { response, claims } = this.minter.sign({ grantId: presented.grantId, userId: presented.userId, client, resource, scopes }, successor);
    const stale = !client.lastUsedAt || Date.now() - client.lastUsedAt.getTime() >= CLIENT_USE_RESOLUTION_MS;
    const written = await this.audit.recordWith(
      this.refreshTokens.rotation({
        tokenHash,
        grantId: presented.grantId,
        successorHash: sha256(successor),
        successorExpiresAt: new Date(Date.now() + resource.refreshTokenTtl * 1000),
        recordUseOf: stale ? client.id : null,
        useResolutionSeconds: CLIENT_USE_RESOLUTION_MS / 1000,
      }),
      [
        {
          // RFC 6749 §5.1: the refresh token keeps the grant's scope; the response's scope is the access token's.
          type: 'token.refreshed',
          clientId: client.id,
          subject: presented.userId,
          resource: resource.resource,
          requestId: requestIdOf(req) ?? null,
          data: { grant_id: presented.grantId, jti: claims.jti, scopes },
        },
      ],
    );
    if (written.length > 0) {
      // The statement recorded the use (if the cached one was stale): the cache learns it, so the next hour skips it.
      if (stale) this.clients.useRecorded(this.database.manager, client.id, new Date());
      return { response };
    }
    // Something won the race since the read (a concurrent refresh, a revocation): the signed token is discarded.
    const now = await this.refreshTokens.inspect(tokenHash);
    return { reusedGrant: refusal(now, client.id) };
  }
}

/** Whether the token can be rotated by this client now. */
function usable(token: PresentedRefreshToken, clientId: string): boolean {
  return token.clientId === clientId && !token.rotated && !token.revoked && !token.expired;
}

/**
 * Why a token cannot be rotated: throws the answer, or returns the grant to revoke when a rotated token was
 * presented again by its own client (reuse). Another client's token never triggers anything (see the
 * authorization_code grant).
 */
function refusal(token: PresentedRefreshToken | null, clientId: string): string {
  if (!token) throw new InvalidGrant('refresh token is invalid');
  if (token.clientId !== clientId) throw new InvalidGrant('refresh token was issued to another client');
  if (token.rotated) return token.grantId;
  if (token.revoked) throw new InvalidGrant('refresh token has been revoked');
  if (token.expired) throw new InvalidGrant('refresh token has expired');
  throw new InvalidGrant('refresh token could not be rotated; try again');
}

function narrowedScopes(requested: string | undefined, granted: string[]): string[] {
  if (requested === undefined || requested.trim() === '') return granted;
  const scopes = [...new Set(requested.split(' ').filter(Boolean))];
  const wider = scopes.filter((scope) => !granted.includes(scope));
  if (wider.length) throw new InvalidScope(`scope exceeds what was granted: ${wider.join(' ')}`);
  return scopes;
}
