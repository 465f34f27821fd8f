import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { Database } from '../../src/database/database.module.js';
import { EmbeddedVacuum } from '../../src/database/embedded-vacuum.js';
import { TableUpkeepRepository } from '../../src/database/table-upkeep.repository.js';

/** PGlite has no autovacuum of its own: EmbeddedVacuum is it. */
describe('the embedded database’s autovacuum (pglite)', () => {
  let db: TestDatabase;
  let job: EmbeddedVacuum;

  before(async () => {
    db = await openTestDatabase('pglite');
    job = new EmbeddedVacuum(new TableUpkeepRepository(new Database(db.dataSource)));
  });
  after(() => db.close());

  const counts = async (table: string) => {
    // The statistics reach the views when the session next reports them: make that now.
    await db.dataSource.query('SELECT pg_stat_force_next_flush()');
    const [row] = (await db.dataSource.query(
      `SELECT n_dead_tup::int AS dead, vacuum_count::int AS vacuums, analyze_count::int AS analyses FROM pg_stat_all_tables WHERE relid = $1::regclass`,
      [table],
    )) as Array<{ dead: number; vacuums: number; analyses: number }>;
    return row!;
  };

  it('vacuums and analyses a table with dead rows, leaves a quiet one alone, and does nothing twice', async () => {
    await db.dataSource.query('CREATE TABLE upkeep_busy (id int PRIMARY KEY, n int)');
    await db.dataSource.query('INSERT INTO upkeep_busy SELECT g, 0 FROM generate_series(1, 500) g');
    await db.dataSource.query('UPDATE upkeep_busy SET n = n + 1');
    await db.dataSource.query('CREATE TABLE upkeep_quiet (id int PRIMARY KEY)');
    await db.dataSource.query('INSERT INTO upkeep_quiet SELECT g FROM generate_series(1, 10) g');
    const before = await counts('upkeep_busy');
    assert.equal(before.dead, 500, 'PGlite left the dead rows of the UPDATE in place');
    assert.deepEqual([before.vacuums, before.analyses], [0, 0]);

    await job.tick();
    assert.deepEqual(await counts('upkeep_busy'), { dead: 0, vacuums: 1, analyses: 1 });
    assert.deepEqual(await counts('upkeep_quiet'), { dead: 0, vacuums: 0, analyses: 0 });

    await job.tick();
    assert.deepEqual(await counts('upkeep_busy'), { dead: 0, vacuums: 1, analyses: 1 }, 'a clean table is not vacuumed again');
  });

  it('vacuums every table whose transaction ids are too old, the catalog’s and TOAST tables included', async () => {
    // As if every table had reached autovacuum_freeze_max_age (a setting only a restarted server could lower).
    class Aged extends TableUpkeepRepository {
      override async numbers() {
        const { settings, tables } = await super.numbers();
        return { settings: { ...settings, freezeMaxAge: 0 }, tables };
      }
    }
    await new EmbeddedVacuum(new Aged(new Database(db.dataSource))).tick();
    await db.dataSource.query('SELECT pg_stat_force_next_flush()');
    const never = (await db.dataSource.query(
      `SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_stat_all_tables s ON s.relid = c.oid
        WHERE c.relkind IN ('r', 't') AND c.relpersistence <> 't' AND s.vacuum_count = 0`,
    )) as Array<{ name: string }>;
    assert.deepEqual(never, [], 'no table was left unvacuumed');
    const [catalog] = (await db.dataSource.query(
      `SELECT count(*)::int AS n FROM pg_stat_all_tables WHERE schemaname IN ('pg_catalog', 'pg_toast') AND vacuum_count > 0`,
    )) as Array<{ n: number }>;
    assert.ok(catalog!.n > 50, `${catalog!.n} catalog and TOAST tables vacuumed`);
  });
});
