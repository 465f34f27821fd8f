import { Injectable } from '@nestjs/common';
import { Database } from './database.module.js';
import { sql, statement } from './sql.js';

/** What autovacuum's rule reads of a table: pg_class's and the statistics' numbers. */
export interface TableNumbers {
  /** The table as VACUUM takes it: regclass's text, schema-qualified and quoted where it must be. */
  table: string;
  /** r: a table, m: a materialized view, t: a TOAST table (vacuumed, never analysed). */
  kind: 'r' | 'm' | 't';
  /** The planner's row estimate; -1 before the first VACUUM or ANALYZE. */
  reltuples: number;
  dead: number;
  insertedSinceVacuum: number;
  modifiedSinceAnalyze: number;
  /** Transactions since the oldest unfrozen transaction id it may hold (age(relfrozenxid)). */
  frozenAge: number;
  multixactAge: number;
  /** pg_statistic, which ANALYZE never reads. */
  isStatistics: boolean;
}

/** PostgreSQL's own autovacuum settings, which the rule reads the numbers against. */
export interface UpkeepSettings {
  vacuumThreshold: number;
  vacuumScaleFactor: number;
  /** Caps the dead-row threshold of big tables (PostgreSQL 18); -1: no cap. */
  vacuumMaxThreshold: number;
  insertThreshold: number;
  insertScaleFactor: number;
  analyzeThreshold: number;
  analyzeScaleFactor: number;
  freezeMaxAge: number;
  multixactFreezeMaxAge: number;
}

export const tableNumbers = statement(
  'table_numbers',
  sql`SELECT c.oid::regclass::text AS "table", c.relkind AS kind, c.reltuples::float8 AS reltuples,
             coalesce(s.n_dead_tup, 0)::float8 AS dead, coalesce(s.n_ins_since_vacuum, 0)::float8 AS "insertedSinceVacuum",
             coalesce(s.n_mod_since_analyze, 0)::float8 AS "modifiedSinceAnalyze",
             age(c.relfrozenxid)::float8 AS "frozenAge", mxid_age(c.relminmxid)::float8 AS "multixactAge",
             c.oid = 'pg_catalog.pg_statistic'::regclass AS "isStatistics"
        FROM pg_class c LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
       WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence <> 't'`,
).returning<TableNumbers>();

export const upkeepSettings = statement(
  'upkeep_settings',
  sql`SELECT current_setting('autovacuum_vacuum_threshold')::float8 AS "vacuumThreshold",
             current_setting('autovacuum_vacuum_scale_factor')::float8 AS "vacuumScaleFactor",
             coalesce(current_setting('autovacuum_vacuum_max_threshold', true), '-1')::float8 AS "vacuumMaxThreshold",
             current_setting('autovacuum_vacuum_insert_threshold')::float8 AS "insertThreshold",
             current_setting('autovacuum_vacuum_insert_scale_factor')::float8 AS "insertScaleFactor",
             current_setting('autovacuum_analyze_threshold')::float8 AS "analyzeThreshold",
             current_setting('autovacuum_analyze_scale_factor')::float8 AS "analyzeScaleFactor",
             current_setting('autovacuum_freeze_max_age')::float8 AS "freezeMaxAge",
             current_setting('autovacuum_multixact_freeze_max_age')::float8 AS "multixactFreezeMaxAge"`,
).returning<UpkeepSettings>();

/** The catalog numbers autovacuum reads, and VACUUM and ANALYZE themselves. */
@Injectable()
export class TableUpkeepRepository {
  constructor(private readonly database: Database) {}

  async numbers(): Promise<{ settings: UpkeepSettings; tables: TableNumbers[] }> {
    const [settings] = await this.database.run(upkeepSettings, {});
    return { settings: settings!, tables: await this.database.run(tableNumbers, {}) };
  }

  /** One table's upkeep, outside any transaction (VACUUM cannot run in one). */
  async clean(table: string, command: UpkeepCommand): Promise<void> {
    // `table` is regclass's text from the catalog (tableNumbers), never a caller's value.
    await this.database.dataSource.query(`${command} ${table}`);
  }
}

/** The command autovacuum's rule calls for. */
export type UpkeepCommand = 'VACUUM (ANALYZE)' | 'VACUUM' | 'ANALYZE';

/**
 * What autovacuum would do to this table now (PostgreSQL's relation_needs_vacanalyze, with its settings): VACUUM
 * once its dead rows or its rows inserted since the last VACUUM pass their thresholds, or its oldest unfrozen
 * transaction id grows too old; ANALYZE once enough rows changed since the last. The inserts' threshold is reckoned
 * over all the rows, as before PostgreSQL 18 (which counts only the pages not yet frozen): an append-only table
 * waits a little longer for its VACUUM, and the freeze age still bounds it.
 */
export function upkeepOf(numbers: TableNumbers, settings: UpkeepSettings): UpkeepCommand | null {
  const rows = Math.max(numbers.reltuples, 0);
  let deadThreshold = settings.vacuumThreshold + settings.vacuumScaleFactor * rows;
  if (settings.vacuumMaxThreshold >= 0) deadThreshold = Math.min(deadThreshold, settings.vacuumMaxThreshold);
  const vacuum =
    numbers.frozenAge > settings.freezeMaxAge ||
    numbers.multixactAge > settings.multixactFreezeMaxAge ||
    numbers.dead > deadThreshold ||
    (settings.insertThreshold >= 0 && numbers.insertedSinceVacuum > settings.insertThreshold + settings.insertScaleFactor * rows);
  const analyze = numbers.kind !== 't' && !numbers.isStatistics && numbers.modifiedSinceAnalyze > settings.analyzeThreshold + settings.analyzeScaleFactor * rows;
  if (vacuum) return analyze ? 'VACUUM (ANALYZE)' : 'VACUUM';
  return analyze ? 'ANALYZE' : null;
}
