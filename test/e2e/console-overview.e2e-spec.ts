import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Browser, type Page } from '../support/browser.js';
import { DATABASE_KINDS, skipUnless } from '../support/database.js';
import type { RunningGatehouse } from '../support/gatehouse.js';
import { assertOAuthError, authorizationUrl, exchangeCode, refreshTokens, type TestClient } from '../support/flows.js';
import { CONSOLE_RESOURCE as RESOURCE, openPage, startConsoleGatehouse } from '../support/console.js';

/** A chart's data table as the page shows it: the count of each bucket (by its start) and the total row. */
interface ChartTable {
  rows: Array<{ start: string; count: number }>;
  total: number;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The table of the chart `label`, or null when the chart says there was none (it then has no table). */
function chartTable(page: Page, label: string): ChartTable | null {
  const heading = new RegExp(`<h([34]) id="[^"]+">${escapeRegExp(label)}</h\\1>\\s*<p>(None in the last (?:hour|day)\\.)?`).exec(page.html);
  assert.ok(heading, `a chart named ${label}`);
  const table = new RegExp(`<caption class="muted small">${escapeRegExp(label)} per [^<]+</caption>([\\s\\S]*?)</table>`).exec(page.html);
  if (heading[2]) {
    assert.equal(table, null, `${label} says none and has no table`);
    return null;
  }
  assert.ok(table?.[1], `${label} has a table`);
  const rows = [...table[1].matchAll(/<tr><th scope="row"><time datetime="([^"]+)">[^<]+<\/time><\/th><td>(\d+)<\/td><\/tr>/g)].map((m) => ({ start: m[1]!, count: Number(m[2]) }));
  const total = Number(/<tfoot><tr><th scope="row">Total<\/th><td>(\d+)<\/td>/.exec(table[1])?.[1]);
  assert.equal(
    rows.reduce((sum, row) => sum + row.count, 0),
    total,
    `${label}: the rows add up to the total`,
  );
  return { rows, total };
}

/** The total of a chart, 0 when it says none. */
function chartTotal(page: Page, label: string): number {
  return chartTable(page, label)?.total ?? 0;
}

/** The reasons of the refusals charted, with their totals. */
function refusals(page: Page): Record<string, number> {
  const names = [...page.html.matchAll(/<h4 id="chart-refusal-\d+-name">([^<]+)<\/h4>/g)].map((m) => m[1]!);
  return Object.fromEntries(names.map((name) => [name, chartTotal(page, name)]));
}

for (const database of DATABASE_KINDS) {
  describe(`the console overview's charts (${database})`, { skip: skipUnless(database) }, () => {
    let gatehouse: RunningGatehouse;
    let client: TestClient;
    let alice: Browser;

    before(async () => {
      ({ gatehouse, client } = await startConsoleGatehouse({ database }));
    });
    after(async () => {
      await gatehouse?.close();
    });

    async function open(browser: Browser, path: string): Promise<Page> {
      const page = await openPage(gatehouse, browser, path);
      assert.equal(page.status, 200, page.html);
      return page;
    }

    it('counts the tokens issued, refreshes, sign-ins and refusals by reason that the audit events record', async () => {
      // alice signs in, her client exchanges the code (a token issued) and refreshes once.
      alice = new Browser('alice');
      const built = authorizationUrl(gatehouse.url, { client, resource: RESOURCE, scope: 'projects:read' });
      const code = (await alice.authorize(built.url, built.redirectUri)).searchParams.get('code');
      assert.ok(code);
      const obtained = { code, verifier: built.pkce.verifier, redirectUri: built.redirectUri };
      const tokens = await exchangeCode(gatehouse, { client }, obtained);
      assert.equal(tokens.status, 200, tokens.text);
      const refreshed = await refreshTokens(gatehouse, { client }, tokens.body.refresh_token as string);
      assert.equal(refreshed.status, 200, refreshed.text);
      // Refused: the used code again (authorization_code.replayed), and a code Gatehouse never issued (no audit event).
      assertOAuthError(await exchangeCode(gatehouse, { client }, obtained), 400, 'invalid_grant');
      assertOAuthError(await exchangeCode(gatehouse, { client }, { ...obtained, code: 'never-issued' }), 400, 'invalid_grant');
      // bob signs in and denies the client.
      const bobsRequest = authorizationUrl(gatehouse.url, { client, resource: RESOURCE, scope: 'projects:read' });
      const denied = await new Browser('bob').authorize(bobsRequest.url, bobsRequest.redirectUri, 'deny');
      assert.equal(denied.searchParams.get('error'), 'access_denied');

      for (const range of ['hour', 'day'] as const) {
        const page = await open(alice, `/console?range=${range}`);
        assert.match(page.html, new RegExp(`<a href="/console\\?range=${range}" aria-current="page">`));
        assert.equal(chartTotal(page, 'Tokens issued'), 1, range);
        assert.equal(chartTotal(page, 'Refreshes'), 1, range);
        assert.equal(chartTotal(page, 'Sign-ins'), 2, range);
        assert.deepEqual(refusals(page), { 'Authorization code replayed': 1, 'Consent denied': 1 }, range);
        assert.match(page.html, /<h3 id="refusals-title">Refusals by reason<\/h3>\s*<p><strong>2<\/strong>/);
        const issued = chartTable(page, 'Tokens issued')!;
        assert.equal(issued.rows.length, range === 'hour' ? 12 : 24);
        const step = range === 'hour' ? 300_000 : 3_600_000;
        issued.rows.forEach((row, i) => {
          if (i > 0) assert.equal(Date.parse(row.start) - Date.parse(issued.rows[i - 1]!.start), step, 'buckets follow each other');
        });
      }
    });

    it('leaves out of the last hour what happened earlier in the day, and out of both what happened before', async () => {
      await gatehouse.db.query(`UPDATE audit_events SET occurred_at = occurred_at - interval '3 hours' WHERE type = 'token.refreshed'`);
      await gatehouse.db.query(`UPDATE audit_events SET occurred_at = occurred_at - interval '2 days' WHERE type = 'consent.denied'`);
      const hour = await open(alice, '/console?range=hour');
      assert.equal(chartTable(hour, 'Refreshes'), null, 'no refresh in the last hour');
      assert.deepEqual(refusals(hour), { 'Authorization code replayed': 1 });
      const day = await open(alice, '/console?range=day');
      const refreshes = chartTable(day, 'Refreshes');
      assert.equal(refreshes?.total, 1);
      // Three hours back is the bucket three before the current hour's (two, if an hour began since).
      assert.ok([19, 20].includes(refreshes.rows.findIndex((row) => row.count === 1)), JSON.stringify(refreshes.rows));
      assert.deepEqual(refusals(day), { 'Authorization code replayed': 1 });
    });

    it('shows the last day for a range it does not know', async () => {
      for (const path of ['/console', '/console?range=week', '/console?range=hour&range=day']) {
        const page = await open(alice, path);
        assert.match(page.html, /<h2 id="activity-title">Activity in the last day<\/h2>/, path);
        assert.match(page.html, /<a href="\/console\?range=day" aria-current="page">Last day<\/a>/, path);
        assert.match(page.html, /<a href="\/console\?range=hour">Last hour<\/a>/, path);
      }
    });
  });
}
