import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { Request } from 'express';
import { routeOf } from './http-metrics.js';

describe('routeOf', () => {
  it('labels a request by its route pattern, never its path', () => {
    assert.equal(routeOf({ route: { path: '/register/:clientId' }, baseUrl: '', originalUrl: '/register/abc?x=1' } as unknown as Request), '/register/:clientId');
  });

  it('labels requests no route matched as unmatched', () => {
    assert.equal(routeOf({ baseUrl: '', originalUrl: '/no/such/thing/123' } as unknown as Request), 'unmatched');
  });
});
