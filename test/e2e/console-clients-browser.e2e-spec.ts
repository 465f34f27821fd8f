import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { Browser as Chromium } from 'playwright-core';
import { chromiumMissing, launchChromium } from '../support/chromium.js';
import type { RunningGatehouse } from '../support/gatehouse.js';
import type { TestClient } from '../support/flows.js';
import { assertNoHorizontalScroll, signInInChromium, startConsoleGatehouse } from '../support/console.js';
import { assertContrastInBothSchemes } from '../support/contrast.js';
import { assertNoSeriousAxeViolations } from '../support/axe.js';
import { insertClientRow } from '../factories/clients.js';

/** The console's clients section in headless Chromium: contrast, 320 px, the filter form, the confirmed deletion. */
describe('the console clients section in headless Chromium', { skip: chromiumMissing() }, () => {
  let gatehouse: RunningGatehouse;
  let browser: Chromium;
  let client: TestClient;
  let editorId: string;

  before(async () => {
    ({ gatehouse, client } = await startConsoleGatehouse({ client: { client_name: 'Desk app' } }));
    editorId = await insertClientRow(gatehouse.db, { kind: 'metadata_document', name: 'A very long editor name that wraps', lastUsedAgo: '40 days' });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gatehouse?.close();
  });

  it('filters with the form, fits 320 px at AA contrast, and deletes only once the box is ticked', async (t) => {
    const page = await browser.newPage({ viewport: { width: 1024, height: 900 } });
    await signInInChromium(page, gatehouse, client, 'alice');

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
    await assertNoHorizontalScroll(page, 'the clients list');
    for (const line of await assertContrastInBothSchemes(page, 'the clients list at 320 px')) t.diagnostic(line);

    await table.getByRole('link', { name: 'A very long editor name that wraps' }).click();
    await page.getByRole('heading', { name: 'A very long editor name that wraps' }).waitFor();
    assert.equal(decodeURIComponent(new URL(page.url()).pathname), `/console/clients/${editorId}`);
    await assertNoHorizontalScroll(page, 'the client details');
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
