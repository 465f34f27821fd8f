import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { digestsEqual, randomToken, safeEqual, sha256 } from '../../common/crypto.js';
import { InvalidDpopProof, InvalidGrant, InvalidRequest, InvalidTarget } from '../../common/oauth-errors.js';
import { requiredParam, stringParam } from '../../common/oauth-body.decorator.js';
import { contextOf, type RequestContext } from '../../common/http.js';
import { Database } from '../../database/database.module.js';
import { AuditLog } from '../../audit/audit-log.js';
import { AuthorizationCodeRepository } from '../../authorization/authorization-code.repository.js';
import type { ClientEntity } from '../../registration/client.entity.js';
import { CLIENT_USE_RESOLUTION_MS, ClientsService } from '../../registration/clients.service.js';
import { KeyService } from '../../keys/key.service.js';
import { canonicalResource, ResourcesService } from '../../resources/resources.service.js';
import { REFRESH_TOKEN_PREFIX, TokenMinter } from '../token-minter.js';
import { GrantsService } from '../grants.service.js';
import type { GrantContext, GrantHandler, TokenResponse } from './grant-handler.js';

/** RFC 7636 §4.1: 43–128 characters of [A-Z a-z 0-9 - . _ ~]. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * authorization_code (OAuth 2.1 §4.1.3): the code is consumed in the same statement that checks it and creates the
 * grant and its tokens, so a request that fails a check consumes nothing. A code presented after it was used
 * revokes the grant it produced (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3).
 */
@Injectable()
export class AuthorizationCodeGrant implements GrantHandler {
  readonly grantType = 'authorization_code';

  constructor(
    private readonly database: Database,
    private readonly codes: AuthorizationCodeRepository,
    private readonly resources: ResourcesService,
    private readonly minter: TokenMinter,
    private readonly audit: AuditLog,
    private readonly grantsService: GrantsService,
    private readonly clients: ClientsService,
    private readonly keys: KeyService,
  ) {}

  async handle({ client, params, req, dpop }: GrantContext): Promise<TokenResponse> {
    const code = requiredParam(params, 'code', 512);
    const verifier = stringParam(params, 'code_verifier', 512);
    const redirectUri = stringParam(params, 'redirect_uri', 2000);
    const resourceParam = stringParam(params, 'resource', 2000);
    if (verifier === undefined) throw new InvalidRequest("missing required parameter 'code_verifier' (PKCE is required)");
    if (!CODE_VERIFIER.test(verifier)) throw new InvalidRequest('code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~');
    const codeHash = sha256(code);
    const challenge = sha256(verifier);
    // A resource that is no URL can match no code: only the diagnosis is left to do.
    const resource = resourceParam === undefined ? null : canonicalResource(resourceParam);
    const exchanged = resourceParam !== undefined && resource === null ? null : await this.exchange(client, codeHash, challenge, redirectUri ?? null, resource, req, dpop?.jkt);
    if (exchanged) return exchanged;

    // Nothing exchanged: a second look says why, in the order the checks have always been made.
    const replayed = await this.diagnose(client.id, codeHash, challenge, redirectUri, resourceParam, dpop?.jkt);
    await this.revokeReplayed(replayed.grantId, replayed.userId, client.id, contextOf(req));
    throw new InvalidGrant('authorization code was already used; the tokens issued from it have been revoked');
  }

