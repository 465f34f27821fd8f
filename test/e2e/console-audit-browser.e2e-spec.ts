import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { chromiumMissing } from '../support/chromium.js';
import { registerClient } from '../support/flows.js';
import { assertNoHorizontalScroll, consoleInChromium, signInInChromium } from '../support/console.js';
import { assertContrastInBothSchemes } from '../support/contrast.js';
import { assertNoSeriousAxeViolations } from '../support/axe.js';

/** The audit section in headless Chromium: new events appear live, without a reload, and the page fits 320 px. */
describe('the console audit section in headless Chromium', { skip: chromiumMissing() }, () => {
  const running = consoleInChromium();

  it('shows a new client’s registration live, announced politely, and passes axe, AA contrast and 320 px', async (t) => {
    const { gatehouse, client, chromium: browser } = running;
    const page = await browser.newPage({ viewport: { width: 1024, height: 900 } });
    await signInInChromium(page, gatehouse, client, 'alice');

    await page.goto(`${gatehouse.url}/console`);
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Audit' }).waitFor();
    await page.getByLabel('Type').fill('client.*');
    await page.getByLabel('Outcome').selectOption('success');
    await Promise.all([page.waitForURL(/\/console\/audit\?type=client\.\*/), page.getByRole('button', { name: 'Show events' }).click()]);
    const status = page.getByRole('status');
    await status.getByText('Live', { exact: true }).waitFor();
    const region = page.getByRole('region', { name: 'Audit events, newest first' });
    assert.equal(await region.getAttribute('aria-live'), 'polite');
    const rows = region.locator('tbody tr');
    assert.equal(await rows.count(), 1, 'the registration from before the page was opened');
    const url = page.url();

    // A new MCP client registers while the page is open: its row appears at the top, with no reload.
    const registered = await registerClient(gatehouse, { client_name: 'Claude Desktop' });
    await rows.first().getByRole('cell', { name: registered.client_id, exact: true }).first().waitFor();
    assert.equal(await rows.count(), 2);
    const cells = await rows.first().locator('td').allTextContents();
    assert.deepEqual(cells.slice(1, 5), ['client.registered', 'success', 'client', registered.client_id]);
    assert.equal(page.url(), url, 'no navigation happened');

    // An event the filters leave out does not appear (the row after it proves the stream went past it).
    const other = await gatehouse.admin('POST', '/admin/resources', { name: 'Acme Wiki', resource: 'https://wiki.example.com/mcp', scopes: ['wiki:read'] });
    assert.equal(other.status, 201);
    const third = await registerClient(gatehouse, { client_name: 'Another' });
    await rows.first().getByRole('cell', { name: third.client_id, exact: true }).first().waitFor();
    assert.equal(await rows.count(), 3);
    assert.equal(await region.getByText('admin.resource_created').count(), 0);

    // The script draws a row exactly as the server does: after a reload, the same cells.
    const live = await rows.allInnerTexts();
    await page.reload();
    await status.getByText('Live', { exact: true }).waitFor();
    assert.deepEqual(await rows.allInnerTexts(), live);

    for (const line of await assertContrastInBothSchemes(page, 'the console audit page')) t.diagnostic(line);
    for (const line of await assertNoSeriousAxeViolations(page, 'the console audit page')) t.diagnostic(line);
    await page.setViewportSize({ width: 320, height: 800 });
    await assertNoHorizontalScroll(page);
    for (const line of await assertContrastInBothSchemes(page, 'the console audit page at 320 px')) t.diagnostic(line);
    await page.close();
  });
});
