import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Database } from '../database/database.module.js';
import { params, sql, sqlText, statement } from '../database/sql.js';
import { auditedStatement, type AuditedChange } from '../audit/audit-event-insert.js';
import { InteractionEntity } from './interaction.entity.js';
import type { InteractionRow } from './interaction.repository.js';
import { entityFromRow } from '../database/entity-rows.js';
import { identityLockKey, looksLikeUserId } from './user.repository.js';

/** An interaction a login handle names, with the user of the external identity signing in if it exists. */
export interface PresentedLogin {
  interaction: InteractionEntity;
  identityUserId: string | null;
  /** That user is disabled. */
  userDisabled: boolean;
  /** The product's subject is the id of a Gatehouse user (see ProductCompletionService.completeLogin). */
  subjectIsUserId: boolean;
}

/** An interaction a consent handle names, with its user's subject at the external login of `resourceId`, if any. */
export interface PresentedConsent {
  interaction: InteractionEntity;
  externalSubject: string | null;
}

/** Handles for the product's login and consent pages, offered to `visit` before it is known which one is needed. */
export interface OfferedHandles {
  loginHash: string;
  consentHash: string;
  expiresAt: Date;
}

/** An interaction as a browser visit finds it, with what the next step needs to know. */
export interface VisitedInteraction {
  interaction: InteractionEntity;
  /** What the interaction's user has granted its client for its resource; null when nothing (or there is no user yet). */
  grantedScopes: string[] | null;
  /** The product's id for the interaction's user, when that user signed in through the external login of its resource. */
  productUserId: string | null;
  /** The offered handle `visit` stored, if any. */
  stored: 'login' | 'consent' | null;
  /** The user going on with it (the product's user for its login, else the session's) is disabled. */
  userDisabled: boolean;
  /** The session user's identity of the session's provider (or the one used last): who the consent page says is signed in. */
  signedIn: { provider: string; login: string | null; email: string | null } | null;
}

/** Who the browser's session says signed in, for `visit`: null when nobody has. */
export interface VisitSession {
  userId: string;
  provider: string | null;
}

const visit = params<{
  id: string;
  browserHash: string | null;
  loginHash: string;
  consentHash: string;
  expiresAt: Date;
  sessionUserId: string | null;
  sessionProvider: string | null;
}>();
export const INTERACTION_VISIT = statement(
  'interaction_visit',
  sql`WITH found AS (
         SELECT i.*, r.login_method = 'external' AS external_login, r.consent_uri IS NOT NULL AS product_consent,
                c.scopes AS granted_scopes, ui.subject AS external_subject, coalesce(du.disabled_at IS NOT NULL, false) AS user_disabled,
                si.provider AS signed_in_provider, si.login AS signed_in_login, si.email AS signed_in_email
           FROM interactions i
           JOIN resource_servers r ON r.id = i.resource_id
           LEFT JOIN consents c ON c.user_id = i.user_id AND c.client_id = i.client_id AND c.resource_id = i.resource_id
           LEFT JOIN LATERAL (
             SELECT u.subject FROM user_identities u
              WHERE u.user_id = i.user_id AND u.provider = 'external' AND starts_with(u.subject, i.resource_id::text || ':')
              LIMIT 1
           ) ui ON true
           LEFT JOIN users du ON du.id = CASE WHEN r.login_method = 'external' THEN i.user_id ELSE ${visit.sessionUserId}::uuid END
           LEFT JOIN LATERAL (
             SELECT x.provider, x.login, x.email FROM user_identities x
              WHERE x.user_id = ${visit.sessionUserId}::uuid
              ORDER BY x.provider = ${visit.sessionProvider}::text DESC NULLS LAST, x.updated_at DESC
              LIMIT 1
           ) si ON true
          WHERE i.id = ${visit.id}
       ), login AS (
         UPDATE interactions t SET external_auth_hash = ${visit.loginHash}, external_auth_expires_at = ${visit.expiresAt}
           FROM found f
          WHERE t.id = f.id AND f.external_login AND t.browser_hash = ${visit.browserHash} AND t.completed_at IS NULL AND t.expires_at > now()
            AND t.login_completed_at IS NULL
         RETURNING t.id
       ), consent AS (
         UPDATE interactions t SET consent_handle_hash = ${visit.consentHash}, consent_handle_expires_at = ${visit.expiresAt}
           FROM found f
          WHERE t.id = f.id AND f.external_login AND f.product_consent AND t.browser_hash = ${visit.browserHash} AND t.completed_at IS NULL
            AND t.expires_at > now() AND t.login_completed_at IS NOT NULL AND NOT (f.scopes <@ coalesce(f.granted_scopes, '{}'))
         RETURNING t.id
       )
       SELECT f.*, EXISTS (SELECT 1 FROM login) AS login_stored, EXISTS (SELECT 1 FROM consent) AS consent_stored FROM found f`,
).returning<
  InteractionRow & {
    granted_scopes: string[] | null;
    external_subject: string | null;
    login_stored: boolean;
    consent_stored: boolean;
    user_disabled: boolean;
    signed_in_provider: string | null;
    signed_in_login: string | null;
    signed_in_email: string | null;
  }