  /**
   * The exchange and its `token.issued` event as one statement (no read before it, no BEGIN/COMMIT); then the access
   * token is signed from what the statement found. Null when it exchanged nothing.
   */
  private async exchange(
    client: ClientEntity,
    codeHash: string,
    challenge: string,
    redirectUri: string | null,
    resource: string | null,
    req: GrantContext['req'],
    jkt: string | undefined,
  ): Promise<TokenResponse | null> {
    // Signing comes after the commit: a key problem must surface before the code is consumed.
    this.keys.assertCanSign();
    const grantId = randomUUID();
    // Chosen before signing so that the event, written first, can name it.
    const jti = randomUUID();
    const refreshToken = client.metadata.grant_types.includes('refresh_token') ? REFRESH_TOKEN_PREFIX + randomToken() : undefined;
    const stale = this.clients.useDue(client);
    const { row } = await this.audit.recordWith(
      this.codes.exchange({
        codeHash,
        clientId: client.id,
        codeChallenge: challenge,
        redirectUri,
        resource,
        grantId,
        refreshTokenHash: refreshToken === undefined ? null : sha256(refreshToken),
        recordUseOf: stale ? client.id : null,
        useResolutionSeconds: CLIENT_USE_RESOLUTION_MS / 1000,
        proofJkt: jkt ?? null,
        // RFC 9449 §5: a public client's refresh tokens are bound to its key; a confidential client's are bound to
        // its authentication already, so it may change keys at refresh.
        grantJkt: client.metadata.token_endpoint_auth_method === 'none' && refreshToken !== undefined ? (jkt ?? null) : null,
      }),
      [
        // Subject, resource and scopes come from the exchanged code.
        {
          type: 'token.issued',
          clientId: client.id,
          request: contextOf(req),
          data: { grant_type: this.grantType, grant_id: grantId, jti, refresh_token: refreshToken !== undefined },
        },
      ],
    );
    if (!row) return null;
    // The statement recorded the use (if the cached one was stale): the cache learns it, so the next hour skips it.
    if (stale) this.clients.useRecorded(this.database.manager, client.id, row.usedAt);
    const audience = { resource: row.resource, accessTokenTtl: row.accessTokenTtl };
    return this.minter.sign({ grantId, subject: row.subject, identity: row.claims, client, resource: audience, scopes: row.scopes, jti, jkt }, refreshToken).response;
  }

  /**
   * Why nothing was exchanged: throws the answer, or returns the grant to revoke when a used code was presented again
   * by the client it was issued to. Another client's code is refused without revoking anything (as node-oidc-provider):
   * otherwise anyone who registers a client could revoke someone else's grant with a leaked, already-used code.
   */
  private async diagnose(
    clientId: string,
    codeHash: string,
    challenge: string,
    redirectUri: string | undefined,
    resourceParam: string | undefined,
    proofJkt: string | undefined,
  ): Promise<{ grantId: string | null; userId: string }> {
    const known = await this.codes.findByHash(this.database.manager, codeHash);
    if (!known) throw new InvalidGrant('authorization code is invalid');
    if (known.clientId !== clientId) throw new InvalidGrant('authorization code was issued to another client');
    if (known.consumedAt) return { grantId: known.grantId, userId: known.userId };
    if (known.expiresAt.getTime() <= Date.now()) throw new InvalidGrant('authorization code has expired');
    if (redirectUri !== undefined && redirectUri !== known.redirectUri) {
      throw new InvalidGrant('redirect_uri does not match the one used in the authorization request');
    }
    if (!digestsEqual(challenge, known.codeChallenge)) throw new InvalidGrant('PKCE verification failed: code_verifier does not match code_challenge');
    // RFC 9449 §10: the key named by dpop_jkt must make the proof; without a proof there is no key to compare.
    if (known.dpopJkt !== null) {
      if (proofJkt === undefined) throw new InvalidGrant('authorization code was requested with dpop_jkt: send a DPoP proof by that key');
      if (!safeEqual(proofJkt, known.dpopJkt)) throw new InvalidGrant("the DPoP proof's key is not the one dpop_jkt named in the authorization request");
    }
    if (resourceParam !== undefined) {
      const resource = await this.resources.get(known.resourceId);
      if (canonicalResource(resourceParam) !== resource.resource) throw new InvalidTarget('resource does not match the one the code was issued for');
    }
    if (proofJkt === undefined && (await this.resources.get(known.resourceId)).requireDpop) {
      throw new InvalidDpopProof('this resource server requires DPoP-bound tokens: send a DPoP proof (RFC 9449) with the token request');
    }
    // Usable and matching now: whatever stopped the exchange (an expiry at the edge, a concurrent change) has passed.
    throw new InvalidGrant('authorization code could not be exchanged; try again');
  }

  /** Committed on its own: the revocation must stand although the request fails. */
  private async revokeReplayed(grantId: string | null, userId: string, clientId: string, context: RequestContext | undefined): Promise<void> {
    await this.database.transaction(async (tx) => {
      // The detection first, then (if it was still live) the revocation it caused: events in causal order.
      await this.audit.record(tx, { type: 'authorization_code.replayed', clientId, subject: userId, request: context, data: { grant_id: grantId } });
      if (grantId) await this.grantsService.revoke(tx, { id: grantId, clientId, userId }, 'authorization_code_replayed', context);
    });
  }
}
