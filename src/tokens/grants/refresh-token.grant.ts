import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { randomToken, sha256 } from '../../common/crypto.js';
import { InvalidDpopProof, InvalidGrant, InvalidScope, InvalidTarget, UnauthorizedClient } from '../../common/oauth-errors.js';
import { requiredParam, stringParam } from '../../common/oauth-body.decorator.js';
import { contextOf } from '../../common/http.js';
import { Database } from '../../database/database.module.js';
import { AuditLog } from '../../audit/audit-log.js';
import { canonicalResource, ResourcesService } from '../../resources/resources.service.js';
import { GrantRepository, RefreshTokenRepository, type PresentedRefreshToken, type RotatedRefreshToken } from '../grant.repository.js';
import type { ClientEntity } from '../../registration/client.entity.js';
import { CLIENT_USE_RESOLUTION_MS, ClientsService } from '../../registration/clients.service.js';
import { REFRESH_TOKEN_PREFIX, TokenMinter } from '../token-minter.js';
import { GrantsService } from '../grants.service.js';
import { KeyService } from '../../keys/key.service.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../../config/config.js';
import type { GrantContext, GrantHandler, TokenResponse } from './grant-handler.js';

/**
 * Most successors a rotated refresh token may get by retries within the grace window, on top of the one its
 * rotation gave: enough for a client's parallel requests that all saw their access token expire, few enough that
 * a stolen token cannot mint a crowd of live siblings. A retry beyond it is reuse.
 */
export const REFRESH_RETRY_LIMIT = 10;

