import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser as Chromium, Page } from 'playwright-core';
import { FakeGithub } from '../fakes/fake-github.js';
import { chromiumMissing, launchChromium, loopbackCallback } from '../support/chromium.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, registerClient, type TestClient } from '../support/flows.js';

/** Browser-side expressions are strings: this project compiles without the DOM library. */
const FOCUSED_TEXT = 'document.activeElement?.textContent?.trim()';
const LOGO_LOADED = "(() => { const img = document.querySelector('header.brand img'); return !!img && img.complete && img.naturalWidth > 0; })()";
/**
 * Screenshots go beside the compiled spec (build output). With UPDATE_SCREENSHOTS=1 they replace the committed
 * ones in test/e2e/screenshots/, which docs/http-api.md shows.
 */
const SCREENSHOTS = fileURLToPath(new URL(process.env.UPDATE_SCREENSHOTS === '1' ? '../../../test/e2e/screenshots/' : './screenshots/', import.meta.url));
const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="8" fill="#0f766e"/><path d="M11 27V13h7a5 5 0 0 1 0 10h-3v4z M15 19h3a1 1 0 0 0 0-2h-3z" fill="#fff"/></svg>`;

/** The product's logo, served over https (the consent page only loads https images) with a throwaway certificate. */
async function logoHost(): Promise<{ url: string; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-logo-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const server: Server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(LOGO_SVG);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/logo.svg`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('the consent page in a real browser (headless Chromium)', { skip: chromiumMissing() }, () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;
  let logo: { url: string; close: () => Promise<void> };
  let browser: Chromium;
  let client: TestClient;
  let callback: { url: string; close: () => Promise<void> };
  const resource = 'https://projects.example.com/mcp';

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({ github });
    logo = await logoHost();
    await createResource(gatehouse, {
      name: 'Acme Projects',
      resource,
      scopes: ['projects:read', 'projects:write'],
      scope_descriptions: { 'projects:read': 'See your projects and their tasks', 'projects:write': 'Create and change projects and tasks' },
      default_scopes: ['projects:read'],
      branding: { logo_uri: logo.url, policy_uri: 'https://acme.example.com/privacy', tos_uri: 'https://acme.example.com/terms' },
    } as Parameters<typeof createResource>[1]);
    callback = await loopbackCallback();
    client = await registerClient(gatehouse, { client_name: 'Claude Desktop', redirect_uris: [callback.url] });
    browser = await launchChromium(['--ignore-certificate-errors']);
  });
  after(async () => {
    await browser?.close();
    await gatehouse?.close();
    await logo?.close();
    await callback?.close();
    await github?.stop();
  });

  /** Signs in through the fake GitHub and stops on the consent page; the client's redirect is answered in-browser. */
  async function reachConsent(page: Page): Promise<{ redirectUri: string }> {
    const built = authorizationUrl(gatehouse.url, { client, resource, scope: 'projects:read projects:write' });
    await page.goto(built.url);
    await page.getByRole('link', { name: 'Continue with GitHub' }).click();
    await page.getByRole('heading', { level: 1 }).waitFor();
    return { redirectUri: built.redirectUri };
  }

  it('shows the sign-in page with the resource server’s logo and name, as the consent page', async () => {
    const page = await browser.newPage({ viewport: { width: 1024, height: 760 } });
    await page.goto(authorizationUrl(gatehouse.url, { client, resource, scope: 'projects:read' }).url);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in to continue');
    await page.getByRole('img', { name: 'Acme Projects logo' }).waitFor();
    await page.waitForLoadState('load');
    assert.equal(await page.evaluate<boolean>(LOGO_LOADED), true, 'the logo loaded');
    assert.equal(await page.locator('header.brand').textContent(), 'Acme Projects');
    await page.close();
  });

  it('shows the branded consent page readably on a desktop and at 320 px, and Approve works from the keyboard', async () => {
    const desktop = await browser.newPage({ viewport: { width: 1024, height: 760 } });
    const { redirectUri } = await reachConsent(desktop);
    assert.equal(await desktop.getByRole('heading', { level: 1 }).textContent(), 'Allow Claude Desktop to use Acme Projects?');
    await desktop.getByRole('img', { name: 'Acme Projects logo' }).waitFor();
    await desktop.waitForLoadState('load');
    assert.equal(await desktop.evaluate<boolean>(LOGO_LOADED), true, 'the logo loaded');
    assert.equal(await desktop.getByRole('link', { name: 'Privacy policy' }).getAttribute('href'), 'https://acme.example.com/privacy');
    assert.equal(await desktop.getByRole('link', { name: 'Terms of service' }).getAttribute('href'), 'https://acme.example.com/terms');
    assert.deepEqual(await desktop.locator('ul.scopes code').allTextContents(), ['projects:read', 'projects:write']);
    assert.deepEqual(await desktop.locator('ul.scopes .scope-description').allTextContents(), ['See your projects and their tasks', 'Create and change projects and tasks']);
    await desktop.screenshot({ path: join(SCREENSHOTS, 'consent-desktop.png') });

    const phone = await browser.newPage({ viewport: { width: 320, height: 740 } });
    await reachConsent(phone);
    const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'no horizontal scrolling at 320 px');
    const approveBox = await phone.getByRole('button', { name: 'Approve' }).boundingBox();
    assert.ok(approveBox && approveBox.width >= 240, 'the buttons take the full width on a narrow screen');
    await phone.screenshot({ path: join(SCREENSHOTS, 'consent-320px.png'), fullPage: true });
    await phone.close();

    // Keyboard only: Tab to Approve and press Enter.
    for (let presses = 0; presses < 12; presses++) {
      await desktop.keyboard.press('Tab');
      if ((await desktop.evaluate<string | undefined>(FOCUSED_TEXT)) === 'Approve') break;
    }
    assert.equal(await desktop.evaluate<string | undefined>(FOCUSED_TEXT), 'Approve', 'Approve is reachable with Tab');
    await Promise.all([desktop.waitForURL((url) => url.href.startsWith(redirectUri)), desktop.keyboard.press('Enter')]);
    const back = new URL(desktop.url());
    assert.ok(back.searchParams.get('code'), 'the client received a code');
    assert.equal(back.searchParams.get('iss'), gatehouse.url);
    await desktop.close();
  });

  it('asks a returning client on this device to continue, and its one click reaches the client with a code', async () => {
    const local = await registerClient(gatehouse, { client_name: 'Claude Code', redirect_uris: [callback.url] });
    const page = await browser.newPage({ viewport: { width: 1024, height: 760 } });
    const first = authorizationUrl(gatehouse.url, { client: local, resource, scope: 'projects:read' });
    await page.goto(first.url);
    await page.getByRole('link', { name: 'Continue with GitHub' }).click();
    await Promise.all([page.waitForURL((url) => url.href.startsWith(first.redirectUri)), page.getByRole('button', { name: 'Approve' }).click()]);

    // Signed in, consent remembered: the same request again stops at a one-click page.
    const again = authorizationUrl(gatehouse.url, { client: local, resource, scope: 'projects:read' });
    await page.goto(again.url);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Continue to Claude Code?');
    assert.match((await page.getByRole('alert').textContent()) ?? '', /You already allowed Claude Code to use Acme Projects/);
    await Promise.all([page.waitForURL((url) => url.href.startsWith(again.redirectUri)), page.getByRole('button', { name: 'Continue to Claude Code' }).click()]);
    const back = new URL(page.url());
    assert.ok(back.searchParams.get('code'), 'the client received a code');
    assert.equal(back.searchParams.get('state'), again.state);
    await page.close();
  });
});
