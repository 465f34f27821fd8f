import { Injectable } from '@nestjs/common';
import type { Tx } from '../database/data-source.js';
import { auditedStatement, ChangeColumn, type AuditedChange, type AuditedStatement, type EventColumns } from '../audit/audit-event-insert.js';
import { Database } from '../database/database.module.js';
import { params, runCounting, sql, sqlText, statement } from '../database/sql.js';
import { AuthorizationCodeEntity } from './authorization-code.entity.js';
import { consentValues, grantedCte, type GrantedConsent } from './consent.repository.js';
import { completedCte, completionValues, type CompletionGuard, type CompletionValues } from './interaction.repository.js';
import { clientUseCte } from '../registration/client.repository.js';
import { pickIdentityClaims, type IdentityClaims } from '../resources/identity-claims.js';
import { identityClaimsJson } from './user.repository.js';

export type NewAuthorizationCode = Omit<AuthorizationCodeEntity, 'createdAt' | 'consumedAt' | 'grantId'>;

/** What a code exchange found: the code's user and scopes, and what signing needs of its resource. */
export interface ExchangedCode {
  userId: string;
  /** The grant's `sub` and identity claims. */
  subject: string;
  claims: IdentityClaims;
  scopes: string[];
  /** The resource's canonical URL (the token's `aud`) and access token lifetime, read with the exchange. */
  resource: string;
  accessTokenTtl: number;
  /** When the exchange recorded the client's use; null when it recorded none. */
  usedAt: Date | null;
}

const code = params<{
  codeHash: string;
  clientId: string;
  userId: string;
  resourceId: string;
  scopes: string[];
  redirectUri: string;
  codeChallenge: string;
  dpopJkt: string | null;
  identityProvider: string | null;
  expiresAt: Date;
}>();

/** What an issuance's parameters need: the interaction (and guard), the consent's when one is recorded, the code. */
type IssuanceValues = CompletionValues & Partial<ReturnType<typeof consentValues>> & NewAuthorizationCode;

/**
 * The end of an approved interaction: completes it (completedCte, guarded or not), records the consent (when
 * `consent`), and inserts the code. Its events (the consent's, then the code's) are all known values.
 */
function issuance(name: string, guarded: boolean, consent: boolean): AuditedStatement<IssuanceValues, null> {
  return auditedStatement(
    name,
    sql`WITH ${completedCte(guarded)}${consent ? sql`, ${grantedCte('completed')}` : sqlText('')}, issued AS (
         INSERT INTO authorization_codes (code_hash, client_id, user_id, resource_id, scopes, redirect_uri, code_challenge, dpop_jkt, identity_provider, expires_at)
         SELECT ${code.codeHash}, ${code.clientId}, ${code.userId}::uuid, ${code.resourceId}::uuid, ${code.scopes}::text[], ${code.redirectUri}, ${code.codeChallenge}, ${code.dpopJkt}::text, ${code.identityProvider}::text, ${code.expiresAt}::timestamptz
           FROM completed${sqlText(consent ? ' WHERE EXISTS (SELECT 1 FROM granted)' : '')}
         RETURNING code_hash
       )`,
    { gate: 'issued', events: consent ? [{}, {}] : [{}], row: (): null => null },
  );
}

export const CODE_ISSUANCE = issuance('code_issuance', false, false);
export const CODE_ISSUANCE_CONSENTED = issuance('code_issuance_consented', false, true);
export const CODE_ISSUANCE_GUARDED = issuance('code_issuance_guarded', true, false);
export const CODE_ISSUANCE_GUARDED_CONSENTED = issuance('code_issuance_guarded_consented', true, true);

/** The exchange's event takes the code's user, the resource and the scopes from the exchanged row. */
const ISSUED: EventColumns = {
  subject: new ChangeColumn('user_id'),
  resource: new ChangeColumn('resource'),
  data: { scopes: new ChangeColumn('scopes') },
};

