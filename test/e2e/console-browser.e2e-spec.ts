import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { chromiumMissing } from '../support/chromium.js';
import { assertNoHorizontalScroll, consoleInChromium, signInInChromium } from '../support/console.js';
import { assertContrastInBothSchemes } from '../support/contrast.js';
import { assertNoSeriousAxeViolations } from '../support/axe.js';

/** The console in headless Chromium: AA contrast in both schemes, usable at 320 px, rotation by keyboard-reachable form. */
describe('the operator console in headless Chromium', { skip: chromiumMissing() }, () => {
  const running = consoleInChromium();

  it('reaches AA contrast in light and dark, fits 320 px, and rotates the keys', async (t) => {
    const { gatehouse, client, chromium: browser } = running;
    const page = await browser.newPage({ viewport: { width: 1024, height: 900 } });
    await page.goto(`${gatehouse.url}/console`);
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    for (const line of await assertContrastInBothSchemes(page, 'the console sign-in page')) t.diagnostic(line);

    // Development sign-in happens on an authorization request's sign-in page; the session then serves the console.
    await signInInChromium(page, gatehouse, client, 'alice');

    await page.goto(`${gatehouse.url}/console`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    for (const line of await assertContrastInBothSchemes(page, 'the console overview')) t.diagnostic(line);
    for (const line of await assertNoSeriousAxeViolations(page, 'the console overview')) t.diagnostic(line);

    await page.setViewportSize({ width: 320, height: 800 });
    await assertNoHorizontalScroll(page);
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
