-- Written by npm run sql:snapshot from src/database/table-upkeep.repository.ts: its statements as PostgreSQL receives them.

-- table_numbers
SELECT c.oid::regclass::text AS "table", c.relkind AS kind, c.reltuples::float8 AS reltuples,
             coalesce(s.n_dead_tup, 0)::float8 AS dead, coalesce(s.n_ins_since_vacuum, 0)::float8 AS "insertedSinceVacuum",
             coalesce(s.n_mod_since_analyze, 0)::float8 AS "modifiedSinceAnalyze",
             age(c.relfrozenxid)::float8 AS "frozenAge", mxid_age(c.relminmxid)::float8 AS "multixactAge",
             c.oid = 'pg_catalog.pg_statistic'::regclass AS "isStatistics"
        FROM pg_class c LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
       WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence <> 't';

-- upkeep_settings
SELECT current_setting('autovacuum_vacuum_threshold')::float8 AS "vacuumThreshold",
             current_setting('autovacuum_vacuum_scale_factor')::float8 AS "vacuumScaleFactor",
             coalesce(current_setting('autovacuum_vacuum_max_threshold', true), '-1')::float8 AS "vacuumMaxThreshold",
             current_setting('autovacuum_vacuum_insert_threshold')::float8 AS "insertThreshold",
             current_setting('autovacuum_vacuum_insert_scale_factor')::float8 AS "insertScaleFactor",
             current_setting('autovacuum_analyze_threshold')::float8 AS "analyzeThreshold",
             current_setting('autovacuum_analyze_scale_factor')::float8 AS "analyzeScaleFactor",
             current_setting('autovacuum_freeze_max_age')::float8 AS "freezeMaxAge",
             current_setting('autovacuum_multixact_freeze_max_age')::float8 AS "multixactFreezeMaxAge";
