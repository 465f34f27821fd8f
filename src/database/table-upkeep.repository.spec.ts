import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { upkeepOf, type TableNumbers, type UpkeepSettings } from './table-upkeep.repository.js';

/** PostgreSQL 18's defaults. */
const DEFAULTS: UpkeepSettings = {
  vacuumThreshold: 50,
  vacuumScaleFactor: 0.2,
  vacuumMaxThreshold: 100_000_000,
  insertThreshold: 1000,
  insertScaleFactor: 0.2,
  analyzeThreshold: 50,
  analyzeScaleFactor: 0.1,
  freezeMaxAge: 200_000_000,
  multixactFreezeMaxAge: 400_000_000,
};

const table = (numbers: Partial<TableNumbers>): TableNumbers => ({
  table: 'refresh_tokens',
  kind: 'r',
  reltuples: 1000,
  dead: 0,
  insertedSinceVacuum: 0,
  modifiedSinceAnalyze: 0,
  frozenAge: 1000,
  multixactAge: 0,
  isStatistics: false,
  ...numbers,
});

describe('upkeepOf: autovacuum’s rule', () => {
  it('leaves a table alone below every threshold', () => {
    assert.equal(upkeepOf(table({ dead: 250, insertedSinceVacuum: 1200, modifiedSinceAnalyze: 150 }), DEFAULTS), null);
  });

  it('vacuums past the dead rows’ threshold (50 + 20 % of the rows), and analyses past the changes’ (50 + 10 %)', () => {
    assert.equal(upkeepOf(table({ dead: 251 }), DEFAULTS), 'VACUUM');
    assert.equal(upkeepOf(table({ modifiedSinceAnalyze: 151 }), DEFAULTS), 'ANALYZE');
    assert.equal(upkeepOf(table({ dead: 251, modifiedSinceAnalyze: 151 }), DEFAULTS), 'VACUUM (ANALYZE)');
  });

  it('counts a table never vacuumed or analysed (reltuples -1) as empty', () => {
    assert.equal(upkeepOf(table({ reltuples: -1, dead: 51 }), DEFAULTS), 'VACUUM');
    assert.equal(upkeepOf(table({ reltuples: -1, dead: 50 }), DEFAULTS), null);
  });

  it('vacuums an append-only table past the inserts’ threshold (1000 + 20 %), and none when that is off (-1)', () => {
    assert.equal(upkeepOf(table({ insertedSinceVacuum: 1201 }), DEFAULTS), 'VACUUM');
    assert.equal(upkeepOf(table({ insertedSinceVacuum: 1_000_000 }), { ...DEFAULTS, insertThreshold: -1 }), null);
  });

  it('caps the dead rows’ threshold of a big table, unless the cap is off (-1)', () => {
    const big = table({ reltuples: 1e9, dead: 100_000_001 });
    assert.equal(upkeepOf(big, DEFAULTS), 'VACUUM');
    assert.equal(upkeepOf(big, { ...DEFAULTS, vacuumMaxThreshold: -1 }), null);
  });

  it('vacuums a table whose transaction ids or multixacts grow too old, whatever its rows did', () => {
    assert.equal(upkeepOf(table({ frozenAge: 200_000_001 }), DEFAULTS), 'VACUUM');
    assert.equal(upkeepOf(table({ multixactAge: 400_000_001 }), DEFAULTS), 'VACUUM');
    assert.equal(upkeepOf(table({ frozenAge: 200_000_000 }), DEFAULTS), null);
  });

  it('never analyses a TOAST table or pg_statistic', () => {
    assert.equal(upkeepOf(table({ kind: 't', dead: 251, modifiedSinceAnalyze: 10_000 }), DEFAULTS), 'VACUUM');
    assert.equal(upkeepOf(table({ kind: 't', modifiedSinceAnalyze: 10_000 }), DEFAULTS), null);
    assert.equal(upkeepOf(table({ isStatistics: true, modifiedSinceAnalyze: 10_000 }), DEFAULTS), null);
  });
});
