import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { checkedInSnapshots, expectedSnapshots, renderSnapshot, sourcePath, statementsOf } from './sql-snapshot.js';
import { params, sql, statement } from './sql.js';

const FIX = 'run npm run sql:snapshot and review the diff';

describe('SQL snapshots', () => {
  it('are what the repositories run now', async () => {
    const expected = await expectedSnapshots();
    assert.ok(expected.length > 0, 'repositories with raw statements');
    const current = new Map((await checkedInSnapshots()).map((snapshot) => [snapshot.path, snapshot.text]));
    for (const snapshot of expected) {
      const text = current.get(snapshot.path);
      assert.ok(text !== undefined, `${sourcePath(snapshot.path)} is missing: ${FIX}`);
      assert.equal(text, snapshot.text, `${sourcePath(snapshot.path)} differs from the statements the code runs: ${FIX}`);
      current.delete(snapshot.path);
    }
    assert.deepEqual([...current.keys()].map(sourcePath), [], `snapshots of repositories that run no raw statement: ${FIX}`);
  });

  it('show each statement with its parameters by position, sorted by name', () => {
    const p = params<{ id: string; limit: number }>();
    const module = {
      SECOND: statement('b_second', sql`DELETE FROM t WHERE id = ${p.id} OR parent = ${p.id} LIMIT ${p.limit}`),
      FIRST: { statement: statement('a_first', sql`SELECT 1`) },
      notAStatement: 'SELECT 2',
    };
    assert.equal(
      renderSnapshot('src/x.repository.ts', statementsOf(module)),
      `-- Written by npm run sql:snapshot from src/x.repository.ts: its statements as PostgreSQL receives them.

-- a_first
SELECT 1;

-- b_second ($1 id, $2 limit)
DELETE FROM t WHERE id = $1 OR parent = $1 LIMIT $2;
`,
    );
  });
});
