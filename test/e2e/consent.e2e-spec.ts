import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser, consentForm, type Page } from '../support/browser.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import {
  authorizationUrl,
  databaseCounts,
  exchangeCode,
  loopbackRedirectUri,
  obtainCode,
  registerClient,
  type BuiltAuthorizationRequest,
  type TestClient,
} from '../support/flows.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const REDIRECT = 'http://127.0.0.1:47001/callback';

/** Registers a client redirecting to REDIRECT: public (`none`) unless another client authentication method is given. */
async function register(gatehouse: RunningGatehouse, name: string, authMethod: 'none' | 'client_secret_basic' = 'none'): Promise<string> {
  const response = await fetch(`${gatehouse.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: name, redirect_uris: [REDIRECT], token_endpoint_auth_method: authMethod, grant_types: ['authorization_code', 'refresh_token'] }),
  });
  return ((await response.json()) as { client_id: string }).client_id;
}

function authorizeUrl(gatehouse: RunningGatehouse, clientId: string, scope: string): string {
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
  const url = new URL(`${gatehouse.url}/authorize`);
  url.search = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', scope, state: 'st', resource: RESOURCE }).toString();
  return url.href;
}

const atClient = (location: string) => location.startsWith(REDIRECT);

/** Signs in through the fake GitHub and returns the page that follows (the consent page, or a stop at the client). */
async function signInAndReach(browser: Browser, url: string): Promise<Page | { stoppedAt: string }> {
  const first = await browser.navigate(url, atClient);
  if ('stoppedAt' in first) return first;
  const link = /href="([^"]*\/login\/github)"/.exec(first.html)?.[1];
  if (!link) return first;
  return browser.navigate(new URL(link, first.url).href, atClient);
}

describe('consent', () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;
  let resourceId: string;

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({ github });
    ({ id: resourceId } = await createResource(gatehouse, { name: 'Docs <MCP> & "Co"', resource: RESOURCE, scopes: ['docs:read', 'docs:write'], default_scopes: ['docs:read'] }));
  });
  after(async () => {
    await gatehouse?.close();
    await github?.stop();
  });

  it('shows the client, the redirect host, the resource and each scope, escaping every value', async () => {
    const clientId = await register(gatehouse, '<script>alert("pwned")</script>');
    const page = await signInAndReach(new Browser(), authorizeUrl(gatehouse, clientId, 'docs:read docs:write'));
    assert.ok(!('stoppedAt' in page));
    assert.equal(page.status, 200);
    assert.ok(!page.html.includes('<script>'), 'no unescaped markup from the client name');
    assert.ok(page.html.includes('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;'));
    assert.ok(page.html.includes('Docs &lt;MCP&gt; &amp; &quot;Co&quot;'));
    assert.ok(page.html.includes('127.0.0.1:47001'), 'the redirect host is shown');
    assert.ok(page.html.includes('docs:read') && page.html.includes('docs:write'));
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.ok(consentForm(page), 'an Approve/Deny form with a CSRF token');
  });

  it('describes each scope in words with its code beside it, escaped, and shows the code alone where there is none', async () => {
    const described = await gatehouse.admin('PATCH', `/admin/resources/${resourceId}`, { scope_descriptions: { 'docs:write': 'Change <b>your</b> "docs" & notes' } });
    assert.equal(described.status, 200, JSON.stringify(described.body));
    try {
      const clientId = await register(gatehouse, 'Described');
      const page = await signInAndReach(new Browser(), authorizeUrl(gatehouse, clientId, 'docs:read docs:write'));
      assert.ok(!('stoppedAt' in page));
      assert.equal(page.status, 200);
      assert.ok(!page.html.includes('<b>your</b>'), 'no markup from a description');
      const items = /<ul class="scopes">([\s\S]*?)<\/ul>/.exec(page.html)?.[1];
      assert.equal(
        items,
        '<li><code>docs:read</code></li><li><span class="scope-description">Change &lt;b&gt;your&lt;/b&gt; &quot;docs&quot; &amp; notes</span> <code class="scope">docs:write</code></li>',
      );
    } finally {
      assert.equal((await gatehouse.admin('PATCH', `/admin/resources/${resourceId}`, { scope_descriptions: {} })).status, 200);
    }
  });

  it('remembers consent per client and resource, and asks again for more scopes', async () => {
    // Confidential: a public client redirecting to loopback is asked to continue instead (see the next suite).
    const clientId = await register(gatehouse, 'Remembered', 'client_secret_basic');
    const browser = new Browser();
    const first = await browser.authorize(authorizeUrl(gatehouse, clientId, 'docs:read'), REDIRECT);
    assert.ok(first.searchParams.get('code'));

    // Same scopes again: no page at all, straight back to the client with a code.
    const pagesBefore = browser.pages.length;
    const again = await browser.navigate(authorizeUrl(gatehouse, clientId, 'docs:read'), atClient);
    assert.ok('stoppedAt' in again, 'consent was remembered');
    assert.ok(new URL(again.stoppedAt).searchParams.get('code'));
    assert.equal(browser.pages.length, pagesBefore, 'no page was shown');
    const [issued] = (await gatehouse.db.query(`SELECT data FROM audit_events WHERE type = 'authorization_code.issued' AND client_id = $1 ORDER BY seq DESC LIMIT 1`, [clientId])) as Array<{
      data: { consent: string };
    }>;
    assert.equal(issued?.data.consent, 'remembered');

    // More scopes: the consent page again, marking what was already granted.
    const more = await browser.navigate(authorizeUrl(gatehouse, clientId, 'docs:read docs:write'), atClient);
    assert.ok(!('stoppedAt' in more));
    assert.ok(consentForm(more));
    assert.match(more.html, /docs:read<\/code> <span class="muted">\(already allowed\)/);

    // Another client is asked separately.
    const other = await register(gatehouse, 'Other');
    const otherPage = await browser.navigate(authorizeUrl(gatehouse, other, 'docs:read'), atClient);
    assert.ok(!('stoppedAt' in otherPage) && consentForm(otherPage), 'consent is per client');
  });

  describe('remembered consent for a public client on this device (RFC 8252 §8.6)', () => {
    /** Consent given once (sign-in and Approve on the consent page); returns the browser, still signed in. */
    async function consented(client: TestClient, redirectUri?: string): Promise<Browser> {
      const browser = new Browser();
      await obtainCode(gatehouse, { client, redirectUri, resource: RESOURCE, scope: 'docs:read', browser });
      assert.ok(browser.pages.some((page) => consentForm(page)), 'the first request asked for consent');
      return browser;
    }

    interface AskedAgain {
      built: BuiltAuthorizationRequest;
      page: Page;
      form: { action: string; csrfToken: string };
    }

    /** A new request for what was already allowed; fails the test if it went to the client without a page. */
    async function askAgain(client: TestClient, browser: Browser, redirectUri?: string): Promise<AskedAgain> {
      const built = authorizationUrl(gatehouse.url, { client, redirectUri, resource: RESOURCE, scope: 'docs:read' });
      const page = await browser.navigate(built.url, (location) => location.startsWith(built.redirectUri));
      assert.ok(!('stoppedAt' in page), `remembered consent sent the browser to the client unasked: ${'stoppedAt' in page ? page.stoppedAt : ''}`);
      assert.equal(page.status, 200);
      const form = consentForm(page);
      assert.ok(form, `a form to continue: ${page.html.slice(0, 300)}`);
      return { built, page, form };
    }

    /** Presses a button of the page's form; returns where the browser is sent, which must be the client's redirect URI. */
    async function press(browser: Browser, asked: AskedAgain, decision: 'approve' | 'deny'): Promise<URL> {
      const back = await browser.submitConsent(asked.form, decision, (location) => location.startsWith(asked.built.redirectUri));
      assert.ok('stoppedAt' in back, `expected the client's redirect, got a page: ${'stoppedAt' in back ? '' : back.html.slice(0, 300)}`);
      return new URL(back.stoppedAt);
    }

    async function lastEvent(type: string, clientId: string): Promise<Record<string, unknown> | undefined> {
      const rows = (await gatehouse.db.query(`SELECT data FROM audit_events WHERE type = $1 AND client_id = $2 ORDER BY seq DESC LIMIT 1`, [type, clientId])) as Array<{ data: Record<string, unknown> }>;
      return rows[0]?.data;
    }

    it('shows a one-click page instead of a code for a loopback redirect; Continue issues the code, recorded as approved', async () => {
      const client = await registerClient(gatehouse, { client_name: 'Local <Agent>' });
      const browser = await consented(client);
      const before = await databaseCounts(gatehouse);
      const asked = await askAgain(client, browser);
      const { built, page } = asked;
      assert.match(page.html, /<h1 id="consent-title">Continue to <strong>Local &lt;Agent&gt;<\/strong>\?<\/h1>/);
      assert.match(page.html, /You already allowed <strong>Local &lt;Agent&gt;<\/strong> to use Docs &lt;MCP&gt; &amp; &quot;Co&quot;\./);
      assert.match(page.html, /value="approve" class="primary">Continue to Local &lt;Agent&gt;<\/button>/);
      assert.match(page.html, /value="deny">Cancel<\/button>/);
      assert.match(page.html, /docs:read<\/code> <span class="muted">\(already allowed\)/);
      assert.ok(page.html.includes(new URL(built.redirectUri).host), 'the redirect host is shown');
      // Showing the page again (a reload) still issues nothing.
      const reload = await browser.navigate(page.url, (location) => location.startsWith(built.redirectUri));
      assert.ok(!('stoppedAt' in reload) && consentForm(reload), 'a reload shows the page again');
      const shown = await databaseCounts(gatehouse);
      assert.equal(shown.authorization_codes, before.authorization_codes, 'no code before the click');
      assert.equal(shown['interactions.completed'], before['interactions.completed'], 'the interaction is still open');
      assert.equal(shown.audit_events, before.audit_events, 'nothing recorded before the click');

      const callback = await press(browser, asked, 'approve');
      assert.equal(callback.origin + callback.pathname, built.redirectUri);
      assert.equal(callback.searchParams.get('state'), built.state);
      assert.equal(callback.searchParams.get('iss'), gatehouse.url);
      const code = callback.searchParams.get('code');
      assert.ok(code, callback.href);
      const tokens = await exchangeCode(gatehouse, { client }, { code, verifier: built.pkce.verifier, redirectUri: built.redirectUri });
      assert.equal(tokens.status, 200, tokens.text);
      assert.equal(tokens.body.scope, 'docs:read');
      assert.deepEqual(await lastEvent('authorization_code.issued', client.client_id), { scopes: ['docs:read'], consent: 'approved' });
      assert.deepEqual(await lastEvent('consent.granted', client.client_id), { scopes: ['docs:read'], via: 'approved' });
    });

    it('Cancel sends access_denied and issues nothing; the consent stays remembered', async () => {
      const client = await registerClient(gatehouse);
      const browser = await consented(client);
      const asked = await askAgain(client, browser);
      const { built } = asked;
      const before = await databaseCounts(gatehouse);
      const callback = await press(browser, asked, 'deny');
      assert.equal(callback.origin + callback.pathname, built.redirectUri);
      assert.equal(callback.searchParams.get('error'), 'access_denied');
      assert.equal(callback.searchParams.get('state'), built.state);
      assert.equal(callback.searchParams.get('code'), null);
      const after = await databaseCounts(gatehouse);
      assert.equal(after.authorization_codes, before.authorization_codes, 'no code');
      assert.equal(after['interactions.completed'], before['interactions.completed']! + 1, 'the interaction is closed');
      const consents = (await gatehouse.db.query('SELECT scopes FROM consents WHERE client_id = $1', [client.client_id])) as Array<{ scopes: string[] }>;
      assert.deepEqual(consents, [{ scopes: ['docs:read'] }]);
    });

    it('asks the same for a private-use scheme redirect', async () => {
      const client = await registerClient(gatehouse, { redirect_uris: ['com.example.agent:/oauth/callback'] });
      const browser = await consented(client);
      const asked = await askAgain(client, browser);
      assert.match(asked.page.html, /<h1 id="consent-title">Continue to /);
      const callback = await press(browser, asked, 'approve');
      assert.ok(callback.href.startsWith(`${asked.built.redirectUri}?`), callback.href);
      assert.ok(callback.searchParams.get('code'));
    });

    it('decides by the redirect URI of the request: the same public client is silent over https and asked on loopback', async () => {
      const https = 'https://agent.example.com/callback';
      const client = await registerClient(gatehouse, { redirect_uris: [https, loopbackRedirectUri()] });
      const browser = await consented(client, https);
      const pagesBefore = browser.pages.length;
      const silent = await obtainCode(gatehouse, { client, redirectUri: https, resource: RESOURCE, scope: 'docs:read', browser });
      assert.equal(browser.pages.length, pagesBefore, 'no page over https');
      assert.equal(silent.callback.origin + silent.callback.pathname, https);
      assert.deepEqual(await lastEvent('authorization_code.issued', client.client_id), { scopes: ['docs:read'], consent: 'remembered' });

      const { page } = await askAgain(client, browser, client.redirect_uris[1]);
      assert.match(page.html, /<h1 id="consent-title">Continue to /);
    });
  });

  it('deny sends access_denied with state and iss back to the client', async () => {
    const clientId = await register(gatehouse, 'Denied');
    const codesBefore = await gatehouse.count('authorization_codes');
    const callback = await new Browser().authorize(authorizeUrl(gatehouse, clientId, 'docs:read'), REDIRECT, 'deny');
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), 'st');
    assert.equal(callback.searchParams.get('iss'), gatehouse.url);
    assert.equal(await gatehouse.count('authorization_codes'), codesBefore);
  });

  it('sets HttpOnly, SameSite=Lax cookies, without Secure on a loopback http issuer', async () => {
    const clientId = await register(gatehouse, 'Cookies');
    const response = await fetch(authorizeUrl(gatehouse, clientId, 'docs:read'), { redirect: 'manual' });
    const cookie = response.headers.getSetCookie().find((line) => line.startsWith('gatehouse_interaction='));
    assert.ok(cookie);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.match(cookie, /Path=\/interaction\/[A-Za-z0-9_-]{32}/);
    assert.doesNotMatch(cookie, /Secure/);
  });
});

