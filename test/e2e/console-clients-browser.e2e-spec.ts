import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { Browser as Chromium, Page } from 'playwright-core';
import { chromiumMissing, launchChromium } from '../support/chromium.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, registerClient, type TestClient } from '../support/flows.js';
import { assertContrastInBothSchemes } from '../support/contrast.js';
import { assertNoSeriousAxeViolations } from '../support/axe.js';
import { insertClientRow } from '../factories/clients.js';

async function assertFits(page: Page, label: string): Promise<void> {
  const widths = (await page.evaluate('({ page: document.documentElement.scrollWidth, viewport: window.innerWidth })')) as { page: number; viewport: number };
  assert.ok(widths.page <= widths.viewport, `${label}: no horizontal scrolling at 320 px: ${widths.page} > ${widths.viewport}`);
}

/** The console's clients section in headless Chromium: contrast, 320 px, the filter form, the confirmed deletion. */
describe('the console clients section in headless Chromium', { skip: chromiumMissing() }, () => {
  let gatehouse: RunningGatehouse;
  let browser: Chromium;
  let client: TestClient;
  let editorId: string;
  const resource = 'https://projects.example.com/mcp';

  before(async () => {
    gatehouse = await startGatehouse({ env: { DEV_LOGIN: 'true', CONSOLE_ADMINS: 'dev:alice' } });
    const created = await gatehouse.admin('POST', '/admin/resources', { name: 'Acme Projects', resource, scopes: ['projects:read'], sign_in: { providers: null, allow: 'everyone' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    client = await registerClient(gatehouse, { client_name: 'Desk app' });
    editorId = await insertClientRow(gatehouse.db, { kind: 'metadata_document', name: 'A very long editor name that wraps', lastUsedAgo: '40 days' });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gatehouse?.close();
  });

  it('filters with the form, fits 320 px at AA contrast, and deletes only once the box is ticked', async (t) => {
    const page = await browser.newPage({ viewport: { width: 1024, height: 900 } });
    await page.goto(authorizationUrl(gatehouse.url, { client, resource, scope: 'projects:read' }).url);
    await page.getByLabel('Sign in as').fill('alice');
    await page.getByRole('button', { name: 'Sign in as this name' }).click();
    await page.getByRole('button', { name: 'Approve' }).waitFor();

    await page.goto(`${gatehouse.url}/console/clients`);
    await page.getByRole('heading', { name: 'Clients' }).waitFor();
    for (const line of await assertContrastInBothSchemes(page, 'the clients list')) t.diagnostic(line);
    for (const line of await assertNoSeriousAxeViolations(page, 'the clients list')) t.diagnostic(line);
    await page.getByLabel('Kind').selectOption({ label: 'Metadata document' });
    await page.getByLabel('Activity').selectOption({ label: 'Idle for more than 30 days' });
    await Promise.all([page.waitForURL(/\/console\/clients\?kind=metadata_document&activity=idle$/), page.getByRole('button', { name: 'Show' }).click()]);
    const table = page.getByRole('region', { name: /Showing 1 of 1 client/ });
    assert.equal(await table.getByRole('link').count(), 1);

    await page.setViewportSize({ width: 320, height: 800 });
    await assertFits(page, 'the clients list');
    for (const line of await assertContrastInBothSchemes(page, 'the clients list at 320 px')) t.diagnostic(line);

    await table.getByRole('link', { name: 'A very long editor name that wraps' }).click();
    await page.getByRole('heading', { name: 'A very long editor name that wraps' }).waitFor();
    assert.equal(decodeURIComponent(new URL(page.url()).pathname), `/console/clients/${editorId}`);
    await assertFits(page, 'the client details');
    for (const line of await assertContrastInBothSchemes(page, 'the client details at 320 px')) t.diagnostic(line);
    for (const line of await assertNoSeriousAxeViolations(page, 'the client details')) t.diagnostic(line);

    await page.getByRole('button', { name: 'Delete client' }).click();
    assert.equal(decodeURIComponent(new URL(page.url()).pathname), `/console/clients/${editorId}`, 'the unticked box stops the form');
    assert.equal(await gatehouse.count('clients'), 2);
    await page.getByLabel('Delete this client and everything issued to it').check();
    await Promise.all([page.waitForURL(/\/console\/clients\?status=deleted$/), page.getByRole('button', { name: 'Delete client' }).click()]);
    await page.getByText('Client deleted, with its grants and consents').waitFor();
    assert.equal(await gatehouse.count('clients'), 1);
    await page.close();
  });
});
