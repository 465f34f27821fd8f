import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { revertLastMigration, runMigrations } from '../../src/database/migration-runner.js';
import { ClientRepository } from '../../src/registration/client.repository.js';
import type { ClientMetadata } from '../../src/registration/client-metadata.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { DATABASE_KINDS, barrier, openTestDatabase, skipUnless, type TestDatabase } from '../support/database.js';
import { insertParties } from '../factories/rows.js';

const N = 8;
const MIGRATION = 'ClientMetadataDocuments1795320000000';

function metadata(name: string): ClientMetadata {
  return { redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'], application_type: 'native', client_name: name };
}

let sequence = 0;
function documentUrl(): string {
  return `https://app.example.com/clients/${++sequence}.json`;
}

for (const kind of DATABASE_KINDS) {
  describe(`metadata-document clients in the clients table (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;
    let clients: ClientRepository;

    before(async () => {
      db = await openTestDatabase(kind);
      clients = new ClientRepository(db.dataSource);
    });
    after(async () => {
      await db?.close();
    });

    async function row(id: string): Promise<{ kind: string; metadata: ClientMetadata; metadata_expires_at: Date } | undefined> {
      const rows = (await db.dataSource.query('SELECT kind, metadata, metadata_expires_at FROM clients WHERE id = $1', [id])) as Array<{ kind: string; metadata: ClientMetadata; metadata_expires_at: Date }>;
      return rows[0];
    }

    it('inserts a document on first use, then changes the row only for a new fetch', async () => {
      const id = documentUrl();
      const first = new Date(Date.now() + 300_000);
      assert.equal(await db.dataSource.transaction((tx) => clients.recordMetadataDocument(tx, { id, metadata: metadata('One'), expiresAt: first }, 'insert')), true);
      assert.equal((await row(id))?.kind, 'metadata_document');
      assert.equal(new Date((await row(id))!.metadata_expires_at).getTime(), first.getTime());

      // The same fetch recorded again (another request that shared it): nothing changes, and the caller knows.
      assert.equal(await db.dataSource.transaction((tx) => clients.recordMetadataDocument(tx, { id, metadata: metadata('One'), expiresAt: first }, 'insert')), false);

      const second = new Date(Date.now() + 600_000);
      assert.equal(await db.dataSource.transaction((tx) => clients.recordMetadataDocument(tx, { id, metadata: metadata('Two'), expiresAt: second }, 'update')), true);
      assert.equal((await row(id))?.metadata.client_name, 'Two', 'the metadata is replaced by the new document');
      assert.equal(new Date((await row(id))!.metadata_expires_at).getTime(), second.getTime());
    });

    it('never inserts in update mode, and never touches a registered client', async () => {
      const missing = documentUrl();
      assert.equal(await db.dataSource.transaction((tx) => clients.recordMetadataDocument(tx, { id: missing, metadata: metadata('X'), expiresAt: new Date(Date.now() + 1000) }, 'update')), false);
      assert.equal(await row(missing), undefined);

      const { clientId } = await insertParties(db.dataSource);
      for (const mode of ['insert', 'update'] as const) {
        assert.equal(await db.dataSource.transaction((tx) => clients.recordMetadataDocument(tx, { id: clientId, metadata: metadata('Hijack'), expiresAt: new Date(Date.now() + 1000) }, mode)), false, mode);
      }
      const registered = await row(clientId);
      assert.equal(registered?.kind, 'dynamic');
      assert.equal(registered?.metadata.client_name, undefined);
      assert.equal(registered?.metadata_expires_at, null);
    });

    it(`reports exactly one change when ${N} requests that shared one fetch record it at once`, async () => {
      const id = documentUrl();
      const expiresAt = new Date(Date.now() + 300_000);
      const arrive = barrier(N);
      const results = await Promise.all(
        Array.from({ length: N }, () =>
          db.dataSource.transaction(async (tx) => {
            if (kind === 'postgres') await arrive();
            const changed = await clients.recordMetadataDocument(tx, { id, metadata: metadata('Shared'), expiresAt }, 'insert');
            // Hold the winner's transaction open so that the others really wait on its row.
            if (changed && kind === 'postgres') await sleep(200);
            return changed;
          }),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1, JSON.stringify(results));
      assert.equal((await row(id))?.metadata.client_name, 'Shared');
    });

    it('keeps secrets and registration tokens out of metadata-document rows, and requires an expiry', async () => {
      const insert = (columns: string, values: string) => db.dataSource.query(`INSERT INTO clients (id, kind, metadata${columns}) VALUES ($1, 'metadata_document', '{}'::jsonb${values})`, [documentUrl()]);
      await assert.rejects(insert(', secret_hash, metadata_expires_at', `, 'hash', now()`), /clients_metadata_document_shape/);
      await assert.rejects(insert(', registration_token_hash, metadata_expires_at', `, 'hash', now()`), /clients_metadata_document_shape/);
      await assert.rejects(insert('', ''), /clients_metadata_document_shape/);
      await assert.rejects(db.dataSource.query(`INSERT INTO clients (id, kind, metadata) VALUES ('x', 'bogus', '{}'::jsonb)`), /clients_kind_check/);
    });

    it('reverting the migration removes metadata-document clients with what hangs off them, and applying it again works', async () => {
      const id = documentUrl();
      await db.dataSource.transaction((tx) => clients.recordMetadataDocument(tx, { id, metadata: metadata('Gone'), expiresAt: new Date(Date.now() + 1000) }, 'insert'));
      const { clientId: registered, grantId } = await insertParties(db.dataSource);
      await db.dataSource.query(`UPDATE grants SET client_id = $1 WHERE id = $2`, [id, grantId]);

      // Revert newest first down to this migration (later ones, if any, go first and come back below).
      const reverted: string[] = [];
      while (reverted.at(-1) !== MIGRATION) {
        const name = await revertLastMigration(db.dataSource, MIGRATIONS);
        assert.ok(name, `${MIGRATION} was applied`);
        reverted.push(name);
      }
      assert.equal((await db.dataSource.query(`SELECT id FROM clients WHERE id = $1`, [id])).length, 0);
      assert.equal((await db.dataSource.query(`SELECT id FROM grants WHERE client_id = $1`, [id])).length, 0, 'its grant went with it');
      assert.equal((await db.dataSource.query(`SELECT id FROM clients WHERE id = $1`, [registered])).length, 1, 'registered clients stay');
      const columns = (await db.dataSource.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'clients' AND column_name = 'metadata_expires_at'`)) as unknown[];
      assert.equal(columns.length, 0);
      await assert.rejects(db.dataSource.query(`INSERT INTO clients (id, kind, metadata) VALUES ('y', 'metadata_document', '{}'::jsonb)`), /clients_kind_check/);

      assert.deepEqual((await runMigrations(db.dataSource, MIGRATIONS)).applied, [...reverted].reverse());
      assert.equal(await db.dataSource.transaction((tx) => clients.recordMetadataDocument(tx, { id, metadata: metadata('Back'), expiresAt: new Date(Date.now() + 1000) }, 'insert')), true);
    });
  });
}
