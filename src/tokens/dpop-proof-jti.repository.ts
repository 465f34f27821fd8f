import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Database } from '../database/database.module.js';
import { params, runCounting, sql, statement } from '../database/sql.js';

const use = params<{ jkt: string; jti: string; expiresAt: Date }>();
/**
 * Records a DPoP proof's `jti` (per key) until the proof's `iat` window closes. A row whose window has closed no
 * longer blocks its jti (the proof itself would be refused as too old), so the conflict takes it over; any other
 * conflict returns no row. The primary key makes this atomic across instances.
 */
export const USE_DPOP_PROOF_JTI = statement(
  'dpop_proof_jti_use',
  sql`INSERT INTO dpop_proof_jtis (jkt, jti, expires_at) VALUES (${use.jkt}, ${use.jti}, ${use.expiresAt})
      ON CONFLICT (jkt, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at, used_at = now()
      WHERE dpop_proof_jtis.expires_at < now()
      RETURNING jti`,
).returning<{ jti: string }>();

const housekeeping = params<{ before: Date; limit: number }>();
export const DELETE_EXPIRED_DPOP_PROOF_JTIS = statement(
  'dpop_proof_jtis_delete_expired',
  sql`DELETE FROM dpop_proof_jtis WHERE (jkt, jti) IN
        (SELECT jkt, jti FROM dpop_proof_jtis WHERE expires_at < ${housekeeping.before} LIMIT ${housekeeping.limit})`,
);

/** The DPoP proof ids already used at the token endpoint (RFC 9449 §11.1): shared by every instance through the database. */
@Injectable()
export class DpopProofJtiRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly database: Database,
  ) {}

  /** Spends the jti; false if it was already spent by a proof whose window is still open. */
  async use(jkt: string, jti: string, expiresAt: Date): Promise<boolean> {
    return (await this.database.run(USE_DPOP_PROOF_JTI, { jkt, jti, expiresAt })).length > 0;
  }

  /** Deletes at most `limit` entries whose window closed before `before`. */
  deleteExpired(before: Date, limit: number): Promise<number> {
    return runCounting(this.dataSource.manager, DELETE_EXPIRED_DPOP_PROOF_JTIS, { before, limit });
  }
}
