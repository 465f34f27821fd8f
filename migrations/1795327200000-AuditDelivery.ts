import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Audit events schema 1: who acted (actor), on which scopes, from where (ip, user agent), with what outcome; and
 * `audit_deliveries`, one row per sink (log, webhook, in-process hooks) holding the seq it has delivered up to, its
 * retry state, and a lease so that one instance at a time delivers to a sink.
 */
export class AuditDelivery1795327200000 implements MigrationInterface {
  name = 'AuditDelivery1795327200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE audit_events
        ADD COLUMN schema smallint NOT NULL DEFAULT 1,
        ADD COLUMN actor_kind text NOT NULL DEFAULT 'system' CHECK (actor_kind IN ('user', 'client', 'resource', 'admin', 'system')),
        ADD COLUMN actor_id text,
        ADD COLUMN scopes text[],
        ADD COLUMN ip text,
        ADD COLUMN user_agent text,
        ADD COLUMN outcome text NOT NULL DEFAULT 'success' CHECK (outcome IN ('success', 'failure', 'denied', 'active', 'inactive'))`);
    // The query API filters by client or subject and pages by seq; retention deletes by time.
    await db.query(`CREATE INDEX audit_events_client_seq ON audit_events (client_id, seq) WHERE client_id IS NOT NULL`);
    await db.query(`CREATE INDEX audit_events_subject_seq ON audit_events (subject, seq) WHERE subject IS NOT NULL`);
    await db.query(`CREATE INDEX audit_events_time ON audit_events (occurred_at)`);
    await db.query(`
      CREATE TABLE audit_deliveries (
        sink text PRIMARY KEY,
        delivered_seq bigint NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        last_error text,
        last_delivered_at timestamptz,
        leased_by text,
        lease_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS audit_deliveries`);
    await db.query(`DROP INDEX IF EXISTS audit_events_time`);
    await db.query(`DROP INDEX IF EXISTS audit_events_subject_seq`);
    await db.query(`DROP INDEX IF EXISTS audit_events_client_seq`);
    await db.query(`
      ALTER TABLE audit_events
        DROP COLUMN outcome,
        DROP COLUMN user_agent,
        DROP COLUMN ip,
        DROP COLUMN scopes,
        DROP COLUMN actor_id,
        DROP COLUMN actor_kind,
        DROP COLUMN schema`);
  }
}
