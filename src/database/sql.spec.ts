import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { params, sql, sqlJoin, sqlText, statement } from './sql.js';

describe('sql', () => {
  const p = params<{ id: string; limit: number; since: Date | null }>();

  it('compiles named parameters to positions in order of first use; a parameter used twice keeps its position', () => {
    const compiled = statement('t', sql`SELECT * FROM t WHERE id = ${p.id} OR parent = ${p.id} AND (${p.since}::timestamptz IS NULL) LIMIT ${p.limit}`);
    assert.equal(compiled.text, 'SELECT * FROM t WHERE id = $1 OR parent = $1 AND ($2::timestamptz IS NULL) LIMIT $3');
    assert.deepEqual(compiled.order, ['id', 'since', 'limit']);
    assert.deepEqual(compiled.values({ id: 'a', limit: 5, since: null }), ['a', null, 5]);
  });

  it('numbers the parameters of nested fragments with the statement’s, sharing a name across fragments', () => {
    const q = params<{ id: string; seconds: number }>();
    const used = sql`used AS (UPDATE c SET at = now() WHERE id = ${q.id} AND at < now() - make_interval(secs => ${q.seconds}))`;
    const whole = statement('t', sql`WITH ${used}, ${sqlJoin([sqlText('a AS (SELECT 1)'), sql`b AS (SELECT ${p.limit})`], ', ')} SELECT ${q.id}`);
    assert.equal(whole.text, 'WITH used AS (UPDATE c SET at = now() WHERE id = $1 AND at < now() - make_interval(secs => $2)), a AS (SELECT 1), b AS (SELECT $3) SELECT $1');
    assert.deepEqual(whole.values({ id: 'x', seconds: 60, limit: 3 }), ['x', 60, 3]);
  });

  it('refuses to run without a value for one of its parameters', () => {
    const compiled = statement('needs_limit', sql`SELECT ${p.limit}`);
    assert.throws(() => compiled.values({} as { limit: number }), /needs_limit: no value for limit/);
  });

  it('names the prepared statement after its name and its text', () => {
    const a = statement('same', sql`SELECT 1`);
    assert.equal(a.preparedName, statement('same', sql`SELECT 1`).preparedName);
    assert.match(a.preparedName, /^same_[0-9a-f]{12}$/);
    assert.notEqual(a.preparedName, statement('same', sql`SELECT 2`).preparedName);
  });
});