interface ExchangeValues {
  codeHash: string;
  clientId: string;
  /** S256 of the verifier. */
  codeChallenge: string;
  redirectUri: string | null;
  resource: string | null;
  grantId: string;
  refreshTokenHash: string | null;
  recordUseOf: string | null;
  useResolutionSeconds: number;
  /** The thumbprint of the request's DPoP key, if it proved one: a resource that requires DPoP needs it, and so does a code requested with `dpop_jkt`. */
  proofJkt: string | null;
  /** The key the grant's refresh tokens are bound to (a public client's, RFC 9449 §5); null for unbound. */
  grantJkt: string | null;
}

const exchange = params<ExchangeValues>();
export const CODE_EXCHANGE = auditedStatement(
  'code_exchange',
  sql`WITH consumed AS (
         UPDATE authorization_codes ac SET consumed_at = now(), grant_id = ${exchange.grantId}
           FROM resource_servers r
          WHERE ac.code_hash = ${exchange.codeHash} AND ac.consumed_at IS NULL AND ac.expires_at > now()
            AND ac.client_id = ${exchange.clientId} AND ac.code_challenge = ${exchange.codeChallenge}
            AND (${exchange.redirectUri}::text IS NULL OR ac.redirect_uri = ${exchange.redirectUri}::text)
            AND r.id = ac.resource_id AND (${exchange.resource}::text IS NULL OR r.resource = ${exchange.resource}::text)
            AND (NOT r.require_dpop OR ${exchange.proofJkt}::text IS NOT NULL)
            -- RFC 9449 §10: a code requested with dpop_jkt goes only to a proof by that key.
            AND (ac.dpop_jkt IS NULL OR ac.dpop_jkt = ${exchange.proofJkt}::text)
            -- Locked, so that disabling the user waits for this grant and then revokes it with the others.
            AND EXISTS (SELECT 1 FROM users u WHERE u.id = ac.user_id AND u.disabled_at IS NULL FOR SHARE)
         RETURNING ac.user_id, ac.resource_id, ac.scopes, ac.identity_provider, r.identity_claims, r.resource, r.access_token_ttl, r.refresh_token_ttl
       ), identity AS (
         -- The tokens' sub: a product's user (its external identity at this resource) is the product's subject.
         SELECT coalesce((SELECT substr(x.subject, length(c.resource_id::text) + 2) FROM user_identities x
                           WHERE x.user_id = c.user_id AND x.provider = 'external' AND starts_with(x.subject, c.resource_id::text || ':') LIMIT 1),
                         c.user_id::text) AS subject,
                -- The claims of the identity that signed in (the latest used one when the code does not say).
                coalesce((SELECT ${identityClaimsJson('c.identity_claims', 'i')} FROM user_identities i WHERE i.user_id = c.user_id
                           ORDER BY i.provider = c.identity_provider DESC NULLS LAST, i.updated_at DESC LIMIT 1), '{}'::jsonb) AS claims
           FROM consumed c
       ), created AS (
         -- The code references the grant: foreign keys are checked at the end of the statement.
         INSERT INTO grants (id, user_id, client_id, resource_id, scopes, subject, claims, dpop_jkt)
         SELECT ${exchange.grantId}, user_id, ${exchange.clientId}, resource_id, scopes, identity.subject, identity.claims, ${exchange.grantJkt}::text FROM consumed, identity
         RETURNING id, subject, claims
       ), refresh AS (
         INSERT INTO refresh_tokens (token_hash, grant_id, expires_at)
         SELECT ${exchange.refreshTokenHash}, ${exchange.grantId}, now() + make_interval(secs => refresh_token_ttl) FROM consumed WHERE ${exchange.refreshTokenHash}::text IS NOT NULL
         RETURNING 1
       ), ${clientUseCte(exchange.recordUseOf, 'consumed')}, exchanged AS (
         -- Reads every other change (see REFRESH_ROTATION): all row locks before the audit lock.
         SELECT consumed.*, created.subject, created.claims, (SELECT last_used_at FROM used) AS used_at
           FROM consumed, created, (SELECT count(*) FROM refresh) rt
       )`,
  {
    gate: 'exchanged',
    events: [ISSUED],
    row: (json): ExchangedCode => ({
      userId: String(json.user_id),
      subject: String(json.subject),
      claims: pickIdentityClaims(json.claims),
      scopes: Array.isArray(json.scopes) ? json.scopes.map(String) : [],
      resource: String(json.resource),
      accessTokenTtl: Number(json.access_token_ttl),
      usedAt: typeof json.used_at === 'string' ? new Date(json.used_at) : null,
    }),
  },
);

