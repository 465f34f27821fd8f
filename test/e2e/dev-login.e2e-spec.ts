import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Browser, consentForm, devLoginForm, type Page } from '../support/browser.js';
import { createResource, MemoryLogger, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { assertErrorPage, auditEvents, authorizationUrl, databaseCounts, registerClient, type TestClient } from '../support/flows.js';
import { startExampleMcpServer, type RunningExampleMcp } from '../support/example-mcp.js';
import { InMemoryOAuthProvider } from '../support/sdk-provider.js';

const BANNER = /<div class="banner" role="alert"><strong>Development sign-in is on\.<\/strong>/;

/** Opens a new authorization request for `resource` and stops at the page the browser is shown first. */
async function signInPage(gatehouse: RunningGatehouse, client: TestClient, resource: string, browser = new Browser()): Promise<{ browser: Browser; page: Page }> {
  const built = authorizationUrl(gatehouse.url, { client, resource });
  const page = await browser.navigate(built.url, (location) => location.startsWith(built.redirectUri));
  assert.ok(!('stoppedAt' in page), 'a page is shown');
  return { browser, page };
}

function post(browser: Browser, action: string, form: Record<string, string>): Promise<Response> {
  return browser.fetch(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
}

describe('development sign-in (DEV_LOGIN=true), end to end with the example MCP server and the SDK client', () => {
  let gatehouse: RunningGatehouse;
  let mcp: RunningExampleMcp;
  let mcpUrl: URL;
  const logs = new MemoryLogger();

  before(async () => {
    gatehouse = await startGatehouse({ env: { DEV_LOGIN: 'true', LOG_LEVEL: 'warn' }, logger: logs });
    mcp = await startExampleMcpServer(gatehouse);
    mcpUrl = mcp.url;
  });
  after(async () => {
    await mcp?.close();
    await gatehouse?.close();
  });

  it('says loudly at boot that anyone can sign in as anyone', () => {
    const warning = logs.lines.find((line) => line.includes('DEVELOPMENT SIGN-IN IS ON'));
    assert.ok(warning, logs.lines.join('\n'));
    assert.match(warning, /anyone who can reach this server can sign in as anyone/);
  });

  it('lets the SDK client authorize through the dev form and consent, then call the example tool as that user', async () => {
    const redirectUrl = 'http://127.0.0.1:33431/callback';
    const provider = new InMemoryOAuthProvider(redirectUrl, {
      client_name: 'Dev sign-in e2e',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    const client = new Client({ name: 'e2e', version: '1.0.0' });
    const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    await assert.rejects(client.connect(first), UnauthorizedError);
    assert.equal(provider.authorizationUrl?.origin, gatehouse.url);

    const browser = new Browser('alice');
    const callback = await browser.authorize(provider.authorizationUrl!.href, redirectUrl);
    const [signIn, consent] = browser.pages;
    assert.ok(signIn && devLoginForm(signIn), 'the sign-in page offered the dev form');
    assert.match(signIn.html, BANNER, 'the sign-in page carries the banner');
    assert.doesNotMatch(signIn.html, /Continue with GitHub/);
    assert.ok(consent && consentForm(consent), 'then the consent page');
    assert.match(consent.html, BANNER, 'the consent page carries the banner');
    assert.match(consent.html, /Signed in as <strong>alice<\/strong> \(Development sign-in\)/);
    assert.ok(browser.visited.some((step) => /^POST .*\/interaction\/[^/]+\/login\/dev$/.test(step)), browser.visited.join('\n'));

    await first.finishAuth(callback.searchParams.get('code')!);
    const tokens = provider.savedTokens!;
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`)), {
      issuer: gatehouse.url,
      audience: mcpUrl.href,
      typ: 'at+jwt',
    });
    const identities = (await gatehouse.db.query(`SELECT user_id, login FROM user_identities WHERE provider = 'dev' AND subject = 'alice'`)) as Array<{ user_id: string; login: string }>;
    assert.equal(identities.length, 1);
    assert.equal(payload.sub, identities[0]!.user_id, 'sub is the Gatehouse user of the dev identity alice');

    await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
    const listed = await client.callTool({ name: 'list_projects', arguments: {} });
    assert.equal(listed.isError, undefined, JSON.stringify(listed));
    assert.deepEqual(JSON.parse((listed.content as Array<{ text: string }>)[0]!.text), []);
    await client.close();

    const succeeded = (await auditEvents(gatehouse, 'login.succeeded')).filter((event) => event.subject === payload.sub);
    assert.deepEqual(succeeded.map((event) => event.data), [{ provider: 'dev', created: true }]);
  });

  it('signs the same name in as the same user again', async () => {
    const client = await registerClient(gatehouse);
    const { browser, page } = await signInPage(gatehouse, client, mcpUrl.href, new Browser());
    const form = devLoginForm(page)!;
    const next = await browser.submitDevLogin(form, 'alice');
    assert.ok(!('stoppedAt' in next) && consentForm(next), 'the consent page');
    const users = (await gatehouse.db.query(`SELECT count(*)::int AS n FROM user_identities WHERE provider = 'dev' AND subject = 'alice'`)) as Array<{ n: number }>;
    assert.equal(users[0]?.n, 1);
    const events = await auditEvents(gatehouse, 'login.succeeded');
    assert.deepEqual(events.at(-1)?.data, { provider: 'dev', created: false });
  });

  it('refuses a bad name, a missing or wrong CSRF value, and another browser, and writes nothing', async () => {
    const client = await registerClient(gatehouse);
    const { browser, page } = await signInPage(gatehouse, client, mcpUrl.href);
    const form = devLoginForm(page);
    assert.ok(form);
    const before = await databaseCounts(gatehouse);

    for (const name of ['', 'has space', 'a'.repeat(65), 'ümlaut', 'semi;colon', '<script>']) {
      await assertErrorPage(await post(browser, form.action, { csrf_token: form.csrfToken, name }), 400, JSON.stringify(name));
    }
    await assertErrorPage(await post(browser, form.action, { csrf_token: form.csrfToken }), 400, 'no name');
    await assertErrorPage(await post(browser, form.action, { name: 'mallory' }), 403, 'no CSRF value');
    await assertErrorPage(await post(browser, form.action, { csrf_token: 'x'.repeat(43), name: 'mallory' }), 403, 'a wrong CSRF value');
    await assertErrorPage(await post(new Browser(), form.action, { csrf_token: form.csrfToken, name: 'mallory' }), 403, 'another browser');
    const json = await browser.fetch(form.action, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csrf_token: form.csrfToken, name: 'mallory' }) });
    await assertErrorPage(json, 400, 'not a form');

    assert.deepEqual(await databaseCounts(gatehouse), before);
    const accepted = await browser.submitDevLogin(form, 'a-valid_name.1');
    assert.ok(!('stoppedAt' in accepted) && consentForm(accepted), 'the same form with a valid name goes on to consent');
  });

  it('goes through the sign-in policy: a providers list without dev hides the form and refuses its POST; rules refuse dev names', async () => {
    const githubOnly = await createResource(gatehouse, { resource: 'https://github-only.example.com/mcp', scopes: ['read'], default_scopes: ['read'], sign_in: { providers: ['github'], allow: 'everyone' } });
    const client = await registerClient(gatehouse);
    const { browser, page } = await signInPage(gatehouse, client, githubOnly.resource);
    assert.equal(devLoginForm(page), null, 'no dev form for a resource that does not allow dev');
    assert.match(page.html, /No sign-in method is available/);
    const action = new URL(`${new URL(page.url).pathname}/login/dev`, gatehouse.url).href;
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(page.html)?.[1] ?? '';
    const before = await databaseCounts(gatehouse);
    const refused = await assertErrorPage(await post(browser, action, { csrf_token: csrf, name: 'alice' }), 403, 'dev not among the providers');
    assert.match(refused, /does not accept sign-in with Development sign-in/);
    assert.deepEqual(await databaseCounts(gatehouse), before);

    const byRules = await createResource(gatehouse, { resource: 'https://rules.example.com/mcp', scopes: ['read'], default_scopes: ['read'], sign_in: { providers: null, allow: { github_users: ['bob'] } } });
    const second = await signInPage(gatehouse, client, byRules.resource);
    const form = devLoginForm(second.page);
    assert.ok(form, 'dev is among every provider');
    const usersBefore = await gatehouse.count('users');
    const page403 = await second.browser.submitDevLogin(form, 'bob');
    assert.ok(!('stoppedAt' in page403));
    assert.equal(page403.status, 403);
    assert.match(page403.html, /You signed in with Development sign-in as <strong>bob<\/strong>/);
    assert.equal(await gatehouse.count('users'), usersBefore, 'a refused person leaves no user behind');
    const refusedEvents = await auditEvents(gatehouse, 'login.refused');
    assert.equal(refusedEvents.at(-1)?.data.provider, 'dev');
    assert.equal(refusedEvents.at(-1)?.data.login, 'bob');
  });

  it('serves a landing page at / with the links, the issuer and the banner; other unknown paths stay JSON 404s', async () => {
    const response = await fetch(`${gatehouse.url}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.equal(response.headers.get('cache-control'), 'public, max-age=300');
    const body = await response.text();
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/jwks.json', '/account']) {
      assert.ok(body.includes(`<a href="${path}">`), path);
      assert.equal((await fetch(`${gatehouse.url}${path}`)).status, 200, `${path} answers`);
    }
    assert.ok(body.includes(`<code>${gatehouse.url}</code>`), 'the issuer');
    const account = await (await fetch(`${gatehouse.url}/account`)).text();
    assert.match(account, BANNER, 'the account page carries the banner');
    assert.match(account, /Development sign-in is offered on the sign-in page an application sends you to/);
    assert.match(body, BANNER);
    assert.doesNotMatch(body, /<script/i);

    const unknown = await fetch(`${gatehouse.url}/no-such-page`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.headers.get('content-type') ?? '', /^application\/json/);
  });
});

describe('development sign-in turned off (the default)', () => {
  it('offers no dev form, refuses its POST, and no longer counts a session it signed in', async () => {
    let gatehouse = await startGatehouse({ env: { DEV_LOGIN: 'true' } });
    const port = Number(new URL(gatehouse.url).port);
    try {
      const resource = await createResource(gatehouse, { resource: 'https://mcp.example.com/mcp', scopes: ['read'], default_scopes: ['read'] });
      const client = await registerClient(gatehouse);
      const browser = new Browser('carol');
      const built = authorizationUrl(gatehouse.url, { client, resource: resource.resource });
      const callback = await browser.authorize(built.url, built.redirectUri);
      assert.ok(callback.searchParams.get('code'), 'carol signed in and approved while DEV_LOGIN was on');
      assert.equal((await browser.fetch(`${gatehouse.url}/account`).then((r) => r.text())).includes('Sign out'), true, 'the account page knows carol');

      await gatehouse.close({ keepStorage: true });
      gatehouse = await startGatehouse({ storage: gatehouse.storage, port });
      assert.equal(gatehouse.config.devLogin, false);

      // The same browser, with carol's session cookie: asked to sign in again, and dev is not on offer.
      const { page } = await signInPage(gatehouse, client, resource.resource, browser);
      assert.equal(page.status, 200);
      assert.equal(devLoginForm(page), null);
      assert.doesNotMatch(page.html, /Development sign-in|class="banner"/);
      assert.match(page.html, /No sign-in method is available/);

      const before = await databaseCounts(gatehouse);
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(page.html)?.[1] ?? '';
      const refused = await assertErrorPage(await post(browser, `${page.url}/login/dev`, { csrf_token: csrf, name: 'carol' }), 404, 'DEV_LOGIN off');
      assert.match(refused, /does not offer development sign-in/);
      assert.deepEqual(await databaseCounts(gatehouse), before);

      const account = await (await browser.fetch(`${gatehouse.url}/account`)).text();
      assert.doesNotMatch(account, /Sign out/, 'the account page no longer takes the dev session');

      const landing = await (await fetch(`${gatehouse.url}/`)).text();
      assert.doesNotMatch(landing, /class="banner"/);
    } finally {
      await gatehouse.close();
    }
  });
});
