import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { Browser as Chromium, Page } from 'playwright-core';
import { FakeGithub } from '../fakes/fake-github.js';
import { chromiumMissing, launchChromium, loopbackCallback } from '../support/chromium.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, exchangeCode, registerClient, type TestClient } from '../support/flows.js';
import { assertContrastInBothSchemes } from '../support/contrast.js';


/**
 * Every page a person meets, measured in Chromium in both colour schemes: each visible text against what is behind
 * it must reach WCAG 2.2 AA. The lowest ratio of each page and scheme goes to the test's log.
 */
describe('contrast of every page in light and dark (headless Chromium)', { skip: chromiumMissing() }, () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;
  let browser: Chromium;
  let callback: { url: string; close: () => Promise<void> };
  let client: TestClient;
  const resource = 'https://projects.example.com/mcp';

  before(async () => {
    github = await new FakeGithub().start();
    // Development sign-in on: its banner and its form field are measured with the rest of each page.
    gatehouse = await startGatehouse({ github, env: { DEV_LOGIN: 'true' } });
    const { status, body } = await gatehouse.admin('POST', '/admin/resources', {
      name: 'Acme Projects',
      resource,
      scopes: ['projects:read', 'projects:write'],
      scope_descriptions: { 'projects:read': 'See your projects and their tasks' },
      default_scopes: ['projects:read'],
      branding: { policy_uri: 'https://acme.example.com/privacy', tos_uri: 'https://acme.example.com/terms' },
      identity_claims: ['preferred_username', 'email'],
      sign_in: { providers: null, allow: 'everyone' },
    });
    assert.equal(status, 201, JSON.stringify(body));
    callback = await loopbackCallback();
    client = await registerClient(gatehouse, { client_name: 'Claude Desktop', client_uri: 'https://claude.example.com', redirect_uris: [callback.url] });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gatehouse?.close();
    await callback?.close();
    await github?.stop();
  });

  async function check(page: Page, what: string, log: (message: string) => void): Promise<void> {
    for (const line of await assertContrastInBothSchemes(page, what)) log(line);
  }

  it('the sign-in, consent, error and account pages reach AA contrast in both schemes', async (t) => {
    const log = (message: string) => t.diagnostic(message);
    const page = await browser.newPage({ viewport: { width: 1024, height: 900 } });

    const built = authorizationUrl(gatehouse.url, { client, resource, scope: 'projects:read projects:write' });
    await page.goto(built.url);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in to continue');
    assert.equal(await page.locator('header.brand').textContent(), 'Acme Projects', 'the sign-in page carries the resource server’s brand');
    assert.equal(await page.locator('.banner').count(), 1, 'the development sign-in banner is shown');
    assert.equal(await page.locator('input[type=text]').count(), 1, 'the development sign-in form is shown');
    await check(page, 'the sign-in page', log);

    await page.getByRole('link', { name: 'Continue with GitHub' }).click();
    await page.getByRole('heading', { name: 'Allow Claude Desktop to use Acme Projects?' }).waitFor();
    await page.getByText('See your projects and their tasks').waitFor();
    await check(page, 'the consent page', log);

    await Promise.all([page.waitForURL((url) => url.href.startsWith(built.redirectUri)), page.getByRole('button', { name: 'Approve' }).click()]);
    const code = new URL(page.url()).searchParams.get('code');
    assert.ok(code, 'the client received a code');
    const tokens = await exchangeCode(gatehouse, { client }, { code, verifier: built.pkce.verifier, redirectUri: built.redirectUri });
    assert.equal(tokens.status, 200, tokens.text);

    const unknown = await page.goto(`${gatehouse.url}/authorize?response_type=code&client_id=nobody-registered-this&code_challenge_method=S256&code_challenge=${'a'.repeat(43)}`);
    assert.equal(unknown?.status(), 400);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Unknown application');
    assert.equal(await page.locator('header.brand').textContent(), 'Gatehouse', 'an error page for no known resource carries Gatehouse’s name');
    await check(page, 'an error page', log);

    await page.goto(`${gatehouse.url}/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await page.getByRole('listitem', { name: 'Claude Desktop' }).waitFor();
    await check(page, 'the account page', log);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to manage your account' }).waitFor();
    await check(page, 'the account sign-in page', log);
    await page.close();
  });
});
