import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { hmac } from './crypto.js';
import { openCookieValue, readCookie, sealCookieValue } from './cookies.js';

interface Session {
  uid: string;
  exp: number;
}

describe('sealCookieValue / openCookieValue', () => {
  const key = randomBytes(32);
  const payload: Session = { uid: randomBytes(8).toString('hex'), exp: 1_900_000_000 };

  it('round-trips the payload for the same key and purpose', () => {
    const sealed = sealCookieValue(key, 'session', payload);
    assert.match(sealed, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/, 'cookie-safe: base64url payload, dot, base64url HMAC');
    assert.deepEqual(openCookieValue<Session>(key, 'session', sealed), payload);
  });

  it('refuses a value sealed for another purpose', () => {
    const sealed = sealCookieValue(key, 'github-state', payload);
    assert.equal(openCookieValue(key, 'session', sealed), undefined);
  });

  it('refuses a value sealed with another key', () => {
    const sealed = sealCookieValue(randomBytes(32), 'session', payload);
    assert.equal(openCookieValue(key, 'session', sealed), undefined);
  });

  it('refuses a tampered payload or signature', () => {
    const sealed = sealCookieValue(key, 'session', payload);
    const dot = sealed.lastIndexOf('.');
    const forgedBody = Buffer.from(JSON.stringify({ ...payload, uid: 'someone-else' })).toString('base64url');
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    for (const tampered of [
      `${forgedBody}${sealed.slice(dot)}`,
      flip(sealed, 0),
      flip(sealed, dot + 1),
      sealed.slice(0, -1),
      `${sealed}A`,
      sealed.slice(0, dot),
      sealed.slice(dot),
    ]) {
      assert.equal(openCookieValue(key, 'session', tampered), undefined, tampered);
    }
  });

  it('refuses missing or shapeless values', () => {
    for (const value of [undefined, '', '.', 'no-dot-at-all', '.signature-only']) {
      assert.equal(openCookieValue(key, 'session', value), undefined, String(value));
    }
  });

  it('refuses a correctly signed body that is not JSON', () => {
    const body = Buffer.from('not json{').toString('base64url');
    assert.equal(openCookieValue(key, 'session', `${body}.${hmac(key, `session.${body}`)}`), undefined);
  });
});

describe('readCookie', () => {
  const req = (cookie?: string) => ({ headers: cookie === undefined ? {} : { cookie } }) as unknown as Request;

  it('finds a cookie by exact name and URI-decodes it', () => {
    assert.equal(readCookie(req('a=1; gatehouse_session=x%2By; b=2'), 'gatehouse_session'), 'x+y');
    assert.equal(readCookie(req('gatehouse_session_old=1; gatehouse_session=2'), 'gatehouse_session'), '2');
    assert.equal(readCookie(req('a=1'), 'gatehouse_session'), undefined);
    assert.equal(readCookie(req(), 'gatehouse_session'), undefined);
  });

  it('treats an undecodable value as absent', () => {
    assert.equal(readCookie(req('s=%E0%A4%A'), 's'), undefined);
  });
});
