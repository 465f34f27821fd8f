import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { isStorableText, isWebUrl, SCOPE_TOKEN } from './validation.js';

describe('isWebUrl', () => {
  it('accepts https anywhere and http on loopback only', () => {
    assert.equal(isWebUrl('https://example.com/logo.png'), true);
    assert.equal(isWebUrl('http://127.0.0.1:8080/mcp'), true);
    assert.equal(isWebUrl('http://localhost/mcp'), true);
    assert.equal(isWebUrl('http://example.com/mcp'), false);
    assert.equal(isWebUrl('http://localhost/mcp', { allowLoopbackHttp: false }), false);
  });

  it('rejects fragments (even empty), credentials, other schemes and non-strings', () => {
    for (const value of ['https://example.com/#', 'https://example.com/#x', 'https://u:p@example.com/', 'javascript:alert(1)', 'ftp://example.com/', 'not a url', 42, null]) {
      assert.equal(isWebUrl(value), false, String(value));
    }
    assert.equal(isWebUrl(`https://example.com/${'a'.repeat(2000)}`), false, 'longer than 2000 characters');
  });
});

describe('isStorableText', () => {
  it('refuses NUL and unpaired surrogates, accepts paired ones', () => {
    assert.equal(isStorableText('plain'), true);
    assert.equal(isStorableText('emoji 😀'), true);
    assert.equal(isStorableText('a\u0000b'), false);
    assert.equal(isStorableText('\uD83D'), false);
    assert.equal(isStorableText('\uDE00x'), false);
  });
});

describe('SCOPE_TOKEN', () => {
  it('is RFC 6749 §3.3 scope-token', () => {
    assert.match('tools:read', SCOPE_TOKEN);
    assert.match('https://api.example.com/read', SCOPE_TOKEN);
    for (const bad of ['has space', 'quote"', 'back\\slash', '', 'é']) assert.doesNotMatch(bad, SCOPE_TOKEN, bad);
  });
});
