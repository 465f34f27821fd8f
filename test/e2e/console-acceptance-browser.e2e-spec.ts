import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { ConsoleModule } from '../../src/console/console.module.js';
import { Browser } from '../support/browser.js';
import { chromiumMissing, launchChromium } from '../support/chromium.js';
import { assertContrastInBothSchemes } from '../support/contrast.js';
import { assertNoSeriousAxeViolations } from '../support/axe.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { CONSOLE_ENV, assertNoHorizontalScroll, signInInChromium } from '../support/console.js';
import { startExampleMcpServer, type RunningExampleMcp } from '../support/example-mcp.js';
import { introspect, refreshTokens, registerClient, type TestClient } from '../support/flows.js';
import { InMemoryOAuthProvider } from '../support/sdk-provider.js';

/** UPDATE_SCREENSHOTS=1 refreshes the committed pictures in test/e2e/screenshots/; otherwise they go beside dist. */
const SCREENSHOTS = fileURLToPath(new URL(process.env.UPDATE_SCREENSHOTS === '1' ? '../../../test/e2e/screenshots/' : './screenshots/', import.meta.url));

/** Every form post the console answers, read from its controllers' own decorators, so a new one cannot be missed. */
function consolePostRoutes(): string[] {
  const controllers = Reflect.getMetadata('controllers', ConsoleModule) as Array<new (...args: never[]) => unknown>;
  const routes: string[] = [];
  for (const controller of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller));
    if (!base.startsWith('console')) continue;
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = (controller.prototype as Record<string, unknown>)[name];
      if (typeof handler !== 'function' || Reflect.getMetadata(METHOD_METADATA, handler) !== RequestMethod.POST) continue;
      const path = String(Reflect.getMetadata(PATH_METADATA, handler));
      routes.push(`/${base}${path === '/' ? '' : `/${path}`}`);
    }
  }
  return routes.sort();
}

/**
 * The operator console as its acceptance asks, in Debian's Chromium: an admin signs in, registers a resource server
 * and copies its secret, watches an MCP client's registration and token appear live, revokes a user's grant and sees
 * the refresh fail, rotates the keys; a viewer can change nothing; a non-operator is refused. Every page passes
 * axe-core and is photographed in both schemes, at desktop width and at 320 px.
 */
