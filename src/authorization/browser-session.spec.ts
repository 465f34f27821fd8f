import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { GatehouseConfig } from '../config/config.js';
import type { HttpRequest } from '../common/http.js';
import { BrowserError } from '../common/oauth-errors.js';
import { BrowserSession } from './browser-session.js';

const config = { sessionTtlSeconds: 3600, secureCookies: false, devLogin: false } as GatehouseConfig;
const session = new BrowserSession(config, { cookieKey: randomBytes(32), encryptionKey: randomBytes(32) });

/** Signs a user in and returns the `Cookie` header a browser would send back. */
function signedInCookie(userId: string): string {
  const headers: string[] = [];
  const res = { appendHeader: (_name: string, value: string) => headers.push(value) } as unknown as ServerResponse;
  session.signIn(res, userId, 'github');
  return headers[0]!.split(';')[0]!;
}

function request(cookie: string, body?: unknown, contentType = 'application/x-www-form-urlencoded'): HttpRequest {
  return { headers: { cookie, 'content-type': contentType }, socket: {}, body };
}

describe('BrowserSession', () => {
  it('gives every sign-in its own cookie and CSRF token, even for the same person in the same second', () => {
    const first = signedInCookie('user-1');
    const second = signedInCookie('user-1');
    assert.notEqual(first, second);
    assert.equal(session.userId(request(first)), 'user-1');
    assert.equal(session.userId(request(second)), 'user-1');
    const firstToken = session.sessionCsrfToken(request(first))!;
    assert.notEqual(firstToken, session.sessionCsrfToken(request(second)));
    assert.equal(session.sessionCsrfValid(request(second), firstToken), false, "one sign-in's token is no good for another");
  });

  it('accepts a form post only with this session and its CSRF token', () => {
    const cookie = signedInCookie('user-2');
    const token = session.sessionCsrfToken(request(cookie))!;
    assert.equal(session.formUser(request(cookie, { csrf_token: token }), 'your account page'), 'user-2');
    const refused = (req: HttpRequest, status: number) =>
      assert.throws(() => session.formUser(req, 'your account page'), (error: unknown) => error instanceof BrowserError && error.status === status);
    refused(request(cookie, { csrf_token: 'wrong' }), 403);
    refused(request(cookie, {}), 403);
    refused(request('', { csrf_token: token }), 403);
    refused(request(cookie, { csrf_token: token }, 'application/json'), 400);
  });
});
