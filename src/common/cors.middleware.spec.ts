import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { isPublicCorsPath } from './cors.middleware.js';

describe('isPublicCorsPath', () => {
  it('matches the public paths as the router does: in any case, with or without one trailing slash', () => {
    for (const path of ['/token', '/token/', '/TOKEN', '/Token/', '/api/oauth/token', '/.well-known/JWKS.json', '/register', '/register/', '/register/abc', '/REGISTER/abc/']) {
      assert.equal(isPublicCorsPath(path), true, path);
    }
  });

  it('leaves every other path alone', () => {
    for (const path of ['/', '/introspect', '/introspect/', '/tokens', '/token//', '/token/x', '/api/oauth/token/exchange', '/registered', '/admin/clients']) {
      assert.equal(isPublicCorsPath(path), false, path);
    }
  });
});
