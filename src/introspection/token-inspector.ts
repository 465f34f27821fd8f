import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { sha256 } from '../common/crypto.js';
import { Database } from '../database/database.module.js';
import { AuditLog } from '../audit/audit-log.js';
import { AccessTokenVerifier } from '../tokens/access-token.verifier.js';
import { TokenStatusRepository } from '../tokens/token-status.repository.js';
import { AccessTokenStandings } from '../tokens/access-token-standings.js';
import { RecordCache } from '../database/record-cache.js';
import { GrantsService } from '../tokens/grants.service.js';
import type { Caller } from './caller-authenticator.js';
import { pickIdentityClaims, type IdentityClaims } from '../resources/identity-claims.js';
import type { RequestContext } from '../common/http.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RepeatedAnswers } from './repeated-answers.js';

/** RFC 7662 §2.2. An inactive answer says nothing else, whatever the reason. */
export type IntrospectionResponse =
  | { active: false }
  | (IdentityClaims & {
      active: true;
      scope: string;
      client_id: string;
      sub: string;
      aud: string;
      iss: string;
      exp: number;
      iat: number;
      jti?: string;
      token_type: 'Bearer' | 'DPoP' | 'refresh_token';
      /** RFC 9449 §6.2: the key a DPoP-bound access token is bound to. */
      cnf?: { jkt: string };
    });

const INACTIVE: IntrospectionResponse = { active: false };

/** What `token.introspected` records about the token: ids only, and only the caller's own token's. */
interface IntrospectionFacts {
  tokenType: 'access_token' | 'refresh_token' | 'unknown';
  jti: string | null;
  grantId: string | null;
  clientId: string | null;
  subject: string | null;
  resource: string | null;
  reason: 'expired' | 'revoked' | 'rotated' | 'not_owner' | 'unknown';
}
const REFRESH_TOKEN = /^gh_rt_[A-Za-z0-9_-]{43}$/;

/**
 * Introspection (RFC 7662) and revocation (RFC 7009) of both token kinds. Access tokens are verified locally and
 * then checked against their grant and the revoked-jti list (in memory once known live, see AccessTokenStandings);
 * refresh tokens are looked up by digest.
 * A caller only ever sees or touches its own tokens: a client those issued to it, a resource server those whose
 * audience it is. Anything else is inactive (introspection) or silently left alone (revocation).
 */
@Injectable()
export class TokenInspector {
  private readonly repeatedAnswers = new RepeatedAnswers();

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly database: Database,
    private readonly verifier: AccessTokenVerifier,
    private readonly status: TokenStatusRepository,
    private readonly standings: AccessTokenStandings,
    private readonly cache: RecordCache,
    private readonly grants: GrantsService,
    private readonly audit: AuditLog,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Answers, and records `token.introspected` (active or inactive, with the jti when there is one; never the token).
   * Introspection changes nothing, so its event has no transaction to join: it is written behind. An answer about
   * an access token that repeats one recorded for the same caller within the last minute is counted, not recorded
   * (see RepeatedAnswers); every answer is counted in gatehouse_introspections_total.
   */
  async introspect(caller: Caller, token: string, request?: RequestContext): Promise<IntrospectionResponse> {
    const { response, facts } = await this.inspect(caller, token);
    const outcome = response.active ? 'active' : 'inactive';
    this.metrics.introspections.inc({ outcome });
    const actor = caller.kind === 'client' ? { kind: 'client' as const, id: caller.client.id } : { kind: 'resource' as const, id: caller.resource.resource };
    const reason = response.active ? null : facts.reason;
    // Only a verified access token has a jti to tell its answers apart: any other answer is recorded every time.
    const repeats = facts.jti === null ? 0 : this.repeatedAnswers.toRecord(`${actor.kind}\n${actor.id}\n${facts.jti}\n${reason ?? outcome}`);
    if (repeats === null) return response;
    this.audit.recordObservation({
      type: 'token.introspected',
      actor,
      outcome,
      clientId: facts.clientId,
      subject: facts.subject,
      resource: facts.resource,
      request,
      data: { token_type: facts.tokenType, jti: facts.jti, grant_id: facts.grantId, by: caller.kind, reason, repeats },
    });
    return response;
  }

