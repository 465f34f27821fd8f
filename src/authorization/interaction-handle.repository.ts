import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { StatementChange } from '../database/data-source.js';
import { InteractionEntity } from './interaction.entity.js';
import { interactionFromRow, type InteractionRow } from './interaction.repository.js';
import { identityLockKey } from './user.repository.js';

/** An interaction a login handle names, with the user of the external identity signing in if it exists. */
export interface PresentedLogin {
  interaction: InteractionEntity;
  identityUserId: string | null;
}

/** An interaction a consent handle names, with its user's subject at the external login of `resourceId`, if any. */
export interface PresentedConsent {
  interaction: InteractionEntity;
  externalSubject: string | null;
}

/** The single-use handles a product completes server to server: `external_auth_id` (login) and `interaction_id` (consent). */
@Injectable()
export class InteractionHandleRepository {
  constructor(private readonly dataSource: DataSource) {}

  async setExternalAuth(id: string, hash: string, expiresAt: Date): Promise<void> {
    await this.dataSource.manager.update(InteractionEntity, { id }, { externalAuthHash: hash, externalAuthExpiresAt: expiresAt });
  }

  async setConsentHandle(id: string, hash: string, expiresAt: Date): Promise<void> {
    await this.dataSource.manager.update(InteractionEntity, { id }, { consentHandleHash: hash, consentHandleExpiresAt: expiresAt });
  }

  /**
   * The interaction a login handle names and the external identity `subject`, in one read without locks: the change
   * that follows (loginCompletion) checks again whatever may have changed since.
   */
  async presentedLogin(hash: string, subject: string): Promise<PresentedLogin | null> {
    const rows = (await this.dataSource.manager.query(
      `SELECT i.*, ui.user_id AS identity_user_id
         FROM interactions i LEFT JOIN user_identities ui ON ui.provider = 'external' AND ui.subject = $2
        WHERE i.external_auth_hash = $1`,
      [hash, subject],
    )) as Array<InteractionRow & { identity_user_id: string | null }>;
    const row = rows[0];
    if (!row) return null;
    return { interaction: interactionFromRow(row), identityUserId: row.identity_user_id };
  }

  /**
   * The change that completes a product's login, for AuditLog.recordWith. It happens only while the interaction
   * still holds `handleHash` and neither its login nor the interaction is complete (checked under its row lock).
   * With `create`, the external identity `subject` and its user `userId` are created first, under the advisory lock
   * UserRepository.findOrCreateByIdentity takes, so that first sign-ins of one subject serialise whichever path
   * they take; an identity created meanwhile (committed after this statement began) makes it change nothing, and
   * the caller reads again. Without, the identity exists and belongs to `userId` (external identities carry no login
   * name to update). Gate `signed_in`: the interaction's login was completed for `userId`.
   */
  loginCompletion(change: { interactionId: string; handleHash: string; userId: string; create: { subject: string; displayName: string | null } | null }): StatementChange {
    const params: unknown[] = [change.interactionId, change.handleHash, change.userId];
    const ctes = [
      `target AS (
         SELECT id FROM interactions
          WHERE id = $1 AND external_auth_hash = $2 AND login_completed_at IS NULL AND completed_at IS NULL
         FOR UPDATE
       )`,
    ];
    let signedInFrom = 'target';
    if (change.create) {
      const { subject, displayName } = change.create;
      params.push(subject, identityLockKey({ provider: 'external', subject }), displayName);
      ctes.push(
        `serialised AS (SELECT pg_advisory_xact_lock(hashtext($5)) FROM target)`,
        `identity AS (
         INSERT INTO user_identities (provider, subject, user_id) SELECT 'external', $4, $3::uuid FROM serialised
         ON CONFLICT (provider, subject) DO NOTHING
         RETURNING user_id
       )`,
        // The identity references the user: foreign keys are checked at the end of the statement.
        `created AS (INSERT INTO users (id, display_name) SELECT user_id, $6 FROM identity RETURNING id)`,
      );
      signedInFrom = 'created';
    }
    ctes.push(`signed_in AS (
         UPDATE interactions SET user_id = $3::uuid, login_completed_at = now() FROM ${signedInFrom} WHERE interactions.id = $1
         RETURNING interactions.id
       )`);
    return { sql: `WITH ${ctes.join(', ')}`, params, gate: 'signed_in' };
  }

  /** The interaction a consent handle names, in one read without locks (the completion checks again what it relies on). */
  async presentedConsent(hash: string, resourceId: string): Promise<PresentedConsent | null> {
    const prefix = `${resourceId}:`;
    const rows = (await this.dataSource.manager.query(
      `SELECT i.*,
              (SELECT ui.subject FROM user_identities ui
                WHERE ui.user_id = i.user_id AND ui.provider = 'external' AND left(ui.subject, $2) = $3 LIMIT 1) AS external_subject
         FROM interactions i
        WHERE i.consent_handle_hash = $1`,
      [hash, prefix.length, prefix],
    )) as Array<InteractionRow & { external_subject: string | null }>;
    const row = rows[0];
    if (!row) return null;
    return { interaction: interactionFromRow(row), externalSubject: row.external_subject === null ? null : row.external_subject.slice(prefix.length) };
  }
}
