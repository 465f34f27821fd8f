import { strict as assert } from 'node:assert';

interface Cookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expires: number | null;
}

export interface Page {
  url: string;
  status: number;
  html: string;
  headers: Headers;
}

/**
 * A small browser for tests: a cookie jar that honours Path, Max-Age and Expires, manual redirects, and the two
 * things a person does on Gatehouse's pages — click "Continue with GitHub" and press Approve or Deny.
 */
export class Browser {
  /** With a name: on a sign-in page that offers development sign-in (DEV_LOGIN), sign in as that name. */
  constructor(private readonly devLoginName: string | null = null) {}

  private cookies: Cookie[] = [];
  readonly visited: string[] = [];
  /** Every page shown (not redirects), in order: tests read what the person saw. */
  readonly pages: Page[] = [];

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader(target);
    if (cookie) headers.set('cookie', cookie);
    this.visited.push(`${init.method ?? 'GET'} ${target.href}`);
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    this.store(target, response.headers.getSetCookie());
    return response;
  }

  /** Follows redirects until a page is shown, or until the next location satisfies `stopAt` (returned unvisited). */
  async navigate(url: string, stopAt: (location: string) => boolean, init: RequestInit = {}): Promise<Page | { stoppedAt: string }> {
    let current = url;
    let request = init;
    for (let hops = 0; hops < 20; hops++) {
      if (stopAt(current)) return { stoppedAt: current };
      const response = await this.fetch(current, request);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        current = new URL(location, current).href;
        request = {};
        continue;
      }
      const page = { url: current, status: response.status, html: await response.text(), headers: response.headers };
      this.pages.push(page);
      return page;
    }
    throw new Error('too many redirects');
  }

  /**
   * Drives an authorization request the way a person would: sign in with GitHub if asked, then press the given
   * consent button if asked (Approve or Deny; Continue or Cancel where consent is remembered but confirmed). Returns
   * the URL the browser was finally sent to under `redirectUri`.
   */
  async authorize(authorizationUrl: string, redirectUri: string, decision: 'approve' | 'deny' = 'approve'): Promise<URL> {
    const atClient = (location: string) => location.startsWith(redirectUri.replace(/:\d+/, '')) || location.startsWith(redirectUri);
    let step = await this.navigate(authorizationUrl, atClient);
    for (let pages = 0; pages < 4; pages++) {
      if ('stoppedAt' in step) return new URL(step.stoppedAt);
      const signIn = /href="([^"]*\/login\/github)"/.exec(step.html);
      if (signIn?.[1]) {
        step = await this.navigate(new URL(unescape(signIn[1]), step.url).href, atClient);
        continue;
      }
      const devForm = this.devLoginName === null ? null : devLoginForm(step);
      if (devForm) {
        step = await this.submitDevLogin(devForm, this.devLoginName!, atClient);
        continue;
      }
      const form = consentForm(step);
      if (form) {
        step = await this.submitConsent(form, decision, atClient);
        continue;
      }
      assert.fail(`unexpected page at ${step.url} (${step.status}): ${step.html.slice(0, 500)}`);
    }
    throw new Error('authorization did not finish');
  }

  /** Presses a button of a consent page's form (see consentForm), then follows redirects as `navigate` does. */
  submitConsent(form: { action: string; csrfToken: string }, decision: 'approve' | 'deny', stopAt: (location: string) => boolean): Promise<Page | { stoppedAt: string }> {
    return this.navigate(form.action, stopAt, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: form.csrfToken, decision }).toString(),
    });
  }

  /** Types `name` into the development sign-in form (see devLoginForm) and submits it, then follows redirects. */
  submitDevLogin(form: { action: string; csrfToken: string }, name: string, stopAt: (location: string) => boolean = () => false): Promise<Page | { stoppedAt: string }> {
    return this.navigate(form.action, stopAt, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: form.csrfToken, name }).toString(),
    });
  }

  cookieNames(): string[] {
    return this.cookies.map((cookie) => `${cookie.name}@${cookie.path}`);
  }

  private cookieHeader(url: URL): string {
    const now = Date.now();
    this.cookies = this.cookies.filter((cookie) => cookie.expires === null || cookie.expires > now);
    return this.cookies
      .filter((cookie) => cookie.host === url.host && (url.pathname === cookie.path || url.pathname.startsWith(cookie.path.endsWith('/') ? cookie.path : cookie.path + '/')))
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ');
  }

  private store(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      let path = url.pathname.replace(/\/[^/]*$/, '') || '/';
      let expires: number | null = null;
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.split('=');
        const lower = key!.toLowerCase();
        if (lower === 'path') path = val;
        if (lower === 'max-age') expires = Date.now() + Number(val) * 1000;
        if (lower === 'expires' && expires === null) expires = Date.parse(val);
      }
      this.cookies = this.cookies.filter((cookie) => !(cookie.name === name && cookie.path === path && cookie.host === url.host));
      if (expires === null || expires > Date.now()) this.cookies.push({ name, value, host: url.host, path, expires });
    }
  }
}

/** The development sign-in form of a sign-in page (DEV_LOGIN): where it posts, and its CSRF token. */
export function devLoginForm(page: Page): { action: string; csrfToken: string } | null {
  const form = /<form class="name-form" method="post" action="([^"]+)"[\s\S]*?<\/form>/.exec(page.html);
  const csrfToken = form && /name="csrf_token" value="([^"]+)"/.exec(form[0])?.[1];
  if (!form?.[1] || !csrfToken) return null;
  return { action: new URL(unescape(form[1]), page.url).href, csrfToken: unescape(csrfToken) };
}

export function consentForm(page: Page): { action: string; csrfToken: string } | null {
  const action = /<form method="post" action="([^"]+)"/.exec(page.html)?.[1];
  const csrfToken = /name="csrf_token" value="([^"]+)"/.exec(page.html)?.[1];
  if (!action || !csrfToken) return null;
  return { action: new URL(unescape(action), page.url).href, csrfToken: unescape(csrfToken) };
}

function unescape(value: string): string {
  return value.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}