const housekeeping = params<{ before: Date; limit: number }>();
export const DELETE_EXPIRED_CODES = statement(
  'code_delete_expired',
  sql`DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash FROM authorization_codes WHERE expires_at < ${housekeeping.before} LIMIT ${housekeeping.limit})`,
);

@Injectable()
export class AuthorizationCodeRepository {
  constructor(private readonly database: Database) {}

  async insert(tx: Tx, code: NewAuthorizationCode): Promise<void> {
    await tx.insert(AuthorizationCodeEntity, code);
  }

  /**
   * The end of an approved interaction as one change, for AuditLog.recordWith: completes the interaction (see
   * completedCte: once, while open, while `guard` holds), records `consent` when given, and inserts the code — all
   * or nothing. The gate `issued` yields a row only when all of it happened; it reads the other CTEs, so that their
   * row locks are taken before the audit append lock. With a consent it writes two events (the consent's and the
   * code's), without one, the code's.
   */
  issuance(change: { interactionId: string; guard: CompletionGuard | null; consent: GrantedConsent | null; code: NewAuthorizationCode }): AuditedChange<IssuanceValues, null> {
    const { guard, consent } = change;
    const audited = guard ? (consent ? CODE_ISSUANCE_GUARDED_CONSENTED : CODE_ISSUANCE_GUARDED) : consent ? CODE_ISSUANCE_CONSENTED : CODE_ISSUANCE;
    const values = { ...completionValues(change.interactionId, guard), ...(consent ? consentValues(consent) : {}), ...change.code };
    return { audited, values };
  }

  /**
   * A whole code exchange as one change, for AuditLog.recordWith: consumes the code only if this request may have
   * it — unconsumed, unexpired, issued to `clientId`, for this PKCE challenge (S256 of the verifier, computed by
   * the caller), for `redirectUri` and `resource` when they are given, and for the DPoP key the code was requested
   * for (`dpop_jkt`), if any — creates grant `grantId` from it, links the
   * code to the grant (so that a replay can revoke it), stores the first refresh token (living the resource's refresh
   * token lifetime) when there is one, and records the client's use when `recordUseOf` is set. The gate `exchanged`
   * yields a row only when all of it happened; of concurrent exchanges of one code exactly one does (the row lock
   * serialises them; the others find `consumed_at` set). When it yields none, `findByHash` tells why. Its event
   * takes the subject, resource and scopes from the exchanged row.
   *
   * The challenge is compared in SQL, not in constant time: it is public (the authorization request carried it in
   * the front channel), and what is compared is a SHA-256 of the verifier, whose timing says nothing of a verifier.
   */
  exchange(change: ExchangeValues): AuditedChange<ExchangeValues, ExchangedCode> {
    return { audited: CODE_EXCHANGE, values: change };
  }

  /** A code as stored, whatever its state; null for an unknown code. */
  findByHash(tx: Tx, codeHash: string): Promise<AuthorizationCodeEntity | null> {
    return tx.findOne(AuthorizationCodeEntity, { where: { codeHash } });
  }

  /**
   * Codes are kept long after their lifetime (AUTHORIZATION_CODE_TTL) so that a replay can still be recognised and its grant revoked;
   * once the refresh tokens they could have led to are long gone, they go. Deletes at most `limit` rows.
   */
  deleteExpired(before: Date, limit: number): Promise<number> {
    return runCounting(this.database.manager, DELETE_EXPIRED_CODES, { before, limit });
  }
}
