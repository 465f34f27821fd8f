import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { DATABASE_KINDS, skipUnless } from '../support/database.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { EmbeddedVacuum } from '../../src/database/embedded-vacuum.js';

for (const kind of DATABASE_KINDS) {
  describe(`the embedded database’s autovacuum in the application (${kind})`, { skip: skipUnless(kind) }, () => {
    let gatehouse: RunningGatehouse;
    before(async () => {
      gatehouse = await startGatehouse({ database: kind });
    });
    after(() => gatehouse.close());

    if (kind === 'postgres') {
      it('is not there: the server’s own autovacuum does the work', () => {
        assert.equal(gatehouse.app.get(EmbeddedVacuum), null);
      });
      return;
    }

    it('runs on the application’s database while it serves, and cleans the tables the server wrote', async () => {
      const job = gatehouse.app.get(EmbeddedVacuum);
      assert.ok(job instanceof EmbeddedVacuum);
      // What housekeeping leaves behind: expired DPoP proof jtis it deleted, as dead rows only VACUUM reclaims.
      await gatehouse.db.query(`INSERT INTO dpop_proof_jtis (jkt, jti, expires_at) SELECT 'k', g::text, now() - interval '1 hour' FROM generate_series(1, 200) g`);
      await gatehouse.db.query(`DELETE FROM dpop_proof_jtis WHERE expires_at < now()`);
      const vacuums = async () => {
        await gatehouse.db.query('SELECT pg_stat_force_next_flush()');
        const [row] = (await gatehouse.db.query(`SELECT n_dead_tup::int AS dead, vacuum_count::int AS n FROM pg_stat_all_tables WHERE relname = 'dpop_proof_jtis'`)) as Array<{ dead: number; n: number }>;
        return row!;
      };
      const [discovery, before] = await Promise.all([fetch(`${gatehouse.url}/.well-known/oauth-authorization-server`), vacuums()]);
      assert.equal(discovery.status, 200);
      assert.deepEqual(before, { dead: 200, n: 0 });
      await Promise.all([job!.tick(), fetch(`${gatehouse.url}/healthz`).then((response) => assert.equal(response.status, 200))]);
      assert.deepEqual(await vacuums(), { dead: 0, n: 1 });
    });
  });
}
