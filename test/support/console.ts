import { strict as assert } from 'node:assert';
import { after, before } from 'node:test';
import type { Browser as Chromium, Page as ChromiumPage } from 'playwright-core';
import { Browser, type Page } from './browser.js';
import { launchChromium } from './chromium.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from './gatehouse.js';
import { authorizationUrl, exchangeCode, registerClient, type JsonResponse, type TestClient, type TestResource } from './flows.js';

// What the console specs share: a Gatehouse with development sign-in where alice is an admin, sign-in through an
// authorization request (the only place development sign-in is offered), and the forms and audit rows they check.

/** The resource server every console spec starts with. */
export const CONSOLE_RESOURCE = 'https://projects.example.com/mcp';
const CONSOLE_SCOPE = 'projects:read';

export interface ConsoleGatehouse {
  gatehouse: RunningGatehouse;
  /** Acme Projects, at CONSOLE_RESOURCE, which admits everyone. */
  resource: TestResource;
  /** A registered dynamic client, used to sign in. */
  client: TestClient;
}

export interface ConsoleGatehouseOptions {
  database?: DatabaseKind;
  /** Added to DEV_LOGIN=true and CONSOLE_ADMINS=dev:alice. */
  env?: Record<string, string>;
  /** The sign-in client's registration metadata. */
  client?: Record<string, unknown>;
}

/** Development sign-in, and alice (once signed in) a console admin. */
export const CONSOLE_ENV: Readonly<Record<string, string>> = { DEV_LOGIN: 'true', CONSOLE_ADMINS: 'dev:alice' };

/** Starts Gatehouse with DEV_LOGIN and CONSOLE_ADMINS=dev:alice, the resource Acme Projects and a registered client. */
export async function startConsoleGatehouse(options: ConsoleGatehouseOptions = {}): Promise<ConsoleGatehouse> {
  const gatehouse = await startGatehouse({ database: options.database, env: { ...CONSOLE_ENV, ...options.env } });
  const resource = await createResource(gatehouse, { name: 'Acme Projects', resource: CONSOLE_RESOURCE, scopes: [CONSOLE_SCOPE] });
  const client = await registerClient(gatehouse, options.client);
  return { gatehouse, resource, client };
}

export interface ConsoleInChromium extends ConsoleGatehouse {
  chromium: Chromium;
}

/**
 * For a describe block of Chromium tests: a console Gatehouse (see startConsoleGatehouse) and Chromium, started in
 * a `before` hook and closed in an `after` hook. The fields are set once `before` has run.
 */
export function consoleInChromium(options: ConsoleGatehouseOptions = {}): Readonly<ConsoleInChromium> {
  const running: Partial<ConsoleInChromium> = {};
  before(async () => {
    Object.assign(running, await startConsoleGatehouse(options));
    running.chromium = await launchChromium();
  });
  after(async () => {
    await running.chromium?.close();
    await running.gatehouse?.close();
  });
  return running as ConsoleInChromium;
}

export interface DevAuthorization {
  browser: Browser;
  /** The token response to the code exchange. */
  tokens: JsonResponse;
}

/**
 * `name` authorizes `client` through development sign-in (in `browser`, a new one by default), and the client
 * exchanges the code: a live grant, and a session that serves the console.
 */
export async function authorizeAs(
  gatehouse: RunningGatehouse,
  client: TestClient,
  name: string,
  options: { resource?: string; scope?: string; browser?: Browser } = {},
): Promise<DevAuthorization> {
  const browser = options.browser ?? new Browser(name);
  const built = authorizationUrl(gatehouse.url, { client, resource: options.resource ?? CONSOLE_RESOURCE, scope: options.scope ?? CONSOLE_SCOPE });
  const callback = await browser.authorize(built.url, built.redirectUri);
  const code = callback.searchParams.get('code');
  assert.ok(code, `${name} authorized ${client.client_id}`);
  const tokens = await exchangeCode(gatehouse, { client }, { code, verifier: built.pkce.verifier, redirectUri: built.redirectUri });
  assert.equal(tokens.status, 200, tokens.text);
  return { browser, tokens };
}

