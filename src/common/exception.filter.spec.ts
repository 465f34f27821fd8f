import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { QueryFailedError } from 'typeorm';
import { referencesVanishedClient } from './exception.filter.js';

describe('referencesVanishedClient', () => {
  it('recognises the foreign-key violation a row for a deleted client raises, as PGlite reports it and as TypeORM wraps it', async () => {
    const db = new PGlite();
    try {
      await db.exec('CREATE TABLE clients (id text PRIMARY KEY); CREATE TABLE grants (id int, client_id text NOT NULL REFERENCES clients(id), resource_id text)');
      const violation = await db.query(`INSERT INTO grants VALUES (1, 'gone')`).then(
        () => assert.fail('the insert should have failed'),
        (error: unknown) => error,
      );
      assert.equal(referencesVanishedClient(violation), true);
      assert.equal(referencesVanishedClient({ message: 'query failed', driverError: violation }), true);
    } finally {
      await db.close();
    }
  });

  it('recognises it as node-postgres raises it (hot statements) and as TypeORM wraps that', () => {
    // What node-postgres's protocol parser builds from PostgreSQL's error message.
    const violation = new pg.DatabaseError('insert or update on table "grants" violates foreign key constraint "grants_client_id_fkey"', 120, 'error');
    Object.assign(violation, { severity: 'ERROR', code: '23503', table: 'grants', constraint: 'grants_client_id_fkey' });
    assert.equal(referencesVanishedClient(violation), true);
    assert.equal(referencesVanishedClient(new QueryFailedError('INSERT INTO grants …', [], violation)), true);
    const other = Object.assign(new pg.DatabaseError('violates foreign key constraint "grants_resource_id_fkey"', 80, 'error'), { code: '23503', constraint: 'grants_resource_id_fkey' });
    assert.equal(referencesVanishedClient(new QueryFailedError('INSERT INTO grants …', [], other)), false);
  });

  it('leaves every other failure alone', () => {
    assert.equal(referencesVanishedClient({ code: '23503', constraint: 'grants_resource_id_fkey' }), false);
    assert.equal(referencesVanishedClient({ code: '23505', constraint: 'grants_client_id_fkey' }), false);
    assert.equal(referencesVanishedClient(new Error('boom')), false);
    assert.equal(referencesVanishedClient(null), false);
  });
});