  private async inspect(caller: Caller, token: string): Promise<{ response: IntrospectionResponse; facts: IntrospectionFacts }> {
    const now = Math.floor(Date.now() / 1000);
    const claims = this.verifier.verify(token);
    if (claims) {
      // What the event may name: the token's own claims when the caller owns it; only the jti otherwise.
      const facts: IntrospectionFacts = { tokenType: 'access_token', jti: claims.jti, grantId: null, clientId: null, subject: null, resource: null, reason: 'not_owner' };
      if (!owns(caller, claims.aud, claims.client_id)) return { response: INACTIVE, facts };
      Object.assign(facts, { grantId: claims.grant_id, clientId: claims.client_id, subject: claims.sub, resource: claims.aud });
      if (claims.exp <= now) return { response: INACTIVE, facts: { ...facts, reason: 'expired' } };
      const standing = await this.standings.standing(claims);
      if (!standing.grantLive || standing.jtiRevoked) return { response: INACTIVE, facts: { ...facts, reason: 'revoked' } };
      const { scope, client_id, sub, aud, iss, exp, iat, jti, cnf } = claims;
      // The identity claims the token carries (its resource's opt-in, RFC 9068 §2.2.3.1), never over a registered one.
      // A DPoP-bound token says so and names its key (RFC 9449 §6.2), so that the resource server checks the proof.
      const binding = cnf?.jkt === undefined ? { token_type: 'Bearer' as const } : { token_type: 'DPoP' as const, cnf: { jkt: cnf.jkt } };
      return { response: { ...pickIdentityClaims(claims), active: true, scope, client_id, sub, aud, iss, exp, iat, jti, ...binding }, facts };
    }
    const unknown: IntrospectionFacts = { tokenType: 'unknown', jti: null, grantId: null, clientId: null, subject: null, resource: null, reason: 'unknown' };
    if (!REFRESH_TOKEN.test(token)) return { response: INACTIVE, facts: unknown };
    const record = await this.status.refreshToken(sha256(token));
    if (!record) return { response: INACTIVE, facts: { ...unknown, tokenType: 'refresh_token' } };
    const facts: IntrospectionFacts = { tokenType: 'refresh_token', jti: null, grantId: null, clientId: null, subject: null, resource: null, reason: 'not_owner' };
    if (!owns(caller, record.resource, record.clientId)) return { response: INACTIVE, facts };
    Object.assign(facts, { grantId: record.grantId, clientId: record.clientId, subject: record.userId, resource: record.resource });
    if (!record.usable) return { response: INACTIVE, facts: { ...facts, reason: record.rotated ? 'rotated' : record.grantRevoked ? 'revoked' : 'expired' } };
    return {
      response: {
        ...record.claims,
        active: true,
        scope: record.scopes.join(' '),
        client_id: record.clientId,
        sub: record.subject,
        aud: record.resource,
        iss: this.config.issuer,
        exp: Math.floor(record.expiresAt.getTime() / 1000),
        iat: Math.floor(record.createdAt.getTime() / 1000),
        token_type: 'refresh_token',
      },
      facts,
    };
  }

  /**
   * Revokes an access token (its jti, until it expires) or a refresh token (its whole grant: the family and the
   * access tokens minted from it). Unknown, foreign, expired or already-revoked tokens change nothing.
   */
  async revoke(caller: Caller, token: string, context?: RequestContext): Promise<void> {
    const claims = this.verifier.verify(token);
    if (claims) {
      if (claims.exp <= Date.now() / 1000 || !owns(caller, claims.aud, claims.client_id)) return;
      await this.database.transaction(async (tx) => {
        // A token whose grant is already revoked is already dead: recording it again would audit a second revocation.
        if (!(await this.status.accessTokenStanding(claims.grant_id, claims.jti, tx)).grantLive) return;
        if (!(await this.status.revokeJti(tx, claims.jti, claims.client_id, new Date(claims.exp * 1000)))) return;
        // Every instance stops answering it live once this commits; this one before the revocation is answered.
        await this.cache.invalidate(tx, 'access_token', [claims.jti]);
        await this.audit.record(tx, {
          type: 'token.revoked',
          clientId: claims.client_id,
          subject: claims.sub,
          resource: claims.aud,
          request: context,
          data: { token_type: 'access_token', jti: claims.jti, grant_id: claims.grant_id, by: caller.kind },
        });
      });
      return;
    }
    if (!REFRESH_TOKEN.test(token)) return;
    const record = await this.status.refreshToken(sha256(token));
    if (!record || record.grantRevoked || !owns(caller, record.resource, record.clientId)) return;
    await this.database.transaction(async (tx) => {
      const grant = { id: record.grantId, clientId: record.clientId, userId: record.userId };
      if (!(await this.grants.revoke(tx, grant, `revoked_by_${caller.kind}`, context))) return;
      await this.audit.record(tx, {
        type: 'token.revoked',
        clientId: record.clientId,
        subject: record.userId,
        resource: record.resource,
        request: context,
        data: { token_type: 'refresh_token', grant_id: record.grantId, by: caller.kind },
      });
    });
  }
}

function owns(caller: Caller, audience: string, clientId: string): boolean {
  return caller.kind === 'resource' ? caller.resource.resource === audience : caller.client.id === clientId;
}
