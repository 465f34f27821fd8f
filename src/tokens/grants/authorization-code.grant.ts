import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { randomToken, safeEqual, sha256 } from '../../common/crypto.js';
import { InvalidGrant, InvalidRequest, InvalidTarget } from '../../common/oauth-errors.js';
import { requiredParam, stringParam } from '../../common/oauth-body.decorator.js';
import { requestIdOf } from '../../common/http.js';
import { Database } from '../../database/database.module.js';
import { AuditLog } from '../../audit/audit-log.js';
import { AuthorizationCodeRepository } from '../../authorization/authorization-code.repository.js';
import { canonicalResource, ResourcesService } from '../../resources/resources.service.js';
import { GrantRepository } from '../grant.repository.js';
import { REFRESH_TOKEN_PREFIX, TokenMinter } from '../token-minter.js';
import { GrantsService } from '../grants.service.js';
import type { GrantContext, GrantHandler, TokenResponse } from './grant-handler.js';

/** RFC 7636 §4.1: 43–128 characters of [A-Z a-z 0-9 - . _ ~]. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * authorization_code (OAuth 2.1 §4.1.3): the code is consumed atomically in the same transaction that creates
 * the grant and its tokens; any failed check rolls the consumption back. A code presented after it was used
 * revokes the grant it produced (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3).
 */
@Injectable()
export class AuthorizationCodeGrant implements GrantHandler {
  readonly grantType = 'authorization_code';

  constructor(
    private readonly database: Database,
    private readonly codes: AuthorizationCodeRepository,
    private readonly grants: GrantRepository,
    private readonly resources: ResourcesService,
    private readonly minter: TokenMinter,
    private readonly audit: AuditLog,
    private readonly grantsService: GrantsService,
  ) {}

  async handle({ client, params, req }: GrantContext): Promise<TokenResponse> {
    const code = requiredParam(params, 'code', 512);
    const verifier = stringParam(params, 'code_verifier', 512);
    const redirectUri = stringParam(params, 'redirect_uri', 2000);
    const resourceParam = stringParam(params, 'resource', 2000);
    if (verifier === undefined) throw new InvalidRequest("missing required parameter 'code_verifier' (PKCE is required)");
    if (!CODE_VERIFIER.test(verifier)) throw new InvalidRequest('code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~');
    const codeHash = sha256(code);

    type Outcome = { response: TokenResponse } | { replayedGrant: string | null; userId: string };
    const outcome = await this.database.transaction(async (tx): Promise<Outcome> => {
      const stored = await this.codes.consume(tx, codeHash);
      if (!stored) {
        const known = await this.codes.findByHash(tx, codeHash);
        // Another client's code is refused without revoking anything (as node-oidc-provider): otherwise anyone who
        // registers a client could revoke someone else's grant with a leaked, already-used code.
        if (known && known.clientId !== client.id) throw new InvalidGrant('authorization code was issued to another client');
        if (known?.consumedAt) return { replayedGrant: known.grantId, userId: known.userId };
        throw new InvalidGrant(known && !known.consumedAt ? 'authorization code has expired' : 'authorization code is invalid');
      }
      if (stored.clientId !== client.id) throw new InvalidGrant('authorization code was issued to another client');
      if (redirectUri !== undefined && redirectUri !== stored.redirectUri) {
        throw new InvalidGrant('redirect_uri does not match the one used in the authorization request');
      }
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (!safeEqual(challenge, stored.codeChallenge)) throw new InvalidGrant('PKCE verification failed: code_verifier does not match code_challenge');

      const resource = await this.resources.get(stored.resourceId, tx);
      if (resourceParam !== undefined && canonicalResource(resourceParam) !== resource.resource) {
        throw new InvalidTarget('resource does not match the one the code was issued for');
      }
      const refreshToken = client.metadata.grant_types.includes('refresh_token') ? REFRESH_TOKEN_PREFIX + randomToken() : undefined;
      const grantId = await this.grants.insertFromCode(tx, {
        userId: stored.userId,
        clientId: client.id,
        resourceId: resource.id,
        scopes: stored.scopes,
        codeHash,
        refreshToken: refreshToken ? { hash: sha256(refreshToken), expiresAt: new Date(Date.now() + resource.refreshTokenTtl * 1000) } : null,
      });
      const { response, claims } = await this.minter.mint(tx, { grantId, userId: stored.userId, client, resource, scopes: stored.scopes, parentHash: null, storedRefreshToken: refreshToken });
      await this.audit.record(tx, {
        type: 'token.issued',
        clientId: client.id,
        subject: stored.userId,
        resource: resource.resource,
        requestId: requestIdOf(req) ?? null,
        data: { grant_type: this.grantType, grant_id: grantId, jti: claims.jti, scopes: stored.scopes, refresh_token: response.refresh_token !== undefined },
      });
      return { response };
    });

    if ('response' in outcome) return outcome.response;
    await this.revokeReplayed(outcome.replayedGrant, outcome.userId, client.id, requestIdOf(req));
    throw new InvalidGrant('authorization code was already used; the tokens issued from it have been revoked');
  }

  /** Committed on its own: the revocation must stand although the request fails. */
  private async revokeReplayed(grantId: string | null, userId: string, clientId: string, requestId: string | undefined): Promise<void> {
    await this.database.transaction(async (tx) => {
      // The detection first, then (if it was still live) the revocation it caused: events in causal order.
      await this.audit.record(tx, { type: 'authorization_code.replayed', clientId, subject: userId, requestId, data: { grant_id: grantId } });
      if (grantId) await this.grantsService.revoke(tx, { id: grantId, clientId, userId }, 'authorization_code_replayed', requestId);
    });
  }
}