/**
 * refresh_token (OAuth 2.1 §4.3) with rotation on every use. Presenting a token that was already rotated is
 * treated as theft (RFC 9700 §4.14.2): the whole grant is revoked — its refresh tokens and access tokens — and
 * `refresh_token.reuse_detected` is recorded — except for a retry: within REFRESH_REUSE_GRACE_SECONDS of the
 * rotation, while none of its successors has been used, the same client asking for no more than the grant gets
 * another successor and access token (`token.refresh_retried`), at most REFRESH_RETRY_LIMIT times. A narrower
 * `scope` may be asked for; the new refresh token keeps the grant's full scope (RFC 6749 §6).
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
    private readonly keys: KeyService,
    @Inject(GATEHOUSE_CONFIG) private readonly config: Pick<GatehouseConfig, 'refreshReuseGraceSeconds'>,
  ) {}

  async handle({ client, params, req, dpop }: GrantContext): Promise<TokenResponse> {
    if (!client.metadata.grant_types.includes('refresh_token')) {
      throw new UnauthorizedClient('client is not registered for the refresh_token grant');
    }
    const tokenHash = sha256(requiredParam(params, 'refresh_token', 512));
    const scopeParam = stringParam(params, 'scope');
    const resourceParam = stringParam(params, 'resource', 2000);
    const resource = resourceParam === undefined ? null : canonicalResource(resourceParam);
    const jkt = dpop?.jkt ?? null;

    // On success one statement checks, rotates, stores the successor and writes the event (no read before, no
    // BEGIN/COMMIT). A resource that is no URL can match no grant: only the diagnosis is left to do.
    const rotated = resourceParam !== undefined && resource === null ? null : await this.rotate(client, tokenHash, resource, requestedScopes(scopeParam), req, jkt);
    if (rotated) return rotated;

    // Nothing rotated: a second look says why, in the order the checks have always been made.
    const reusedGrant = await this.diagnose(tokenHash, client.id, scopeParam, resourceParam, jkt);
    // A rotated token of this client's: a retry gets another successor; anything else is reuse.
    if (this.config.refreshReuseGraceSeconds > 0) {
      const retried = await this.retry(client, tokenHash, resource, requestedScopes(scopeParam), req, jkt);
      if (retried) return retried;
    }
    await this.database.transaction(async (tx) => {
      const context = contextOf(req);
      const grant = await this.grants.findById(reusedGrant, tx);
      // The detection first, then (if it was still live) the revocation it caused: events in causal order.
      await this.audit.record(tx, {
        type: 'refresh_token.reuse_detected',
        clientId: client.id,
        subject: grant?.userId ?? null,
        request: context,
        data: { grant_id: reusedGrant },
      });
      if (grant) await this.grantsService.revoke(tx, grant, 'refresh_token_reuse', context);
    });
    throw new InvalidGrant('refresh token was already used; the grant has been revoked');
  }

  /**
   * The rotation and its `token.refreshed` event as one statement; then the access token is signed from what the
   * statement found. Null when it rotated nothing (an unknown, used, revoked, expired or foreign token, or a
   * request the grant does not cover).
   */
  private async rotate(
    client: ClientEntity,
    tokenHash: string,
    resource: string | null,
    scopes: string[] | null,
    req: GrantContext['req'],
    jkt: string | null,
  ): Promise<TokenResponse | null> {
    // Signing comes after the commit: a key problem must surface before anything is rotated, not leave the
    // client with a consumed token and no successor.
    this.keys.assertCanSign();
    const successor = REFRESH_TOKEN_PREFIX + randomToken();
    // Chosen before signing so that the event, written first, can name it.
    const jti = randomUUID();
    const stale = !client.lastUsedAt || Date.now() - client.lastUsedAt.getTime() >= CLIENT_USE_RESOLUTION_MS;
    const { row } = await this.audit.recordWith(
      this.refreshTokens.rotation({
        tokenHash,
        clientId: client.id,
        resource,
        scopes,
        successorHash: sha256(successor),
        proofJkt: jkt,
        recordUseOf: stale ? client.id : null,
        useResolutionSeconds: CLIENT_USE_RESOLUTION_MS / 1000,
      }),
      [
        // Subject, resource, grant_id and scopes come from the rotated row. RFC 6749 §5.1: the refresh token keeps
        // the grant's scope; the event's scopes are the access token's.
        { type: 'token.refreshed', clientId: client.id, request: contextOf(req), data: { jti } },
      ],
    );
    if (!row) return null;
    // The statement recorded the use (if the cached one was stale): the cache learns it, so the next hour skips it.
    if (stale) this.clients.useRecorded(this.database.manager, client.id, new Date());
    return this.sign(client, row, jti, successor, jkt);
  }

  /**
   * A retry of a rotation within the grace window: another successor of the presented token (the first one stays
   * valid; neither plaintext is kept, so the same one cannot be sent again) and a new access token, with
   * `token.refresh_retried`, as one statement. Null when the presentation is no retry (see
   * RefreshTokenRepository.retry): then it is reuse.
   */
  private async retry(
    client: ClientEntity,
    tokenHash: string,
    resource: string | null,
    scopes: string[] | null,
    req: GrantContext['req'],
    jkt: string | null,
  ): Promise<TokenResponse | null> {
    this.keys.assertCanSign();
    const successor = REFRESH_TOKEN_PREFIX + randomToken();
    const jti = randomUUID();
    const { row } = await this.audit.recordWith(
      this.refreshTokens.retry({
        tokenHash,
        clientId: client.id,
        resource,
        scopes,
        successorHash: sha256(successor),
        proofJkt: jkt,
        graceSeconds: this.config.refreshReuseGraceSeconds,
        maxRetries: REFRESH_RETRY_LIMIT,
      }),
      [
        // As for the rotation, and `retries` too, come from the retried row.
        { type: 'token.refresh_retried', clientId: client.id, request: contextOf(req), data: { jti } },
      ],
    );
    return row ? this.sign(client, row, jti, successor, jkt) : null;
  }

  /** The new access token is bound to the key the request proved, whether or not the refresh token is (RFC 9449 §5). */
  private sign(client: ClientEntity, row: RotatedRefreshToken, jti: string, successor: string, jkt: string | null): TokenResponse {
    const audience = { resource: row.resource, accessTokenTtl: row.accessTokenTtl };
    return this.minter.sign({ grantId: row.grantId, subject: row.subject, identity: row.claims, client, resource: audience, scopes: row.scopes, jti, jkt: jkt ?? undefined }, successor).response;
  }

  /**
   * Why nothing was rotated: throws the answer, or returns the grant to revoke when a rotated token was presented
   * again by its own client (reuse).
   */
  private async diagnose(tokenHash: string, clientId: string, scopeParam: string | undefined, resourceParam: string | undefined, jkt: string | null): Promise<string> {
    const presented = await this.refreshTokens.inspect(tokenHash);
    // Before reuse is considered: the client's token without its key (or without a proof where one is required) is
    // refused and revokes nothing, as whoever lacks the key could not use a live token either.
    if (presented && presented.clientId === clientId) {
      if (presented.dpopJkt !== null && presented.dpopJkt !== jkt) {
        throw new InvalidGrant('refresh token is bound to a DPoP key: send a DPoP proof made with that key (RFC 9449 §5)');
      }
      if (presented.requireDpop && jkt === null) {
        throw new InvalidDpopProof('this resource server requires DPoP-bound tokens: send a DPoP proof (RFC 9449) with the token request');
      }
    }
    if (presented && usable(presented, clientId)) {
      // The token was fine, so the request asked for more than its grant holds.
      const resource = await this.resources.get(presented.resourceId);
      if (resourceParam !== undefined && canonicalResource(resourceParam) !== resource.resource) {
        throw new InvalidTarget('resource does not match the one this refresh token was issued for');
      }
      const wider = (requestedScopes(scopeParam) ?? []).filter((scope) => !presented.scopes.includes(scope));
      if (wider.length) throw new InvalidScope(`scope exceeds what was granted: ${wider.join(' ')}`);
    }
    return refusal(presented, clientId);
  }
}

/** Whether the token can be rotated by this client now: the statement that read it says whether it can be at all. */
function usable(token: PresentedRefreshToken, clientId: string): boolean {
  return token.clientId === clientId && token.usable;
}

/**
 * Why a token cannot be rotated: throws the answer, or returns the grant to revoke when a rotated token was
 * presented again by its own client (reuse). Another client's token never triggers anything (see the
 * authorization_code grant).
 */
function refusal(token: PresentedRefreshToken | null, clientId: string): string {
  if (!token) throw new InvalidGrant('refresh token is invalid');
  if (token.clientId !== clientId) throw new InvalidGrant('refresh token was issued to another client');
  if (token.userDisabled) throw new InvalidGrant('refresh token has been revoked: the user is disabled');
  if (token.rotated) return token.grantId;
  if (token.revoked) throw new InvalidGrant('refresh token has been revoked');
  if (token.expired) throw new InvalidGrant('refresh token has expired');
  // Usable and covering the request now: whatever stopped the rotation has passed.
  throw new InvalidGrant('refresh token could not be rotated; try again');
}

/** The narrower scopes asked for (each once, in the order given), or null for the grant's. */
function requestedScopes(requested: string | undefined): string[] | null {
  if (requested === undefined || requested.trim() === '') return null;
  return [...new Set(requested.split(' ').filter(Boolean))];
}
