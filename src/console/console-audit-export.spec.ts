import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { AuditEventV1 } from '../audit/audit-schema.js';
import { writeJsonLines } from './console-audit-export.js';

/** Events with seqs 1…n, and a find over them that records the pages asked for. */
function table(n: number): { find: (after: number, limit: number) => Promise<AuditEventV1[]>; pages: Array<[number, number]> } {
  const events = Array.from({ length: n }, (_, i) => ({ seq: i + 1, type: 'token.issued' }) as AuditEventV1);
  const pages: Array<[number, number]> = [];
  return {
    pages,
    find: async (after, limit) => {
      pages.push([after, limit]);
      return events.filter((event) => event.seq > after).slice(0, limit);
    },
  };
}

async function run(n: number, max: number, pageSize: number, goneAfter = Infinity): Promise<{ lines: unknown[]; result: unknown; pages: Array<[number, number]> }> {
  const { find, pages } = table(n);
  const chunks: string[] = [];
  const result = await writeJsonLines({
    find,
    write: async (chunk) => {
      chunks.push(chunk);
      return chunks.length < goneAfter;
    },
    max,
    pageSize,
  });
  const lines = chunks
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);
  return { lines, result, pages };
}

describe('the audit export', () => {
  it('writes every event once, one per line, page by page by seq', async () => {
    const { lines, result, pages } = await run(7, 100, 3);
    assert.deepEqual(
      lines.map((line) => (line as AuditEventV1).seq),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(result, { count: 7, truncated: false });
    assert.deepEqual(pages, [
      [0, 3],
      [3, 3],
      [6, 3],
    ]);
  });

  it('asks once more after a full last page, and writes nothing for no events', async () => {
    assert.deepEqual((await run(6, 100, 3)).pages, [
      [0, 3],
      [3, 3],
      [6, 3],
    ]);
    assert.deepEqual(await run(0, 100, 3), { lines: [], result: { count: 0, truncated: false }, pages: [[0, 3]] });
  });

  it('stops at max and says so on a last line, only when more matched', async () => {
    const cut = await run(10, 5, 3);
    assert.deepEqual(
      cut.lines.slice(0, -1).map((line) => (line as AuditEventV1).seq),
      [1, 2, 3, 4, 5],
    );
    assert.deepEqual(cut.lines.at(-1), { truncated: true, max_events: 5, continue_after_seq: 5 });
    assert.deepEqual(cut.result, { count: 5, truncated: true });

    const exact = await run(5, 5, 3);
    assert.deepEqual(exact.result, { count: 5, truncated: false });
    assert.equal(exact.lines.length, 5);
    const exactOnPage = await run(6, 6, 3);
    assert.deepEqual(exactOnPage.result, { count: 6, truncated: false });
    assert.deepEqual(exactOnPage.pages.at(-1), [6, 1], 'one more is looked for, and there is none');
  });

  it('stops when the reader has gone', async () => {
    const { result, pages } = await run(10, 100, 3, 1);
    assert.deepEqual(result, { count: 0, truncated: false });
    assert.equal(pages.length, 1);
  });
});
