import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Database } from '../database/database.module.js';
import { SpentIdRepository, spentIdStatements } from '../database/spent-ids.js';

/** A DPoP proof's jti is kept, per key, until the proof's `iat` window closes. */
const statements = spentIdStatements({ name: 'dpop_proof_jti', table: 'dpop_proof_jtis', scope: 'jkt' });
export const USE_DPOP_PROOF_JTI = statements.use;
export const DELETE_EXPIRED_DPOP_PROOF_JTIS = statements.deleteExpired;

/** The DPoP proof ids already used at the token endpoint (RFC 9449 §11.1), per key. */
@Injectable()
export class DpopProofJtiRepository extends SpentIdRepository {
  constructor(dataSource: DataSource, database: Database) {
    super(dataSource, database, statements);
  }
}