describe('cookies on an https issuer', () => {
  it('are Secure', async () => {
    const gatehouse = await startGatehouse({ env: { ISSUER: 'https://127.0.0.1:9443' } });
    try {
      await createResource(gatehouse, { resource: RESOURCE, scopes: ['docs:read'], default_scopes: ['docs:read'] });
      const clientId = await register(gatehouse, 'Secure');
      const url = authorizeUrl(gatehouse, clientId, 'docs:read');
      const response = await fetch(url, { redirect: 'manual' });
      const cookie = response.headers.getSetCookie().find((line) => line.startsWith('gatehouse_interaction='));
      assert.match(cookie ?? '', /; Secure/);
    } finally {
      await gatehouse.close();
    }
  });
});

describe('sign-in without GitHub configured', () => {
  it('still serves, and the sign-in page names the variables to set', async () => {
    const gatehouse = await startGatehouse();
    try {
      await createResource(gatehouse, { resource: RESOURCE, scopes: ['docs:read'], default_scopes: ['docs:read'] });
      const clientId = await register(gatehouse, 'No GitHub');
      const page = await new Browser().navigate(authorizeUrl(gatehouse, clientId, 'docs:read'), atClient);
      assert.ok(!('stoppedAt' in page));
      assert.equal(page.status, 200);
      assert.match(page.html, /No sign-in method is available/);
      assert.match(page.html, /GITHUB_CLIENT_ID/);
      assert.match(page.html, /GITHUB_CLIENT_SECRET/);
      assert.doesNotMatch(page.html, /login\/github"/, 'no sign-in link that cannot work');
    } finally {
      await gatehouse.close();
    }
  });
});
