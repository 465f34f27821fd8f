import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser, type Page } from '../support/browser.js';
import { DATABASE_KINDS, skipUnless } from '../support/database.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import {
  assertErrorPage,
  assertOAuthError,
  databaseCounts,
  exchangeCode,
  isActive,
  obtainCode,
  reachConsentPage,
  refreshTokens,
  registerClient,
  type TestClient,
  type TestResource,
} from '../support/flows.js';

const RESOURCE = 'https://projects.example.com/mcp';

/** What the account page offers: its CSRF token and the Revoke forms' actions, by grant id. */
function accountForms(page: Page): { csrfToken: string; revokeActions: Map<string, string> } {
  const csrfToken = /name="csrf_token" value="([^"]+)"/.exec(page.html)?.[1];
  assert.ok(csrfToken, `the account page has a CSRF token: ${page.html.slice(0, 300)}`);
  const revokeActions = new Map<string, string>();
  for (const match of page.html.matchAll(/action="(\/account\/grants\/([^"/]+)\/revoke)"/g)) revokeActions.set(match[2]!, new URL(match[1]!, page.url).href);
  return { csrfToken, revokeActions };
}

function form(body: Record<string, string>): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() };
}

// The page's statements read JSON and timestamps, which the two drivers hand back each their own way.
for (const database of DATABASE_KINDS) {
  describe(`the account page (${database})`, { skip: skipUnless(database) }, () => {
    let github: FakeGithub;
    let gatehouse: RunningGatehouse;
    let client: TestClient;
    let projects: TestResource;

    before(async () => {
      github = await new FakeGithub().start();
      gatehouse = await startGatehouse({ github, database });
      projects = await createResource(gatehouse, { name: 'Acme <Projects>', resource: RESOURCE, scopes: ['projects:read', 'projects:write'], default_scopes: ['projects:read'] });
      client = await registerClient(gatehouse, { client_name: 'Claude <Desktop>', client_uri: 'https://claude.example.com/app' });
    });
    after(async () => {
      await gatehouse?.close();
      await github?.stop();
    });

    /** Opens /account and signs in there with the fake GitHub (as `github.nextUser`); returns the account page. */
    async function signInAtAccount(browser: Browser): Promise<Page> {
      const first = await browser.navigate(`${gatehouse.url}/account`, () => false);
      assert.ok('html' in first);
      assert.equal(first.status, 200);
      assert.match(first.html, /<h1>Sign in to manage your account<\/h1>/);
      assert.match(first.headers.get('cache-control') ?? '', /no-store/);
      const link = /href="(\/account\/login\/github)"/.exec(first.html)?.[1];
      assert.ok(link, 'the sign-in page offers GitHub');
      const page = await browser.navigate(new URL(link, first.url).href, () => false);
      assert.ok('html' in page);
      assert.equal(new URL(page.url).pathname, '/account', 'the sign-in returns to the account page');
      return page;
    }

    async function accountPage(browser: Browser): Promise<Page> {
      const page = await browser.navigate(`${gatehouse.url}/account`, () => false);
      assert.ok('html' in page);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('cache-control') ?? '', /no-store/);
      return page;
    }

    /** An authorization in `browser` and its first tokens: a grant the account page lists. */
    async function connect(browser: Browser, scope = 'projects:read projects:write'): Promise<{ accessToken: string; refreshToken: string; grantId: string }> {
      const obtained = await obtainCode(gatehouse, { client, resource: RESOURCE, scope, browser });
      const tokens = await exchangeCode(gatehouse, { client }, obtained);
      assert.equal(tokens.status, 200, tokens.text);
      const claims = JSON.parse(Buffer.from(String(tokens.body.access_token).split('.')[1]!, 'base64url').toString()) as { grant_id: string };
      return { accessToken: tokens.body.access_token as string, refreshToken: tokens.body.refresh_token as string, grantId: claims.grant_id };
    }

    it('lists a grant, refuses forged and foreign revocations, and revoking it kills its refresh token and forgets the consent', async () => {
      const browser = new Browser();
      const empty = await signInAtAccount(browser);
      assert.match(empty.html, /Signed in as <strong>The Octocat<\/strong>/);
      assert.match(empty.html, /\(<strong>octocat<\/strong> on GitHub\)/);
      assert.match(empty.html, /No applications are connected\./);

      const { accessToken, refreshToken, grantId } = await connect(browser);
      const listed = await accountPage(browser);
      assert.match(listed.html, /<h3 id="application-[^"]+">Claude &lt;Desktop&gt;<\/h3>/, 'the application, by its escaped name');
      assert.match(listed.html, /<p class="muted small">on your computer \(127\.0\.0\.1:\d+\)<\/p>/, 'where it runs: its loopback redirect, not the site it claims');
      assert.match(listed.html, /Acme &lt;Projects&gt; <code>https:\/\/projects\.example\.com\/mcp<\/code>/, 'the resource server by name and URL');
      assert.match(listed.html, /<code>projects:read<\/code>, <code>projects:write<\/code>/, 'the scopes');
      assert.match(listed.html, /<dt>Allowed<\/dt><dd><time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z">\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC<\/time>/);
      assert.match(listed.html, /<dt>Last used<\/dt><dd><time datetime=/);
      const { csrfToken, revokeActions } = accountForms(listed);
      assert.deepEqual([...revokeActions.keys()], [grantId]);
      const revokeAction = revokeActions.get(grantId)!;

      // Someone else, signed in in another browser with their own valid token, cannot revoke it: it is not theirs.
      const mallory = new Browser();
      const octocat = github.nextUser;
      github.nextUser = { id: 5151, login: 'mallory', name: 'Mallory' };
      const theirs = await signInAtAccount(mallory).finally(() => (github.nextUser = octocat));
      assert.match(theirs.html, /No applications are connected\./, 'another user sees none of it');

      // Forged, malformed or foreign posts change nothing.
      const before = await databaseCounts(gatehouse);
      await assertErrorPage(await browser.fetch(revokeAction, form({})), 403, 'no CSRF token');
      await assertErrorPage(await browser.fetch(revokeAction, form({ csrf_token: `${csrfToken.slice(0, -2)}xx` })), 403, 'a wrong CSRF token');
      await assertErrorPage(await browser.fetch(revokeAction, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csrf_token: csrfToken }) }), 400, 'not a form');
      await assertErrorPage(await fetch(revokeAction, { ...form({ csrf_token: csrfToken }), redirect: 'manual' }), 403, 'the token without the session cookie');
      await assertErrorPage(await mallory.fetch(revokeAction, form({ csrf_token: csrfToken })), 403, "the owner's token from another session");
      await assertErrorPage(await mallory.fetch(revokeAction, form({ csrf_token: accountForms(theirs).csrfToken })), 404, "another user's grant");
      await assertErrorPage(await browser.fetch(`${gatehouse.url}/account/grants/not-a-grant/revoke`, form({ csrf_token: csrfToken })), 404, 'not a grant id');
      await assertErrorPage(await browser.fetch(`${gatehouse.url}/account/grants/${randomUUID()}/revoke`, form({ csrf_token: csrfToken })), 404, 'an unknown grant');
      assert.deepEqual(await databaseCounts(gatehouse), before, 'nothing changed');
      assert.ok((await accountPage(browser)).html.includes(`/account/grants/${grantId}/revoke`), 'still listed for its owner');

      // The real thing.
      const revoked = await browser.fetch(revokeAction, form({ csrf_token: csrfToken }));
      assert.equal(revoked.status, 303);
      assert.equal(revoked.headers.get('location'), '/account?status=revoked');
      assert.match(revoked.headers.get('cache-control') ?? '', /no-store/);
      const after = await browser.navigate(new URL(revoked.headers.get('location')!, gatehouse.url).href, () => false);
      assert.ok('html' in after);
      assert.match(after.html, /role="status">Access revoked\./);
      assert.match(after.html, /No applications are connected\./);

      assertOAuthError(await refreshTokens(gatehouse, { client }, refreshToken), 400, 'invalid_grant', 'the revoked grant’s refresh token');
      assert.equal(await isActive(gatehouse, { resource: projects, via: 'bearer' }, accessToken), false, 'its access token is revoked too');
      assert.equal(await gatehouse.count('consents'), before.consents! - 1, 'the consent is forgotten');
      const events = (await gatehouse.db.query(
        "SELECT type, actor_kind, actor_id, subject, client_id, data FROM audit_events WHERE type IN ('grant.revoked', 'consent.withdrawn') ORDER BY seq",
      )) as Array<{ type: string; actor_kind: string; actor_id: string; subject: string; client_id: string; data: Record<string, unknown> }>;
      assert.deepEqual(
        events.map((event) => [event.type, event.actor_kind, event.actor_id === event.subject, event.client_id, event.data.grant_id]),
        [
          ['grant.revoked', 'user', true, client.client_id, grantId],
          ['consent.withdrawn', 'user', true, client.client_id, grantId],
        ],
      );
      assert.equal(events[0]!.data.reason, 'revoked_by_user');
      assert.deepEqual(events[1]!.data.scopes, ['projects:read', 'projects:write']);

      // Pressing Revoke again (a second tab, a double click) is not an error and records nothing more.
      const again = await browser.fetch(revokeAction, form({ csrf_token: csrfToken }));
      assert.equal(again.headers.get('location'), '/account?status=already-revoked');
      assert.equal((await gatehouse.db.query("SELECT count(*)::int AS n FROM audit_events WHERE type IN ('grant.revoked', 'consent.withdrawn')"))[0].n, 2);

      // The application must ask again: the next authorization shows the consent page.
      const consent = await reachConsentPage(gatehouse, { client, resource: RESOURCE, scope: 'projects:read', browser });
      assert.match(consent.page.html, /Allow <strong>Claude &lt;Desktop&gt;<\/strong>/);
    });

    it('signs out with the CSRF token only, and then shows the sign-in page', async () => {
      const browser = new Browser();
      const page = await signInAtAccount(browser);
      const { csrfToken } = accountForms(page);
      await assertErrorPage(await browser.fetch(`${gatehouse.url}/account/sign-out`, form({ csrf_token: 'forged' })), 403, 'a forged sign-out');
      assert.match((await accountPage(browser)).html, /Signed in as/, 'still signed in');

      const out = await browser.fetch(`${gatehouse.url}/account/sign-out`, form({ csrf_token: csrfToken }));
      assert.equal(out.status, 303);
      assert.equal(out.headers.get('location'), '/account?status=signed-out');
      assert.match(out.headers.getSetCookie().join('\n'), /^gatehouse_session=; Max-Age=0; Path=\//m);
      const signedOut = await browser.navigate(`${gatehouse.url}/account?status=signed-out`, () => false);
      assert.ok('html' in signedOut);
      assert.match(signedOut.html, /<h1>Sign in to manage your account<\/h1>/);
      assert.match(signedOut.html, /You are signed out\./);
      await assertErrorPage(await browser.fetch(`${gatehouse.url}/account/sign-out`, form({ csrf_token: csrfToken })), 403, 'the old token after signing out');
    });

    it('shows only the fixed notices, never text from the link', async () => {
      assert.doesNotMatch((await accountPage(new Browser())).html, /role="status"/);
      const response = await fetch(`${gatehouse.url}/account?status=%3Cb%3EYour%20account%20is%20locked%3C%2Fb%3E`);
      const html = await response.text();
      assert.equal(response.status, 200);
      assert.doesNotMatch(html, /locked/);
    });
  });
}

describe('the account page without any sign-in method', () => {
  let gatehouse: RunningGatehouse;

  before(async () => {
    gatehouse = await startGatehouse();
  });
  after(async () => {
    await gatehouse?.close();
  });

  it('says that no sign-in method is configured, and GitHub sign-in is unavailable', async () => {
    const response = await fetch(`${gatehouse.url}/account`);
    assert.equal(response.status, 200);
    const html = await response.text();
    assert.match(html, /<h1>Sign in to manage your account<\/h1>/);
    assert.match(html, /No sign-in method is configured/);
    assert.doesNotMatch(html, /Continue with/);
    await assertErrorPage(await fetch(`${gatehouse.url}/account/login/github`, { redirect: 'manual' }), 503, 'GitHub is not configured');
  });
});
