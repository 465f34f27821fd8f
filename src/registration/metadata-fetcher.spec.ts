import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { cacheLifetimeSeconds, matchesHostPattern, type CacheHeaders } from './metadata-fetcher.js';

const BOUNDS = { min: 300, max: 86400 };
const NOW = Date.parse('2026-05-01T12:00:00Z');

function headers(values: Partial<CacheHeaders>): CacheHeaders {
  return { cacheControl: null, expires: null, date: null, age: null, ...values };
}

describe('cacheLifetimeSeconds', () => {
  it('uses max-age, less Age, within the bounds', () => {
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'max-age=3600' }), BOUNDS, NOW), 3600);
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'public, MAX-AGE=7200, must-revalidate' }), BOUNDS, NOW), 7200);
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'max-age="1800"' }), BOUNDS, NOW), 1800);
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'max-age=3600', age: '600' }), BOUNDS, NOW), 3000);
  });

  it('clamps to the minimum and the maximum', () => {
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'max-age=0' }), BOUNDS, NOW), 300);
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'max-age=60' }), BOUNDS, NOW), 300);
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'max-age=3600', age: '99999' }), BOUNDS, NOW), 300);
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'max-age=31536000' }), BOUNDS, NOW), 86400);
  });

  it('treats no-store and no-cache as the minimum, whatever else is said', () => {
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'no-store' }), BOUNDS, NOW), 300);
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'max-age=86400, no-store' }), BOUNDS, NOW), 300);
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'no-cache, max-age=86400' }), BOUNDS, NOW), 300);
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'no-store' }), { min: 0, max: 60 }, NOW), 0);
  });

  it('falls back to Expires, relative to Date when given', () => {
    assert.equal(cacheLifetimeSeconds(headers({ expires: new Date(NOW + 7200_000).toUTCString() }), BOUNDS, NOW), 7200);
    const date = new Date(NOW - 3600_000).toUTCString();
    assert.equal(cacheLifetimeSeconds(headers({ expires: new Date(NOW).toUTCString(), date }), BOUNDS, NOW), 3600);
    assert.equal(cacheLifetimeSeconds(headers({ expires: '0' }), BOUNDS, NOW), 300, 'an invalid Expires means expired');
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'max-age=600', expires: new Date(NOW + 7200_000).toUTCString() }), BOUNDS, NOW), 600, 'max-age wins');
  });

  it('uses the minimum without caching headers or with a malformed max-age', () => {
    assert.equal(cacheLifetimeSeconds(headers({}), BOUNDS, NOW), 300);
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'max-age=-5' }), BOUNDS, NOW), 300);
    assert.equal(cacheLifetimeSeconds(headers({ cacheControl: 'max-age=1e9' }), BOUNDS, NOW), 300);
  });
});

describe('matchesHostPattern', () => {
  it('matches an exact name, case-insensitively and ignoring a trailing dot', () => {
    assert.equal(matchesHostPattern('app.example.com', 'app.example.com'), true);
    assert.equal(matchesHostPattern('APP.example.com', 'app.example.com'), true);
    assert.equal(matchesHostPattern('app.example.com.', 'app.example.com'), true);
    assert.equal(matchesHostPattern('www.app.example.com', 'app.example.com'), false);
    assert.equal(matchesHostPattern('app.example.co', 'app.example.com'), false);
  });

  it('matches names below a wildcard, not the apex and not look-alikes', () => {
    assert.equal(matchesHostPattern('a.example.com', '*.example.com'), true);
    assert.equal(matchesHostPattern('a.b.example.com', '*.example.com'), true);
    assert.equal(matchesHostPattern('a.example.com.', '*.example.com'), true);
    assert.equal(matchesHostPattern('example.com', '*.example.com'), false);
    assert.equal(matchesHostPattern('evilexample.com', '*.example.com'), false);
    assert.equal(matchesHostPattern('example.com.evil.net', '*.example.com'), false);
  });

  it('matches IP literals as URL host names write them', () => {
    assert.equal(matchesHostPattern('127.0.0.1', '127.0.0.1'), true);
    assert.equal(matchesHostPattern('[::1]', '[::1]'), true);
  });
});
