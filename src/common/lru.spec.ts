import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Lru } from './lru.js';

describe('Lru', () => {
  it('holds at most maxEntries, forgetting the oldest first', () => {
    const lru = new Lru<string, number>(3);
    for (const [i, key] of ['a', 'b', 'c', 'd', 'e'].entries()) lru.set(key, i);
    assert.equal(lru.size, 3);
    assert.deepEqual(['a', 'b', 'c', 'd', 'e'].map((key) => lru.get(key)), [undefined, undefined, 2, 3, 4]);
  });

  it('counts get as a use (the entry read survives the next eviction), and peek not', () => {
    for (const read of ['get', 'peek'] as const) {
      const lru = new Lru<string, number>(2);
      lru.set('a', 1);
      lru.set('b', 2);
      assert.equal(lru[read]('a'), 1);
      lru.set('c', 3);
      const survivor = read === 'get' ? 'a' : 'b';
      assert.deepEqual(['a', 'b', 'c'].map((key) => lru.peek(key) !== undefined), ['a', 'b', 'c'].map((key) => key === survivor || key === 'c'), read);
    }
  });

  it('replaces an entry in place, making it the most recent, without growing', () => {
    const lru = new Lru<string, string>(2);
    lru.set('a', 'first');
    lru.set('b', 'b');
    lru.set('a', 'second');
    assert.equal(lru.size, 2);
    lru.set('c', 'c');
    assert.equal(lru.get('b'), undefined, 'b, not the re-set a, went');
    assert.equal(lru.get('a'), 'second');
  });

  it('stores falsy values as values, and deletes and clears', () => {
    const lru = new Lru<string, number | null>(5);
    lru.set('zero', 0);
    lru.set('none', null);
    assert.equal(lru.get('zero'), 0);
    assert.equal(lru.get('none'), null);
    assert.equal(lru.delete('zero'), true);
    assert.equal(lru.delete('zero'), false);
    assert.equal(lru.get('zero'), undefined);
    lru.clear();
    assert.equal(lru.size, 0);
  });

  it('refuses a bound that is not a positive whole number', () => {
    for (const bound of [0, -1, 1.5, Number.NaN]) assert.throws(() => new Lru(bound), /maxEntries/);
  });
});
