import type { DataSource, MigrationInterface } from 'typeorm';

/** Arbitrary but fixed: every Gatehouse instance takes this lock before looking at migrations. */
const MIGRATION_LOCK = 7_405_614_212;

export interface MigrationReport {
  applied: string[];
}

/**
 * Applies pending migrations in one transaction under a PostgreSQL advisory lock, so several instances may start
 * at once: the first applies, the others wait and then find nothing to do. A failing migration rolls back whole.
 */
export async function runMigrations(
  dataSource: DataSource,
  migrations: ReadonlyArray<new () => MigrationInterface>,
): Promise<MigrationReport> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
    await runner.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await runner.query(`CREATE TABLE IF NOT EXISTS gatehouse_migrations (
      name text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const rows = (await runner.query('SELECT name FROM gatehouse_migrations')) as Array<{ name: string }>;
    const done = new Set(rows.map((row) => row.name));
    const applied: string[] = [];
    for (const Migration of migrations) {
      const migration = new Migration();
      const name = migration.name ?? Migration.name;
      if (done.has(name)) continue;
      await migration.up(runner);
      await runner.query('INSERT INTO gatehouse_migrations (name) VALUES ($1)', [name]);
      applied.push(name);
    }
    await runner.commitTransaction();
    return { applied };
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction();
    throw error;
  } finally {
    await runner.release();
  }
}

/** Reverts the newest applied migration (CLI: `migrate down`). */
export async function revertLastMigration(
  dataSource: DataSource,
  migrations: ReadonlyArray<new () => MigrationInterface>,
): Promise<string | null> {
  return dataSource.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    // The newest run's migrations share one applied_at (one transaction); within it they were applied in build order.
    const rows = (await tx.query(
      'SELECT name FROM gatehouse_migrations WHERE applied_at = (SELECT max(applied_at) FROM gatehouse_migrations)',
    )) as Array<{ name: string }>;
    if (rows.length === 0) return null;
    const order = migrations.map((candidate) => new candidate().name ?? candidate.name);
    const unknown = rows.find((row) => !order.includes(row.name));
    if (unknown) throw new Error(`migration ${unknown.name} is applied but not known to this build`);
    const last = rows.map((row) => row.name).sort((a, b) => order.indexOf(b) - order.indexOf(a))[0]!;
    const Migration = migrations[order.indexOf(last)]!;
    await new Migration().down(tx.queryRunner!);
    await tx.query('DELETE FROM gatehouse_migrations WHERE name = $1', [last]);
    return last;
  });
}

/** Names of known migrations not yet applied; empty means the schema is current. */
export async function pendingMigrations(
  dataSource: DataSource,
  migrations: ReadonlyArray<new () => MigrationInterface>,
): Promise<string[]> {
  // A database that was never migrated has no bookkeeping table yet: everything is pending.
  const [table] = (await dataSource.query(`SELECT to_regclass('gatehouse_migrations') IS NOT NULL AS present`)) as Array<{ present: boolean }>;
  const rows = table?.present ? ((await dataSource.query(`SELECT name FROM gatehouse_migrations`)) as Array<{ name: string }>) : [];
  const done = new Set(rows.map((row) => row.name));
  return migrations.map((Migration) => new Migration().name ?? Migration.name).filter((name) => !done.has(name));
}

export interface MigrationStatus {
  /** Applied migrations, oldest first (a name this build does not know is listed too). */
  applied: string[];
  /** Known migrations not yet applied, in the order they would run. */
  pending: string[];
}

/** What is applied and what is pending; reads only, so it never creates the bookkeeping table. */
export async function migrationStatus(
  dataSource: DataSource,
  migrations: ReadonlyArray<new () => MigrationInterface>,
): Promise<MigrationStatus> {
  const [table] = (await dataSource.query(`SELECT to_regclass('gatehouse_migrations') IS NOT NULL AS present`)) as Array<{ present: boolean }>;
  const rows = table?.present
    ? ((await dataSource.query(`SELECT name, applied_at FROM gatehouse_migrations`)) as Array<{ name: string; applied_at: Date | string }>)
    : [];
  const order = migrations.map((Migration) => new Migration().name ?? Migration.name);
  // One run's migrations share an applied_at (one transaction); within it they were applied in build order.
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  const time = (row: { applied_at: Date | string }) => new Date(row.applied_at).getTime();
  const applied = rows.sort((a, b) => time(a) - time(b) || rank(a.name) - rank(b.name)).map((row) => row.name);
  const done = new Set(applied);
  return { applied, pending: order.filter((name) => !done.has(name)) };
}
