import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { Database } from '../../src/database/database.module.js';
import { ClientAssertionJtiRepository } from '../../src/registration/client-assertion-jti.repository.js';
import { DATABASE_KINDS, openTestDatabase, skipUnless, type TestDatabase } from '../support/database.js';

/**
 * The replay cache of private_key_jwt client assertions: a jti is spent once per client while its assertion is
 * valid, atomically however many requests (on however many instances: they share the table) present it at once.
 */
for (const kind of DATABASE_KINDS) {
  describe(`client assertion jtis (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;
    let jtis: ClientAssertionJtiRepository;
    const inFiveMinutes = () => new Date(Date.now() + 300_000);

    before(async () => {
      db = await openTestDatabase(kind);
      jtis = new ClientAssertionJtiRepository(db.dataSource, new Database(db.dataSource));
    });
    after(async () => {
      await db?.close();
    });

    it('spends a jti once per client; the same jti of another client is its own', async () => {
      const jti = randomUUID();
      assert.equal(await jtis.use('client-a', jti, inFiveMinutes()), true);
      assert.equal(await jtis.use('client-a', jti, inFiveMinutes()), false);
      assert.equal(await jtis.use('https://app.example.com/client.json', jti, inFiveMinutes()), true);
    });

    it('lets exactly one of many concurrent presentations through', async () => {
      const jti = randomUUID();
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => jtis.use('client-b', jti, inFiveMinutes())));
      assert.equal(outcomes.filter(Boolean).length, 1);
    });

    it('takes over the jti of an expired assertion, and housekeeping deletes expired entries', async () => {
      const jti = randomUUID();
      assert.equal(await jtis.use('client-c', jti, new Date(Date.now() - 1000)), true);
      assert.equal(await jtis.use('client-c', jti, inFiveMinutes()), true, 'an expired entry does not block its jti');
      assert.equal(await jtis.use('client-c', jti, inFiveMinutes()), false);
      const stale = randomUUID();
      await jtis.use('client-c', stale, new Date(Date.now() - 1000));
      assert.ok((await jtis.deleteExpired(new Date(), 100)) >= 1);
      const left = (await db.dataSource.query('SELECT jti FROM client_assertion_jtis WHERE client_id = $1', ['client-c'])) as Array<{ jti: string }>;
      assert.deepEqual(left.map((row) => row.jti), [jti]);
    });
  });
}
