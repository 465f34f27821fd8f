import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser as Chromium, Page } from 'playwright-core';
import { FakeGithub } from '../fakes/fake-github.js';
import { chromiumMissing, launchChromium, loopbackCallback } from '../support/chromium.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, exchangeCode, registerClient, type TestClient } from '../support/flows.js';
import { assertContrastInBothSchemes } from '../support/contrast.js';

/** Browser-side expressions are strings: this project compiles without the DOM library. */
const FOCUSED_NAME = "document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent?.trim()";
/** As in the consent browser spec: beside the build, or (UPDATE_SCREENSHOTS=1) over the committed ones. */
const SCREENSHOTS = fileURLToPath(new URL(process.env.UPDATE_SCREENSHOTS === '1' ? '../../../test/e2e/screenshots/' : './screenshots/', import.meta.url));

async function tabTo(page: Page, name: string, presses = 20): Promise<boolean> {
  for (let i = 0; i < presses; i++) {
    await page.keyboard.press('Tab');
    if ((await page.evaluate<string | undefined>(FOCUSED_NAME)) === name) return true;
  }
  return false;
}

describe('the account page in a real browser (headless Chromium)', { skip: chromiumMissing() }, () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;
  let browser: Chromium;
  let callback: { url: string; close: () => Promise<void> };
  const resource = 'https://projects.example.com/mcp';

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({ github });
    await createResource(gatehouse, {
      name: 'Acme Projects',
      resource,
      scopes: ['projects:read', 'projects:write'],
      scope_descriptions: { 'projects:read': 'See your projects and their tasks', 'projects:write': 'Create and change projects and tasks' },
      default_scopes: ['projects:read'],
    });
    callback = await loopbackCallback();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gatehouse?.close();
    await callback?.close();
    await github?.stop();
  });

  /** Authorizes `client` in the page (already signed in) and exchanges the code, so that the grant exists. */
  async function connect(page: Page, client: TestClient, scope: string): Promise<void> {
    const built = authorizationUrl(gatehouse.url, { client, resource, scope });
    await page.goto(built.url);
    await Promise.all([page.waitForURL((url) => url.href.startsWith(built.redirectUri)), page.getByRole('button', { name: 'Approve' }).click()]);
    const code = new URL(page.url()).searchParams.get('code');
    assert.ok(code, 'the client received a code');
    const tokens = await exchangeCode(gatehouse, { client }, { code, verifier: built.pkce.verifier, redirectUri: built.redirectUri });
    assert.equal(tokens.status, 200, tokens.text);
  }

  it('signs in, lists the connected applications accessibly in light and dark, and revokes one from the keyboard', async () => {
    const claude = await registerClient(gatehouse, { client_name: 'Claude Desktop', client_uri: 'https://claude.example.com', redirect_uris: [callback.url] });
    const cursor = await registerClient(gatehouse, { client_name: 'Cursor', redirect_uris: [callback.url] });
    const page = await browser.newPage({ viewport: { width: 1024, height: 900 } });

    await page.goto(`${gatehouse.url}/account`);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in to manage your account');
    await assertContrastInBothSchemes(page, 'the sign-in page');
    await page.getByRole('link', { name: 'Continue with GitHub' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.match((await page.getByText('No applications are connected.').textContent()) ?? '', /No applications/);

    await connect(page, claude, 'projects:read projects:write');
    await connect(page, cursor, 'projects:read');
    await page.goto(`${gatehouse.url}/account`);
    // The applications' own items, not the scopes listed inside each.
    const applications = page.getByRole('region', { name: 'Connected applications' }).locator('ul.applications > li');
    assert.equal(await applications.count(), 2);
    assert.deepEqual((await page.getByRole('heading', { level: 3 }).allTextContents()).sort(), ['Claude Desktop', 'Cursor']);
    const claudeItem = page.getByRole('listitem', { name: 'Claude Desktop' });
    assert.match((await claudeItem.textContent()) ?? '', /on your computer \(127\.0\.0\.1:\d+\)[\s\S]*Acme Projects[\s\S]*See your projects and their tasks projects:read\s*Create and change projects and tasks projects:write[\s\S]*Allowed[\s\S]*UTC[\s\S]*Last used[\s\S]*UTC/);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.getByRole('button', { name: 'Revoke access of Claude Desktop to Acme Projects' }).waitFor();
    await page.getByRole('button', { name: 'Revoke access of Cursor to Acme Projects' }).waitFor();
    await assertContrastInBothSchemes(page, 'the account page');

    await page.emulateMedia({ colorScheme: 'light' });
    await page.screenshot({ path: join(SCREENSHOTS, 'account-light.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(SCREENSHOTS, 'account-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });

    // Keyboard only: Sign out and each Revoke are reachable with Tab, and a focused button shows an outline.
    assert.ok(await tabTo(page, 'Sign out'), 'Sign out is reachable with Tab');
    assert.notEqual(await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle'), 'none', 'focus is visible');
    assert.ok(await tabTo(page, 'Revoke access of Cursor to Acme Projects'), 'Revoke is reachable with Tab');
    await Promise.all([page.waitForURL((url) => url.search === '?status=revoked'), page.keyboard.press('Enter')]);
    assert.match((await page.getByRole('status').textContent()) ?? '', /Access revoked\./);
    assert.deepEqual(await page.getByRole('heading', { level: 3 }).allTextContents(), ['Claude Desktop']);

    // At 320 px nothing scrolls sideways.
    await page.setViewportSize({ width: 320, height: 900 });
    assert.equal(await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth'), 0, 'no horizontal scrolling at 320 px');

    await page.setViewportSize({ width: 1024, height: 900 });
    assert.ok(await tabTo(page, 'Sign out'), 'Sign out is reachable with Tab');
    await Promise.all([page.waitForURL((url) => url.search === '?status=signed-out'), page.keyboard.press('Enter')]);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in to manage your account');
    await page.close();
  });
});
