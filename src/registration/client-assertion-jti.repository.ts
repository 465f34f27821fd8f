import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Database } from '../database/database.module.js';
import { params, runCounting, sql, statement } from '../database/sql.js';

const use = params<{ clientId: string; jti: string; expiresAt: Date }>();
/**
 * Records a client assertion's `jti` until the assertion expires. A row whose assertion has expired no longer
 * blocks its jti (the assertion itself would be refused as expired), so the conflict takes it over; any other
 * conflict returns no row. The primary key makes this atomic across instances.
 */
export const USE_CLIENT_ASSERTION_JTI = statement(
  'client_assertion_jti_use',
  sql`INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES (${use.clientId}, ${use.jti}, ${use.expiresAt})
      ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at, used_at = now()
      WHERE client_assertion_jtis.expires_at < now()
      RETURNING jti`,
).returning<{ jti: string }>();

const housekeeping = params<{ before: Date; limit: number }>();
export const DELETE_EXPIRED_CLIENT_ASSERTION_JTIS = statement(
  'client_assertion_jtis_delete_expired',
  sql`DELETE FROM client_assertion_jtis WHERE (client_id, jti) IN
        (SELECT client_id, jti FROM client_assertion_jtis WHERE expires_at < ${housekeeping.before} LIMIT ${housekeeping.limit})`,
);

/** The client assertion ids already used (RFC 7523 §3 item 7): shared by every instance through the database. */
@Injectable()
export class ClientAssertionJtiRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly database: Database,
  ) {}

  /** Spends the jti; false if it was already spent by an assertion that has not expired. */
  async use(clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    return (await this.database.run(USE_CLIENT_ASSERTION_JTI, { clientId, jti, expiresAt })).length > 0;
  }

  /** Deletes at most `limit` entries of assertions expired before `before`. */
  deleteExpired(before: Date, limit: number): Promise<number> {
    return runCounting(this.dataSource.manager, DELETE_EXPIRED_CLIENT_ASSERTION_JTIS, { before, limit });
  }
}
