import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Database } from '../database/database.module.js';
import { SpentIdRepository, spentIdStatements } from '../database/spent-ids.js';

/** A client assertion's jti is kept until the assertion expires. */
const statements = spentIdStatements({ name: 'client_assertion_jti', table: 'client_assertion_jtis', scope: 'client_id' });
export const USE_CLIENT_ASSERTION_JTI = statements.use;
export const DELETE_EXPIRED_CLIENT_ASSERTION_JTIS = statements.deleteExpired;

/** The client assertion ids already used (RFC 7523 §3 item 7), per client. */
@Injectable()
export class ClientAssertionJtiRepository extends SpentIdRepository {
  constructor(dataSource: DataSource, database: Database) {
    super(dataSource, database, statements);
  }
}
