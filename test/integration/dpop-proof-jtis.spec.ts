import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { Database } from '../../src/database/database.module.js';
import { DpopProofJtiRepository } from '../../src/tokens/dpop-proof-jti.repository.js';
import { DATABASE_KINDS, openTestDatabase, skipUnless, type TestDatabase } from '../support/database.js';

/**
 * The replay cache of DPoP proofs at the token endpoint: a jti is spent once per key while its proof's iat window is
 * open, atomically however many requests (on however many instances: they share the table) present it at once.
 */
for (const kind of DATABASE_KINDS) {
  describe(`DPoP proof jtis (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;
    let jtis: DpopProofJtiRepository;
    const inFiveMinutes = () => new Date(Date.now() + 300_000);

    before(async () => {
      db = await openTestDatabase(kind);
      jtis = new DpopProofJtiRepository(db.dataSource, new Database(db.dataSource));
    });
    after(async () => {
      await db?.close();
    });

    it('spends a jti once per key; the same jti of another key is its own', async () => {
      const jti = randomUUID();
      assert.equal(await jtis.use('jkt-a', jti, inFiveMinutes()), true);
      assert.equal(await jtis.use('jkt-a', jti, inFiveMinutes()), false);
      assert.equal(await jtis.use('jkt-other', jti, inFiveMinutes()), true);
    });

    it('lets exactly one of many concurrent presentations through', async () => {
      const jti = randomUUID();
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => jtis.use('jkt-b', jti, inFiveMinutes())));
      assert.equal(outcomes.filter(Boolean).length, 1);
    });

    it('takes over the jti of a closed window, and housekeeping deletes expired entries', async () => {
      const jti = randomUUID();
      assert.equal(await jtis.use('jkt-c', jti, new Date(Date.now() - 1000)), true);
      assert.equal(await jtis.use('jkt-c', jti, inFiveMinutes()), true, 'a closed window does not block its jti');
      assert.equal(await jtis.use('jkt-c', jti, inFiveMinutes()), false);
      const stale = randomUUID();
      await jtis.use('jkt-c', stale, new Date(Date.now() - 1000));
      assert.ok((await jtis.deleteExpired(new Date(), 100)) >= 1);
      const left = (await db.dataSource.query('SELECT jti FROM dpop_proof_jtis WHERE jkt = $1', ['jkt-c'])) as Array<{ jti: string }>;
      assert.deepEqual(left.map((row) => row.jti), [jti]);
    });
  });
}
