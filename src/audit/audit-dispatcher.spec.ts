import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { backoffMs } from './audit-dispatcher.js';

describe('backoffMs', () => {
  it('doubles from the base with each attempt, up to the cap', () => {
    const top = () => 1 - Number.EPSILON;
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((attempt) => backoffMs(attempt, 100, 1000, top)), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(backoffMs(500, 100, 1000, top), 1000, 'no overflow on huge attempt counts');
  });

  it('jitters between half and all of the delay', () => {
    assert.equal(backoffMs(3, 100, 10_000, () => 0), 200);
    for (let i = 0; i < 200; i++) {
      const delay = backoffMs(3, 100, 10_000);
      assert.ok(delay >= 200 && delay <= 400, String(delay));
    }
  });
});
