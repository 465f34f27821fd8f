import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { HttpRequest } from '../common/http.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { GATEHOUSE_SECRETS, type Secrets } from '../config/secrets.js';
import { clearCookie, openCookieValue, readCookie, sealCookieValue, setCookie } from '../common/cookies.js';
import { hmac, safeEqual } from '../common/crypto.js';
import { isContentType } from '../common/body-parser.js';
import { BrowserError } from '../common/oauth-errors.js';
import { DEV_PROVIDER } from './signed-in-identity.js';

const SESSION_COOKIE = 'gatehouse_session';
const INTERACTION_COOKIE = 'gatehouse_interaction';

interface SessionPayload {
  uid: string;
  /** The provider of the identity that signed in (`github`, `oidc:<id>`): the identity claims come from it. */
  prv?: string;
  exp: number;
  /** Random: every sign-in gets a cookie (and so a CSRF token) of its own, even for the same person in the same second. */
  n?: string;
}

/** Who signed in in this browser, and through which provider (null for a session from before it was recorded). */
export interface SessionIdentity {
  userId: string;
  provider: string | null;
}

/**
 * The browser's state: who signed in (a signed, expiring session cookie) and which authorization requests it
 * started (one cookie per interaction, scoped to that interaction's path, holding the secret that binds it to
 * this browser and seeds its CSRF token).
 */
@Injectable()
export class BrowserSession {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(GATEHOUSE_SECRETS) private readonly secrets: Secrets,
  ) {}

  userId(req: HttpRequest): string | null {
    return this.identity(req)?.userId ?? null;
  }

  identity(req: HttpRequest): SessionIdentity | null {
    const session = openCookieValue<SessionPayload>(this.secrets.cookieKey, 'session', readCookie(req, SESSION_COOKIE));
    if (!session || typeof session.uid !== 'string' || typeof session.exp !== 'number') return null;
    if (session.exp <= Date.now() / 1000) return null;
    // A development sign-in counts only while DEV_LOGIN is on: turning it off signs those sessions out.
    if (session.prv === DEV_PROVIDER && !this.config.devLogin) return null;
    return { userId: session.uid, provider: typeof session.prv === 'string' ? session.prv : null };
  }

  signIn(res: ServerResponse, userId: string, provider: string): void {
    const exp = Math.floor(Date.now() / 1000) + this.config.sessionTtlSeconds;
    const payload: SessionPayload = { uid: userId, prv: provider, exp, n: randomBytes(16).toString('base64url') };
    setCookie(res, SESSION_COOKIE, sealCookieValue(this.secrets.cookieKey, 'session', payload), {
      secure: this.config.secureCookies,
      maxAgeSeconds: this.config.sessionTtlSeconds,
    });
  }

  /** Forgets who signed in (the account page's Sign out). */
  signOut(res: ServerResponse): void {
    clearCookie(res, SESSION_COOKIE, { secure: this.config.secureCookies });
  }

  /**
   * The CSRF token of the forms a signed-in person submits outside any interaction (the account page): bound to this
   * session cookie, so it changes at every sign-in and is worthless to anyone who cannot read the cookie. Null when
   * the browser is not signed in.
   */
  sessionCsrfToken(req: HttpRequest): string | null {
    const cookie = readCookie(req, SESSION_COOKIE);
    if (!cookie || this.userId(req) === null) return null;
    return hmac(this.secrets.cookieKey, `csrf:session:${cookie}`);
  }

  sessionCsrfValid(req: HttpRequest, presented: unknown): boolean {
    const expected = this.sessionCsrfToken(req);
    return expected !== null && typeof presented === 'string' && safeEqual(presented, expected);
  }

  /**
   * The signed-in user behind a form posted from one of this browser's own pages (`page`: "your account page"), or a
   * 400 page for a body that is not a form and a 403 page for a missing session or CSRF token.
   */
  formUser(req: HttpRequest, page: string): string {
    if (!isContentType(req, 'application/x-www-form-urlencoded') || !req.body) {
      throw new BrowserError(400, 'Request not accepted', 'This form must be submitted as a form.');
    }
    const userId = this.userId(req);
    if (!userId || !this.sessionCsrfValid(req, (req.body as Record<string, unknown>).csrf_token)) {
      throw new BrowserError(403, 'Request not accepted', `This request did not come from ${page}, or you are no longer signed in. Open ${page} and try again.`);
    }
    return userId;
  }

  bindInteraction(res: ServerResponse, interactionId: string, browserSecret: string): void {
    setCookie(res, INTERACTION_COOKIE, browserSecret, {
      secure: this.config.secureCookies,
      maxAgeSeconds: this.config.interactionTtlSeconds,
      path: interactionPath(interactionId),
    });
  }

  releaseInteraction(res: ServerResponse, interactionId: string): void {
    clearCookie(res, INTERACTION_COOKIE, { secure: this.config.secureCookies, path: interactionPath(interactionId) });
  }

  /** The binding secret this browser holds for the interaction at this request's path, if any. */
  interactionSecret(req: HttpRequest): string | undefined {
    return readCookie(req, INTERACTION_COOKIE);
  }

  csrfToken(interactionId: string, browserSecret: string): string {
    return hmac(this.secrets.cookieKey, `csrf:${interactionId}:${browserSecret}`);
  }

  csrfValid(interactionId: string, browserSecret: string, presented: unknown): boolean {
    return typeof presented === 'string' && safeEqual(presented, this.csrfToken(interactionId, browserSecret));
  }
}

export function interactionPath(interactionId: string): string {
  return `/interaction/${interactionId}`;
}

/** Where the product sends the browser after completing its login: back to the interaction, with the login's ticket. */
export function loginReturnPath(interactionId: string, ticket: string): string {
  return `${interactionPath(interactionId)}/login/return?ticket=${ticket}`;
}