/** A browser signed in as `name` (see authorizeAs). */
export async function signInAs(gatehouse: RunningGatehouse, client: TestClient, name: string): Promise<Browser> {
  return (await authorizeAs(gatehouse, client, name)).browser;
}

/** The page at `path`, following redirects. */
export async function openPage(gatehouse: RunningGatehouse, browser: Browser, path = '/console'): Promise<Page> {
  const page = await browser.navigate(`${gatehouse.url}${path}`, () => false);
  assert.ok(!('stoppedAt' in page));
  return page;
}

/** The CSRF token of the page's forms. */
export function csrfOf(page: Page): string {
  const token = /name="csrf_token" value="([^"]+)"/.exec(page.html)?.[1];
  assert.ok(token, `a form with a CSRF token on ${page.url}`);
  return token;
}

/** Posts `form` as a browser's form does (urlencoded), with the browser's cookies; the response unread. */
export function postForm(browser: Browser, url: string, form: Record<string, string>): Promise<Response> {
  return browser.fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
}

/** The id of the one user who signed in as dev:`login`. */
export async function devUserId(gatehouse: RunningGatehouse, login: string): Promise<string> {
  const found = await gatehouse.admin('GET', `/admin/users?provider=dev&login=${login}`);
  assert.equal(found.status, 200);
  assert.equal(found.body.length, 1, `one user is dev:${login}`);
  return found.body[0].id as string;
}

/** An audit event as the console specs compare it. */
export interface AuditRow {
  type: string;
  actor_kind: string;
  actor_id: string | null;
  subject: string | null;
  data: Record<string, unknown>;
}

/** An audit event with the client it concerns. */
export interface ClientAuditRow extends AuditRow {
  client_id: string | null;
}

/** The audit events of `type` (and of `subject`, if given), oldest first. */
export function auditRows(gatehouse: RunningGatehouse, type: string, subject?: string): Promise<AuditRow[]> {
  return selectAudit<AuditRow>(gatehouse, 'type, actor_kind, actor_id, subject, data', type, subject);
}

/** The audit events of `type`, oldest first, with their client. */
export function clientAuditRows(gatehouse: RunningGatehouse, type: string): Promise<ClientAuditRow[]> {
  return selectAudit<ClientAuditRow>(gatehouse, 'type, actor_kind, actor_id, client_id, subject, data', type);
}

async function selectAudit<Row>(gatehouse: RunningGatehouse, columns: string, type: string, subject?: string): Promise<Row[]> {
  const bySubject = subject === undefined ? '' : ' AND subject = $2';
  return (await gatehouse.db.query(`SELECT ${columns} FROM audit_events WHERE type = $1${bySubject} ORDER BY seq`, subject === undefined ? [type] : [type, subject])) as Row[];
}

/** In Chromium: development sign-in as `name` on an authorization request's sign-in page, up to the consent page. */
export async function signInInChromium(page: ChromiumPage, gatehouse: RunningGatehouse, client: TestClient, name: string, resource = CONSOLE_RESOURCE): Promise<void> {
  await page.goto(authorizationUrl(gatehouse.url, { client, resource, scope: CONSOLE_SCOPE }).url);
  await page.getByLabel('Sign in as').fill(name);
  await page.getByRole('button', { name: 'Sign in as this name' }).click();
  await page.getByRole('button', { name: 'Approve' }).waitFor();
}

/** In Chromium: the page does not scroll sideways at the viewport's width (320 px, where the console must fit). */
export async function assertNoHorizontalScroll(page: ChromiumPage, label?: string): Promise<void> {
  const widths = (await page.evaluate('({ page: document.documentElement.scrollWidth, viewport: window.innerWidth })')) as { page: number; viewport: number };
  assert.ok(widths.page <= widths.viewport, `${label ? `${label}: ` : ''}no horizontal scrolling at ${widths.viewport} px: ${widths.page} > ${widths.viewport}`);
}
