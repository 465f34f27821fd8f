import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { Browser as Chromium } from 'playwright-core';
import { chromiumMissing, launchChromium } from '../support/chromium.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, registerClient, type TestClient } from '../support/flows.js';
import { assertContrastInBothSchemes } from '../support/contrast.js';
import { assertNoSeriousAxeViolations } from '../support/axe.js';

/** The console in headless Chromium: AA contrast in both schemes, usable at 320 px, rotation by keyboard-reachable form. */
describe('the operator console in headless Chromium', { skip: chromiumMissing() }, () => {
  let gatehouse: RunningGatehouse;
  let browser: Chromium;
  let client: TestClient;
  const resource = 'https://projects.example.com/mcp';

  before(async () => {
    gatehouse = await startGatehouse({ env: { DEV_LOGIN: 'true', CONSOLE_ADMINS: 'dev:alice' } });
    const created = await gatehouse.admin('POST', '/admin/resources', { name: 'Acme Projects', resource, scopes: ['projects:read'], sign_in: { providers: null, allow: 'everyone' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    client = await registerClient(gatehouse);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gatehouse?.close();
  });

  it('reaches AA contrast in light and dark, fits 320 px, and rotates the keys', async (t) => {
    const page = await browser.newPage({ viewport: { width: 1024, height: 900 } });
    await page.goto(`${gatehouse.url}/console`);
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    for (const line of await assertContrastInBothSchemes(page, 'the console sign-in page')) t.diagnostic(line);

    // Development sign-in happens on an authorization request's sign-in page; the session then serves the console.
    await page.goto(authorizationUrl(gatehouse.url, { client, resource, scope: 'projects:read' }).url);
    await page.getByLabel('Sign in as').fill('alice');
    await page.getByRole('button', { name: 'Sign in as this name' }).click();
    await page.getByRole('button', { name: 'Approve' }).waitFor();

    await page.goto(`${gatehouse.url}/console`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    for (const line of await assertContrastInBothSchemes(page, 'the console overview')) t.diagnostic(line);
    for (const line of await assertNoSeriousAxeViolations(page, 'the console overview')) t.diagnostic(line);

    await page.setViewportSize({ width: 320, height: 800 });
    const widths = (await page.evaluate('({ page: document.documentElement.scrollWidth, viewport: window.innerWidth })')) as { page: number; viewport: number };
    assert.ok(widths.page <= widths.viewport, `no horizontal scrolling at 320 px: ${widths.page} > ${widths.viewport}`);
    for (const line of await assertContrastInBothSchemes(page, 'the console overview at 320 px')) t.diagnostic(line);

    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('heading', { name: 'Signing keys' }).waitFor();
    const before = await page.locator('tbody tr').count();
    await Promise.all([page.waitForURL(/\/console\/keys\?status=rotated$/), page.getByRole('button', { name: 'Rotate keys' }).click()]);
    await page.getByText('Keys rotated.').waitFor();
    assert.equal(await page.locator('tbody tr').count(), before + 1, 'the retired key is listed beside the active and the new next key');
    await page.close();
  });
});
