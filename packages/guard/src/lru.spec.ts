import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { ExpiringLru } from './lru.js';

describe('ExpiringLru', () => {
  const now = 1_000_000;

  it('returns an entry until its expiry, and nothing from the expiry instant on', () => {
    const lru = new ExpiringLru<string>(10);
    lru.set('k', 'v', now + 100);
    assert.equal(lru.get('k', now), 'v');
    assert.equal(lru.get('k', now + 99), 'v');
    assert.equal(lru.get('k', now + 100), undefined, 'expiresAt is exclusive');
    assert.equal(lru.get('missing', now), undefined);
  });

  it('forgets an expired entry when it is read', () => {
    const lru = new ExpiringLru<string>(10);
    lru.set('old', 'v', now);
    lru.set('live', 'w', now + 1000);
    assert.equal(lru.size, 2);
    assert.equal(lru.get('old', now + 1), undefined);
    assert.equal(lru.size, 1);
    assert.equal(lru.get('old', now - 1), undefined, 'gone, not merely hidden');
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const lru = new ExpiringLru<number>(3);
    lru.set('a', 1, now + 1000);
    lru.set('b', 2, now + 1000);
    lru.set('c', 3, now + 1000);
    lru.set('d', 4, now + 1000);
    assert.equal(lru.size, 3);
    assert.equal(lru.get('a', now), undefined, 'the oldest went');
    assert.deepEqual(['b', 'c', 'd'].map((key) => lru.get(key, now)), [2, 3, 4]);
  });

  it('counts a read as a use: the entry read last survives the next eviction', () => {
    const lru = new ExpiringLru<number>(2);
    lru.set('a', 1, now + 1000);
    lru.set('b', 2, now + 1000);
    assert.equal(lru.get('a', now), 1);
    lru.set('c', 3, now + 1000);
    assert.equal(lru.get('b', now), undefined, 'b was the least recently used');
    assert.equal(lru.get('a', now), 1);
    assert.equal(lru.get('c', now), 3);
  });

  it('replaces an entry in place: new value and expiry, no growth, and it becomes the most recent', () => {
    const lru = new ExpiringLru<string>(2);
    lru.set('a', 'first', now + 10);
    lru.set('b', 'b', now + 1000);
    lru.set('a', 'second', now + 1000);
    assert.equal(lru.size, 2);
    assert.equal(lru.get('a', now + 500), 'second', 'the new expiry applies');
    lru.set('c', 'c', now + 1000);
    assert.equal(lru.get('b', now), undefined, 'b, not the re-set a, was evicted');
  });

  it('never holds more than maxEntries', () => {
    const lru = new ExpiringLru<number>(5);
    for (let i = 0; i < 100; i++) lru.set(`k${i}`, i, now + 1000);
    assert.equal(lru.size, 5);
    assert.deepEqual([95, 96, 97, 98, 99].map((i) => lru.get(`k${i}`, now)), [95, 96, 97, 98, 99]);
  });
});
