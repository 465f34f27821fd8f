import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { Browser as Chromium, Page } from 'playwright-core';
import { chromiumMissing, launchChromium } from '../support/chromium.js';
import type { RunningGatehouse } from '../support/gatehouse.js';
import { Browser } from '../support/browser.js';
import { authorizationUrl, exchangeCode, refreshTokens, type TestClient } from '../support/flows.js';
import { CONSOLE_RESOURCE as resource, signInInChromium, startConsoleGatehouse } from '../support/console.js';
import { assertContrastInBothSchemes } from '../support/contrast.js';
import { assertNoSeriousAxeViolations } from '../support/axe.js';

/**
 * The lowest contrast of a chart's bars and baseline against the card behind them (WCAG 1.4.11 asks 3:1 of graphics
 * that carry meaning). A string: the project compiles without the DOM library.
 */
const GRAPHICS_CONTRAST = `(() => {
  const parse = (value) => (/rgba?\\(([^)]+)\\)/.exec(value)[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number));
  const channel = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const ratio = (a, b) => { const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const card = parse(getComputedStyle(document.querySelector('.card')).backgroundColor);
  const marks = [...document.querySelectorAll('svg.bars rect.bar')].map((rect) => getComputedStyle(rect).fill)
    .concat([...document.querySelectorAll('svg.bars line.baseline')].map((line) => getComputedStyle(line).stroke));
  return { marks: marks.length, lowest: Math.min(...marks.map((colour) => ratio(parse(colour), card))) };
})()`;

describe('the console overview charts in headless Chromium', { skip: chromiumMissing() }, () => {
  let gatehouse: RunningGatehouse;
  let chromium: Chromium;
  let client: TestClient;

  before(async () => {
    ({ gatehouse, client } = await startConsoleGatehouse());
    // Something to draw: a token issued and refreshed, a replayed code and a denied consent.
    const built = authorizationUrl(gatehouse.url, { client, resource, scope: 'projects:read' });
    const code = (await new Browser('carol').authorize(built.url, built.redirectUri)).searchParams.get('code');
    assert.ok(code);
    const obtained = { code, verifier: built.pkce.verifier, redirectUri: built.redirectUri };
    const tokens = await exchangeCode(gatehouse, { client }, obtained);
    assert.equal(tokens.status, 200, tokens.text);
    assert.equal((await refreshTokens(gatehouse, { client }, tokens.body.refresh_token as string)).status, 200);
    assert.equal((await exchangeCode(gatehouse, { client }, obtained)).status, 400);
    const denied = authorizationUrl(gatehouse.url, { client, resource, scope: 'projects:read' });
    await new Browser('dave').authorize(denied.url, denied.redirectUri, 'deny');
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await gatehouse?.close();
  });

  async function openTables(page: Page): Promise<number> {
    return (await page.evaluate(`(() => { const all = [...document.querySelectorAll('.chart details')]; all.forEach((d) => { d.open = true; }); return all.length; })()`)) as number;
  }

  it('draws bars at 3:1 or more in both schemes, and fits 320 px with every table open', async (t) => {
    const page = await chromium.newPage({ viewport: { width: 1024, height: 900 } });
    await signInInChromium(page, gatehouse, client, 'alice');

    await page.goto(`${gatehouse.url}/console`);
    await page.getByRole('navigation', { name: 'Chart range' }).getByRole('link', { name: 'Last hour' }).click();
    await page.waitForURL(/\/console\?range=hour$/);
    await page.getByRole('heading', { name: 'Activity in the last hour' }).waitFor();
    assert.equal(await page.getByRole('img', { name: /^Tokens issued per 5 minutes, the last hour/ }).count(), 1);
    assert.equal(await page.getByRole('img', { name: /^Authorization code replayed per 5 minutes/ }).count(), 1);
    // Tokens issued, refreshes, sign-ins (carol, dave, alice), code replayed, consent denied.
    assert.equal(await openTables(page), 5);
    assert.equal(await page.getByRole('table', { name: 'Sign-ins per 5 minutes (UTC)' }).locator('tfoot td').textContent(), '3');

    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      const graphics = (await page.evaluate(GRAPHICS_CONTRAST)) as { marks: number; lowest: number };
      assert.ok(graphics.marks >= 10, `bars and baselines drawn: ${graphics.marks}`);
      assert.ok(graphics.lowest >= 3, `${colorScheme}: chart marks at ${graphics.lowest.toFixed(2)}:1 against the card`);
      t.diagnostic(`${colorScheme}: chart marks at least ${graphics.lowest.toFixed(2)}:1`);
    }
    for (const line of await assertContrastInBothSchemes(page, 'the overview with its chart tables open')) t.diagnostic(line);
    for (const line of await assertNoSeriousAxeViolations(page, 'the overview with its chart tables open')) t.diagnostic(line);

    await page.setViewportSize({ width: 320, height: 800 });
    const widths = (await page.evaluate(
      `({ page: document.documentElement.scrollWidth, viewport: window.innerWidth, chart: document.querySelector('svg.bars').getBoundingClientRect().width, column: document.querySelector('.chart').getBoundingClientRect().width })`,
    )) as { page: number; viewport: number; chart: number; column: number };
    assert.ok(widths.page <= widths.viewport, `no horizontal scrolling at 320 px: ${widths.page} > ${widths.viewport}`);
    assert.equal(Math.round(widths.chart), Math.round(widths.column), 'a chart is as wide as its column');
    for (const line of await assertContrastInBothSchemes(page, 'the overview charts at 320 px')) t.diagnostic(line);
    if (process.env.CHART_SCREENSHOTS) {
      await page.screenshot({ path: `${process.env.CHART_SCREENSHOTS}/overview-320.png`, fullPage: true });
      await page.setViewportSize({ width: 1024, height: 900 });
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.screenshot({ path: `${process.env.CHART_SCREENSHOTS}/overview-1024-dark.png`, fullPage: true });
    }
    await page.close();
  });
});
