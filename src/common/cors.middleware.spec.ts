import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { publicPathMatcher } from './cors.middleware.js';

describe('publicPathMatcher', () => {
  // Paths as Nest registers the @PublicCors routes.
  const isPublic = publicPathMatcher(['/.well-known/jwks.json', '/register', '/register/:clientId', '/token', '/api/oauth/token']);

  it('matches the public paths as the router does: in any case, with or without one trailing slash', () => {
    for (const path of ['/token', '/token/', '/TOKEN', '/Token/', '/api/oauth/token', '/.well-known/JWKS.json', '/register', '/register/', '/register/abc', '/REGISTER/abc/']) {
      assert.equal(isPublic(path), true, path);
    }
  });

  it('leaves every other path alone', () => {
    for (const path of ['/', '/introspect', '/introspect/', '/tokens', '/token//', '/token/x', '/api/oauth/token/exchange', '/registered', '/register/a/b', '/.well-known/jwksXjson', '/admin/clients']) {
      assert.equal(isPublic(path), false, path);
    }
  });
});