>();

const presentedLogin = params<{ hash: string; subject: string; productSubjectUuid: string | null }>();
export const PRESENTED_LOGIN = statement(
  'presented_login',
  sql`SELECT i.*, ui.user_id AS identity_user_id, coalesce(u.disabled_at IS NOT NULL, false) AS user_disabled,
              EXISTS (SELECT 1 FROM users g WHERE g.id = ${presentedLogin.productSubjectUuid}::uuid) AS subject_is_user_id
         FROM interactions i LEFT JOIN user_identities ui ON ui.provider = 'external' AND ui.subject = ${presentedLogin.subject}
         LEFT JOIN users u ON u.id = ui.user_id
        WHERE i.external_auth_hash = ${presentedLogin.hash}`,
).returning<InteractionRow & { identity_user_id: string | null; user_disabled: boolean; subject_is_user_id: boolean }>();

interface LoginCompletionValues {
  interactionId: string;
  handleHash: string;
  userId: string;
  returnHash: string;
  /** For a first sign-in only: the identity to create, and its lock (UserRepository.findOrCreateByIdentity's). */
  subject?: string;
  identityLock?: string;
  displayName?: string | null;
}

const completion = params<Required<LoginCompletionValues>>();

/** The product's login completed (see loginCompletion), creating the user and its identity when `create`. */
function loginCompletion(name: string, create: boolean) {
  const target = sql`target AS (
         SELECT id FROM interactions
          WHERE id = ${completion.interactionId} AND external_auth_hash = ${completion.handleHash} AND login_completed_at IS NULL AND completed_at IS NULL
         FOR UPDATE
       )`;
  const creation = sql`, serialised AS (SELECT pg_advisory_xact_lock(hashtext(${completion.identityLock})) FROM target), identity AS (
         INSERT INTO user_identities (provider, subject, user_id) SELECT 'external', ${completion.subject}, ${completion.userId}::uuid FROM serialised
         ON CONFLICT (provider, subject) DO NOTHING
         RETURNING user_id
       ), created AS (
         -- The identity references the user: foreign keys are checked at the end of the statement.
         INSERT INTO users (id, display_name) SELECT user_id, ${completion.displayName} FROM identity RETURNING id
       )`;
  return auditedStatement(
    name,
    sql`WITH ${target}${create ? creation : sqlText('')}, signed_in AS (
         UPDATE interactions SET user_id = ${completion.userId}::uuid, login_return_hash = ${completion.returnHash}, external_auth_hash = NULL
           FROM ${sqlText(create ? 'created' : 'target')} WHERE interactions.id = ${completion.interactionId}
         RETURNING interactions.id
       )`,
    { gate: 'signed_in', events: [{}], row: (): null => null },
  );
}

