import type pg from 'pg';

/**
 * A PostgreSQL adapter for oidc-provider (its adapter interface: upsert, find, findByUid, findByUserCode, consume,
 * destroy, revokeByGrantId), so that the peer persists to the same kind of store as Gatehouse: one jsonb table keyed
 * by (model, id), with the grant id, session uid and user code pulled out and indexed for the lookups that need
 * them. Every call is one statement (autocommit), as in oidc-provider's example adapters.
 */
export const ADAPTER_SCHEMA = `
CREATE TABLE IF NOT EXISTS oidc_payloads (
  model       text        NOT NULL,
  id          text        NOT NULL,
  payload     jsonb       NOT NULL,
  grant_id    text,
  uid         text,
  user_code   text,
  expires_at  timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX IF NOT EXISTS oidc_payloads_grant_id ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_payloads_uid ON oidc_payloads (uid) WHERE uid IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_payloads_user_code ON oidc_payloads (user_code) WHERE user_code IS NOT NULL;
`;

type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string };

interface Row {
  payload: Payload;
  consumed_at: Date | null;
}

export function postgresAdapter(pool: pg.Pool) {
  const live = 'AND (expires_at IS NULL OR expires_at > now())';

  function present(rows: Row[]): Payload | undefined {
    const row = rows[0];
    if (!row) return undefined;
    return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
  }

  return class PostgresAdapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      await pool.query(
        `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
           user_code = excluded.user_code, expires_at = excluded.expires_at`,
        [
          this.model,
          id,
          payload,
          payload.grantId ?? null,
          payload.uid ?? null,
          payload.userCode ?? null,
          typeof expiresIn === 'number' ? new Date(Date.now() + expiresIn * 1000) : null,
        ],
      );
    }

    async find(id: string): Promise<Payload | undefined> {
      const { rows } = await pool.query<Row>(`SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND id = $2 ${live}`, [this.model, id]);
      return present(rows);
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      const { rows } = await pool.query<Row>(`SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND uid = $2 ${live}`, [this.model, uid]);
      return present(rows);
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      const { rows } = await pool.query<Row>(`SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND user_code = $2 ${live}`, [this.model, userCode]);
      return present(rows);
    }

    async consume(id: string): Promise<void> {
      await pool.query('UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2', [this.model, id]);
    }

    async destroy(id: string): Promise<void> {
      await pool.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.model, id]);
    }

    /** Every token of the grant, whatever its model (as the memory adapter does). */
    async revokeByGrantId(grantId: string): Promise<void> {
      await pool.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId]);
    }
  };
}
