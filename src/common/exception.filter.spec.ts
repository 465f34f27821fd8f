import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { QueryFailedError } from 'typeorm';
import { errorPage, oauthErrorFor, referencesVanishedClient } from './exception.filter.js';
import { TemporarilyUnavailable } from './oauth-errors.js';
import { DatabaseConnectionLost } from './database-unavailable.js';

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

describe('a database that cannot be reached', () => {
  const req = { method: 'POST', url: '/token', headers: {}, socket: {} };
  const quiet = { error: () => assert.fail('an outage is not logged as an unhandled error'), warn: () => {} };

  it('answers 503 temporarily_unavailable with Retry-After, however node-postgres and TypeORM report it', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const shuttingDown = Object.assign(new pg.DatabaseError('terminating connection due to administrator command', 100, 'error'), { code: '57P01' });
    const startingUp = Object.assign(new pg.DatabaseError('the database system is starting up', 100, 'error'), { code: '57P03' });
    for (const failure of [
      refused,
      new QueryFailedError('SELECT 1', [], shuttingDown),
      startingUp,
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new QueryFailedError('SELECT 1', [], new Error('Query read timeout')),
      Object.assign(new Error('wrapped'), { cause: refused }),
      new DatabaseConnectionLost(new Error('Database connection provided by a query runner was already released')),
    ]) {
      const error = oauthErrorFor(failure, req, quiet);
      assert.ok(error instanceof TemporarilyUnavailable, `${String(failure)} → ${error.code}`);
      assert.equal(error.status, 503);
      assert.ok(error.retryAfterSeconds > 0);
    }
  });

  it('leaves a statement that is wrong a server_error', () => {
    const logged: unknown[] = [];
    const syntax = Object.assign(new pg.DatabaseError('syntax error at or near "SELEC"', 100, 'error'), { code: '42601' });
    const error = oauthErrorFor(new QueryFailedError('SELEC 1', [], syntax), req, { error: (entry: unknown) => logged.push(entry), warn: () => {} });
    assert.equal(error.code, 'server_error');
    assert.equal(logged.length, 1);
  });
});

describe('errorPage', () => {
  it('is framed like the consent page, with Gatehouse’s name when it is for no resource server, escaping every value', () => {
    const out = errorPage('<Bad> request', 'The "client" & more');
    assert.match(out, /<div class="card" role="alert">\s*<header class="brand"><span class="app">Gatehouse<\/span><\/header>\s*<h1>&lt;Bad&gt; request<\/h1>\s*<p>The &quot;client&quot; &amp; more<\/p>/);
    assert.equal(/<script/i.test(out), false);
  });

  it('carries the resource server’s name and logo when it is for one', () => {
    const out = errorPage('Sign-in method not allowed', 'No.', { name: 'Acme <Docs>', logoUri: 'https://acme.example.com/logo.png' });
    assert.match(out, /<header class="brand"><img src="https:\/\/acme\.example\.com\/logo\.png" alt="Acme &lt;Docs&gt; logo" width="40" height="40"><span class="app">Acme &lt;Docs&gt;<\/span><\/header>/);
  });
});