export const LOGIN_COMPLETION = loginCompletion('login_completion', false);
export const LOGIN_COMPLETION_CREATING = loginCompletion('login_completion_creating', true);

const accept = params<{ id: string; browserHash: string; returnHash: string }>();
export const LOGIN_ACCEPT = statement(
  'login_accept',
  sql`UPDATE interactions SET login_completed_at = now(), login_return_hash = NULL
        WHERE id = ${accept.id} AND browser_hash = ${accept.browserHash} AND login_return_hash = ${accept.returnHash}
          AND login_completed_at IS NULL AND completed_at IS NULL AND expires_at > now()
       RETURNING id`,
).returning<{ id: string }>();

const refusal = params<{ id: string; returnHash: string }>();
export const LOGIN_RETURN_REFUSAL = auditedStatement(
  'login_return_refusal',
  sql`WITH dropped AS (
         UPDATE interactions SET login_return_hash = NULL, user_id = NULL
          WHERE id = ${refusal.id} AND login_return_hash = ${refusal.returnHash} AND login_completed_at IS NULL
         RETURNING id
       )`,
  { gate: 'dropped', events: [{}], row: (): null => null },
);

const presentedConsent = params<{ hash: string; prefixLength: number; prefix: string }>();
export const PRESENTED_CONSENT = statement(
  'presented_consent',
  sql`SELECT i.*,
              (SELECT ui.subject FROM user_identities ui
                WHERE ui.user_id = i.user_id AND ui.provider = 'external' AND left(ui.subject, ${presentedConsent.prefixLength}) = ${presentedConsent.prefix} LIMIT 1) AS external_subject
         FROM interactions i
        WHERE i.consent_handle_hash = ${presentedConsent.hash}`,
).returning<InteractionRow & { external_subject: string | null }>();

