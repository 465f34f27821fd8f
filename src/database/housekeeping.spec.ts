import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { affected, deleteInBatches } from './housekeeping.js';

describe('deleteInBatches', () => {
  it('keeps deleting full batches until a short one, and totals them', async () => {
    let remaining = 2500;
    const limits: number[] = [];
    const total = await deleteInBatches(async (limit) => {
      limits.push(limit);
      const n = Math.min(limit, remaining);
      remaining -= n;
      return n;
    });
    assert.equal(total, 2500);
    assert.equal(remaining, 0);
    assert.deepEqual(limits, [1000, 1000, 1000]);
  });

  it('stops after one call when nothing is left', async () => {
    let calls = 0;
    assert.equal(await deleteInBatches(async () => (calls++, 0)), 0);
    assert.equal(calls, 1);
  });
});

describe('affected', () => {
  it('reads the count from a [rows, count] result and nothing else', () => {
    assert.equal(affected([[], 7]), 7);
    assert.equal(affected([]), 0);
    assert.equal(affected(undefined), 0);
  });
});
