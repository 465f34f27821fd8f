import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { landingPage } from './landing-page.js';

describe('landingPage', () => {
  it('links the metadata, the keys and the account page, and escapes the issuer', () => {
    const html = landingPage({ issuer: 'http://localhost:3000/"><script>alert(1)</script>', devLogin: false });
    assert.ok(html.includes('<code>http://localhost:3000/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</code>'));
    assert.doesNotMatch(html, /<script/);
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/jwks.json', '/account']) assert.ok(html.includes(`<a href="${path}">`), path);
    assert.doesNotMatch(html, /class="banner"/);
  });

  it('carries the development sign-in banner while DEV_LOGIN is on', () => {
    assert.match(landingPage({ issuer: 'http://localhost:3000', devLogin: true }), /<div class="banner" role="alert"><strong>Development sign-in is on\.<\/strong> Anyone who can reach this server can sign in as anyone/);
  });
});