/** The single-use handles a product completes server to server: `external_auth_id` (login) and `interaction_id` (consent). */
@Injectable()
export class InteractionHandleRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly database: Database,
  ) {}

  async setExternalAuth(id: string, hash: string, expiresAt: Date): Promise<void> {
    await this.dataSource.manager.update(InteractionEntity, { id }, { externalAuthHash: hash, externalAuthExpiresAt: expiresAt });
  }

  async setConsentHandle(id: string, hash: string, expiresAt: Date): Promise<void> {
    await this.dataSource.manager.update(InteractionEntity, { id }, { consentHandleHash: hash, consentHandleExpiresAt: expiresAt });
  }

  /**
   * A browser's visit to its interaction, in one statement: the interaction with its user's consent and product id,
   * and — when it is open, bound to `browserHash`, and its resource uses the product's login — the handle the
   * product page it is due for needs: the login handle until the login is complete, then the consent handle when
   * the resource has a consent page and scopes are still to be granted. Which one (if any) was stored is returned:
   * the caller decides the step, and stores the handle itself when it needs one `visit` did not store. With the
   * browser's `session`, it also says whether the user going on is disabled, and which identity signed in.
   */
  async visit(id: string, browserHash: string | null, offered: OfferedHandles, session: VisitSession | null = null): Promise<VisitedInteraction | null> {
    const rows = await this.database.run(INTERACTION_VISIT, {
      id,
      browserHash,
      loginHash: offered.loginHash,
      consentHash: offered.consentHash,
      expiresAt: offered.expiresAt,
      sessionUserId: session?.userId ?? null,
      sessionProvider: session?.provider ?? null,
    });
    const row = rows[0];
    if (!row) return null;
    const prefix = `${row.resource_id}:`;
    return {
      interaction: entityFromRow(this.dataSource, InteractionEntity, row),
      grantedScopes: row.granted_scopes,
      productUserId: row.external_subject?.startsWith(prefix) ? row.external_subject.slice(prefix.length) : null,
      stored: row.login_stored ? 'login' : row.consent_stored ? 'consent' : null,
      userDisabled: row.user_disabled,
      signedIn: row.signed_in_provider === null ? null : { provider: row.signed_in_provider, login: row.signed_in_login, email: row.signed_in_email },
    };
  }

  /**
   * The interaction a login handle names and the external identity `subject` (with its user's state, and whether
   * `productSubject` is a Gatehouse user's id), in one read without locks: the change
   * that follows (loginCompletion) checks again whatever may have changed since.
   */
  async presentedLogin(hash: string, subject: string, productSubject: string): Promise<PresentedLogin | null> {
    // Only a UUID can be a user's id: anything else is not compared (nor cast).
    const rows = await this.database.run(PRESENTED_LOGIN, { hash, subject, productSubjectUuid: looksLikeUserId(productSubject) ? productSubject : null });
    const row = rows[0];
    if (!row) return null;
    return {
      interaction: entityFromRow(this.dataSource, InteractionEntity, row),
      identityUserId: row.identity_user_id,
      userDisabled: row.user_disabled,
      subjectIsUserId: row.subject_is_user_id,
    };
  }

  /**
   * The change that completes a product's login, for AuditLog.recordWith. It happens only while the interaction
   * still holds `handleHash` and neither its login nor the interaction is complete (checked under its row lock).
   * With `create`, the external identity `subject` and its user `userId` are created first, under the advisory lock
   * UserRepository.findOrCreateByIdentity takes, so that first sign-ins of one subject serialise whichever path
   * they take; an identity created meanwhile (committed after this statement began) makes it change nothing, and
   * the caller reads again. Without, the identity exists and belongs to `userId` (external identities carry no login
   * name to update). The handle is spent, and the login waits for the browser to bring back the ticket whose digest is
   * `returnHash` (acceptLogin). Gate `signed_in`: the product completed the login for `userId`.
   */
  loginCompletion(change: {
    interactionId: string;
    handleHash: string;
    userId: string;
    returnHash: string;
    create: { subject: string; displayName: string | null } | null;
  }): AuditedChange<LoginCompletionValues, null> {
    const values = { interactionId: change.interactionId, handleHash: change.handleHash, userId: change.userId, returnHash: change.returnHash };
    if (!change.create) return { audited: LOGIN_COMPLETION, values };
    const { subject, displayName } = change.create;
    return { audited: LOGIN_COMPLETION_CREATING, values: { ...values, subject, identityLock: identityLockKey({ provider: 'external', subject }), displayName } };
  }

  /**
   * The browser came back from the product's completed login with its ticket: the login counts, if this is the
   * browser the interaction is bound to and the interaction is still open. False when nothing changed.
   */
  async acceptLogin(id: string, browserHash: string, returnHash: string): Promise<boolean> {
    const rows = await this.database.run(LOGIN_ACCEPT, { id, browserHash, returnHash });
    return rows.length > 0;
  }

  /**
   * A completed login's ticket came back in a browser the interaction is not bound to (sent there by whoever started
   * the interaction): the login is dropped, so that no browser can continue as that user. For AuditLog.recordWith;
   * gate `dropped`.
   */
  loginReturnRefusal(id: string, returnHash: string): AuditedChange<{ id: string; returnHash: string }, null> {
    return { audited: LOGIN_RETURN_REFUSAL, values: { id, returnHash } };
  }

  /** The interaction a consent handle names, in one read without locks (the completion checks again what it relies on). */
  async presentedConsent(hash: string, resourceId: string): Promise<PresentedConsent | null> {
    const prefix = `${resourceId}:`;
    const rows = await this.database.run(PRESENTED_CONSENT, { hash, prefixLength: prefix.length, prefix });
    const row = rows[0];
    if (!row) return null;
    return { interaction: entityFromRow(this.dataSource, InteractionEntity, row), externalSubject: row.external_subject === null ? null : row.external_subject.slice(prefix.length) };
  }
}