describe('the operator console, as its acceptance asks, in headless Chromium', { skip: chromiumMissing() }, () => {
  let gatehouse: RunningGatehouse;
  let mcp: RunningExampleMcp;
  let chromium: Chromium;
  let signInClient: TestClient;
  let admin: BrowserContext;
  /** What the admin's walk through leaves behind for the tour and the viewer. */
  const made = { resourceId: '', clientId: '', userId: '' };

  before(async () => {
    gatehouse = await startGatehouse({ env: { ...CONSOLE_ENV } });
    mcp = await startExampleMcpServer(gatehouse);
    signInClient = await registerClient(gatehouse, { client_name: 'Sign-in helper' });
    chromium = await launchChromium();
    admin = await chromium.newContext({ viewport: { width: 1280, height: 900 } });
    await admin.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gatehouse.url });
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await chromium?.close();
    await mcp?.close();
    await gatehouse?.close();
  });

  /** Development sign-in happens on an authorization request's sign-in page; the session then serves the console. */
  async function signIn(context: BrowserContext, name: string): Promise<Page> {
    const page = await context.newPage();
    await signInInChromium(page, gatehouse, signInClient, name, mcp.url.href);
    return page;
  }

  async function section(page: Page, name: string): Promise<void> {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name, exact: true }).click();
  }

  it('lets an admin register a resource server and copy its secret, which then authenticates its backend', async () => {
    const page = await signIn(admin, 'alice');
    await page.goto(`${gatehouse.url}/console`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await section(page, 'Resource servers');
    await page.getByRole('link', { name: 'Register a resource server' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Acme Docs');
    await page.getByLabel('Resource URI').fill('https://docs.example.com/mcp');
    await page.getByLabel('Scopes', { exact: true }).fill('docs:read — Read your documents\ndocs:write — Change your documents');
    await page.getByLabel('Default scopes').fill('docs:read');
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await page.getByRole('heading', { name: 'Acme Docs is registered' }).waitFor();

    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied.').waitFor();
    const copied = String(await page.evaluate('navigator.clipboard.readText()'));
    assert.equal(copied, (await page.locator('#registration-secret').textContent())?.trim());
    assert.doesNotMatch(page.url(), new RegExp(copied), 'the secret is never in a URL');

    const listed = await gatehouse.admin('GET', '/admin/resources');
    const docs = (listed.body as Array<{ id: string; resource: string }>).find((resource) => resource.resource === 'https://docs.example.com/mcp');
    assert.ok(docs, 'the resource server exists');
    made.resourceId = docs.id;
    const asBackend = { resource: { id: docs.id, registration_secret: copied }, via: 'bearer' as const };
    assert.equal((await introspect(gatehouse, asBackend, 'not-a-token')).status, 200, 'the copied secret authenticates the backend');
    await page.close();
  });

  it('shows a new MCP client’s registration and token issuance live in the audit view, then revokes the grant', async () => {
    const auditPage = await admin.newPage();
    await auditPage.goto(`${gatehouse.url}/console`);
    await section(auditPage, 'Audit');
    await auditPage.getByRole('status').getByText('Live', { exact: true }).waitFor();
    const rows = auditPage.getByRole('region', { name: 'Audit events, newest first' }).locator('tbody tr');
    const pageUrl = auditPage.url();

    // A real MCP client: the SDK meets a 401, discovers Gatehouse, registers, and gets tokens for erin.
    const redirectUrl = 'http://127.0.0.1:33432/callback';
    const provider = new InMemoryOAuthProvider(redirectUrl, {
      client_name: 'Console acceptance MCP client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    const transport = new StreamableHTTPClientTransport(mcp.url, { authProvider: provider });
    await assert.rejects(new Client({ name: 'acceptance', version: '1.0.0' }).connect(transport), UnauthorizedError);
    const clientId = provider.client?.client_id;
    assert.ok(clientId, 'the SDK registered a client');
    made.clientId = clientId;
    await rows.filter({ hasText: 'client.registered' }).filter({ hasText: clientId }).waitFor();

    const callback = await new Browser('erin').authorize(provider.authorizationUrl!.href, redirectUrl);
    await transport.finishAuth(callback.searchParams.get('code')!);
    const tokens = provider.savedTokens;
    assert.ok(tokens?.refresh_token, 'the SDK holds a refresh token');
    await rows.filter({ hasText: 'token.issued' }).filter({ hasText: clientId }).waitFor();
    assert.equal(auditPage.url(), pageUrl, 'both rows arrived without a reload');

    // The operator finds erin and revokes that grant; the SDK client's refresh then fails.
    const page = await admin.newPage();
    await page.goto(`${gatehouse.url}/console`);
    await section(page, 'Users');
    await page.getByLabel('Login, email or name').fill('erin');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'erin', exact: true }).click();
    made.userId = /\/console\/users\/([^/?]+)/.exec(page.url())?.[1] ?? '';
    await page.getByRole('button', { name: /^Revoke the grant of Console acceptance MCP client/ }).click();
    await page.getByText('Grant revoked:').waitFor();
    const refreshed = await refreshTokens(gatehouse, { client: { client_id: clientId, token_endpoint_auth_method: 'none' } }, tokens.refresh_token);
    assert.equal(refreshed.status, 400, refreshed.text);
    assert.equal(refreshed.body.error, 'invalid_grant');
    await rows.filter({ hasText: 'grant.revoked' }).waitFor();
    await Promise.all([auditPage.close(), page.close()]);
  });

  it('lets an admin rotate the signing keys: the JWKS publishes a new key', async () => {
    const kids = async () => ((await (await fetch(`${gatehouse.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);
    const before = await kids();
    const page = await admin.newPage();
    await page.goto(`${gatehouse.url}/console`);
    await section(page, 'Keys');
    await page.getByRole('button', { name: 'Rotate keys' }).click();
    await page.getByText('Keys rotated.').waitFor();
    const after = await kids();
    assert.equal(after.filter((kid) => !before.includes(kid)).length, 1, `one new kid: ${before} → ${after}`);
    await page.close();
  });

  it('passes axe-core and AA contrast on every page, fits 320 px, and photographs each section', async (t) => {
    const pages: Array<{ name: string; path: string; photograph: boolean }> = [
      { name: 'overview', path: '/console', photograph: true },
      { name: 'resources', path: '/console/resources', photograph: true },
      { name: 'resource', path: `/console/resources/${made.resourceId}`, photograph: true },
      { name: 'new-resource', path: '/console/resources/new', photograph: false },
      { name: 'clients', path: '/console/clients', photograph: true },
      { name: 'client', path: `/console/clients/${encodeURIComponent(made.clientId)}`, photograph: false },
      { name: 'users', path: '/console/users', photograph: true },
      { name: 'user', path: `/console/users/${made.userId}`, photograph: false },
      { name: 'audit', path: '/console/audit', photograph: true },
      { name: 'keys', path: '/console/keys', photograph: true },
    ];
    const page = await admin.newPage();
    for (const { name, path, photograph } of pages) {
      await page.setViewportSize({ width: 1280, height: 900 });
      const response = await page.goto(`${gatehouse.url}${path}`);
      assert.equal(response?.status(), 200, path);
      await page.locator('h1').waitFor();
      for (const line of await assertNoSeriousAxeViolations(page, path)) t.diagnostic(line);
      for (const line of await assertContrastInBothSchemes(page, path)) t.diagnostic(line);
      for (const width of [1280, 320]) {
        await page.setViewportSize({ width, height: 900 });
        await assertNoHorizontalScroll(page, path);
        if (!photograph) continue;
        for (const colorScheme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme });
          await page.screenshot({ path: `${SCREENSHOTS}console-${name}-${colorScheme}-${width === 320 ? '320px' : 'desktop'}.png`, fullPage: true });
        }
        await page.emulateMedia({ colorScheme: null });
      }
    }
    await page.close();
  });

  it('lets a viewer see every section but change nothing, in the page and over HTTP', async () => {
    const viewer = await chromium.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await signIn(viewer, 'bob');
    const bob = await gatehouse.admin('GET', '/admin/users?provider=dev&login=bob');
    const bobId = (bob.body as Array<{ id: string }>)[0]!.id;
    assert.equal((await gatehouse.admin('PUT', `/admin/operators/${bobId}`, { role: 'viewer' })).status, 200);
    const erinsGrants = (await gatehouse.admin('GET', `/admin/users/${made.userId}/grants`)).body as Array<{ id: string }>;
    assert.equal(erinsGrants.length, 1, 'erin’s grant, revoked above, is still listed');
    const grantId = erinsGrants[0]!.id;

    for (const path of ['/console', '/console/resources', `/console/resources/${made.resourceId}`, '/console/clients', `/console/clients/${encodeURIComponent(made.clientId)}`, '/console/users', `/console/users/${made.userId}`, '/console/audit', '/console/keys']) {
      assert.equal((await page.goto(`${gatehouse.url}${path}`))?.status(), 200, path);
      assert.equal(await page.locator('form[method="post"]:not([action="/console/sign-out"])').count(), 0, `${path}: no form that changes anything`);
    }
    assert.equal((await page.goto(`${gatehouse.url}/console/resources/new`))?.status(), 403, 'no registration form for a viewer');

    // Every form post the console has, with bob's own session and CSRF token: each refused, nothing written.
    await page.goto(`${gatehouse.url}/console`);
    const csrf = await page.locator('input[name="csrf_token"]').first().inputValue();
    const auditBefore = await gatehouse.count('audit_events');
    const jwksBefore = await (await fetch(`${gatehouse.url}/.well-known/jwks.json`)).text();
    const routes = consolePostRoutes();
    assert.ok(routes.length >= 10, `the console's form posts: ${routes.join(', ')}`);
    for (const route of routes.filter((path) => path !== '/console/sign-out')) {
      const path = route
        .replace(':id/grants/:grantId', `${made.userId}/grants/${grantId}`)
        .replace(':clientId', encodeURIComponent(made.clientId))
        .replace(':id', route.startsWith('/console/users') ? made.userId : made.resourceId);
      const response = await page.request.post(`${gatehouse.url}${path}`, { form: { csrf_token: csrf, confirm: 'yes', overlap: '0', name: 'Taken over' } });
      assert.equal(response.status(), 403, `${route} refused for a viewer`);
    }
    assert.equal(await gatehouse.count('audit_events'), auditBefore, 'no change recorded');
    assert.equal(await (await fetch(`${gatehouse.url}/.well-known/jwks.json`)).text(), jwksBefore, 'the keys are as they were');
    assert.equal(((await gatehouse.admin('GET', `/admin/resources/${made.resourceId}`)).body as { name: string }).name, 'Acme Docs');
    await viewer.close();
  });

  it('answers a signed-in person without a role with 403', async () => {
    const outsider = await chromium.newContext();
    const page = await signIn(outsider, 'carol');
    for (const path of ['/console', '/console/resources', '/console/audit', '/console/keys']) {
      assert.equal((await page.goto(`${gatehouse.url}${path}`))?.status(), 403, path);
      await page.getByRole('heading', { name: 'Not an operator' }).waitFor();
    }
    await outsider.close();
  });
});
