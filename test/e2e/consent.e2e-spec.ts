import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser, consentForm, type Page } from '../support/browser.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const REDIRECT = 'http://127.0.0.1:47001/callback';

async function register(gatehouse: RunningGatehouse, name: string): Promise<string> {
  const response = await fetch(`${gatehouse.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: name, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }),
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

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({ github });
    await createResource(gatehouse, { name: 'Docs <MCP> & "Co"', resource: RESOURCE, scopes: ['docs:read', 'docs:write'], default_scopes: ['docs:read'] });
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

  it('remembers consent per client and resource, and asks again for more scopes', async () => {
    const clientId = await register(gatehouse, 'Remembered');
    const browser = new Browser();
    const first = await browser.authorize(authorizeUrl(gatehouse, clientId, 'docs:read'), REDIRECT);
    assert.ok(first.searchParams.get('code'));

    // Same scopes again: no page at all, straight back to the client with a code.
    const again = await browser.navigate(authorizeUrl(gatehouse, clientId, 'docs:read'), atClient);
    assert.ok('stoppedAt' in again, 'consent was remembered');
    assert.ok(new URL(again.stoppedAt).searchParams.get('code'));

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
      assert.match(page.html, /GitHub sign-in is not configured/);
      assert.match(page.html, /GITHUB_CLIENT_ID/);
      assert.match(page.html, /GITHUB_CLIENT_SECRET/);
      assert.doesNotMatch(page.html, /login\/github"/, 'no sign-in link that cannot work');
    } finally {
      await gatehouse.close();
    }
  });
});
