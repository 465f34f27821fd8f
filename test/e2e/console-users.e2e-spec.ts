import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Browser, devLoginForm, type Page } from '../support/browser.js';
import { createResource, type RunningGatehouse } from '../support/gatehouse.js';
import { assertOAuthError, authorizationUrl, mintTokens, refreshTokens, type TestClient } from '../support/flows.js';
import { CONSOLE_RESOURCE as PROJECTS, auditRows, authorizeAs, csrfOf, devUserId, openPage, postForm, startConsoleGatehouse } from '../support/console.js';

const WIKI = 'https://wiki.example.com/mcp';

interface Tokens {
  refreshToken: string;
  grantId: string;
}

/** The user links of a results table, as the names shown. */
function listedNames(page: Page): string[] {
  return [...page.html.matchAll(/<td><a href="\/console\/users\/[0-9a-f-]{36}">([^<]+)<\/a><\/td>/g)].map((match) => match[1]!);
}

describe('the console’s users section (DEV_LOGIN, CONSOLE_ADMINS=dev:alice)', () => {
  let gatehouse: RunningGatehouse;
  let client: TestClient;
  let projects: { id: string; registration_secret: string };
  let alice: Browser;

  before(async () => {
    ({ gatehouse, resource: projects, client } = await startConsoleGatehouse({ client: { client_name: 'Desk' } }));
    await createResource(gatehouse, { name: 'Acme Wiki', resource: WIKI, scopes: ['wiki:read'] });
    alice = (await signIn('alice')).browser;
  });
  after(async () => {
    await gatehouse?.close();
  });

  /** Development sign-in as `name` through an authorization request for `resource`, and the code exchanged: a live grant. */
  async function signIn(name: string, resource = PROJECTS, browser = new Browser(name)): Promise<{ browser: Browser; tokens: Tokens }> {
    const { tokens: issued } = await authorizeAs(gatehouse, client, name, { resource, scope: resource === PROJECTS ? 'projects:read' : 'wiki:read', browser });
    const grantId = JSON.parse(Buffer.from(String(issued.body.access_token).split('.')[1] ?? '', 'base64url').toString('utf8')).grant_id as string;
    return { browser, tokens: { refreshToken: issued.body.refresh_token as string, grantId } };
  }

  const open = (browser: Browser, path: string) => openPage(gatehouse, browser, path);
  const userId = (login: string) => devUserId(gatehouse, login);
  const audit = (type: string, subject: string) => auditRows(gatehouse, type, subject);

  /** Posts a form of the user's page with the CSRF token it carries; the 303 location. */
  async function change(browser: Browser, user: string, action: string): Promise<string> {
    const page = await open(browser, `/console/users/${user}`);
    const response = await postForm(browser, `${gatehouse.url}/console/users/${user}/${action}`, { csrf_token: csrfOf(page) });
    assert.equal(response.status, 303, await response.text());
    return response.headers.get('location')!;
  }

  async function liveGrants(user: string): Promise<string[]> {
    const rows = (await gatehouse.db.query('SELECT id FROM grants WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id', [user])) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  it('finds users by the start of a login, by provider, and both; and lists the newest without a search', async () => {
    await signIn('carol');
    await signIn('carlos');
    await mintTokens(gatehouse, projects, { client_id: client.client_id, subject: 'product-user-7', scopes: ['projects:read'] });

    const all = await open(alice, '/console/users');
    assert.equal(all.status, 200, all.html);
    assert.match(all.html, /<h2 id="users-results">Newest users<\/h2>/);
    const names = listedNames(all);
    assert.equal(names.length, 4, 'alice, carol, carlos and the product’s user');
    assert.deepEqual(names.slice(1), ['carlos', 'carol', 'alice'], 'newest first');
    assert.match(all.html, /<option value="dev">dev<\/option>/);
    assert.match(all.html, /<option value="external">external<\/option>/);

    const car = await open(alice, '/console/users?q=CAR');
    assert.deepEqual(listedNames(car).sort(), ['carlos', 'carol']);
    assert.match(car.html, /value="CAR"/, 'the term is kept');
    assert.match(car.html, /<code>dev:carol<\/code>/);

    const external = await open(alice, '/console/users?provider=external');
    assert.equal(listedNames(external).length, 1);
    assert.match(external.html, /<option value="external" selected>external<\/option>/);
    assert.match(external.html, /<code>external:[0-9a-f-]{36}:product-user-7<\/code>/);

    assert.deepEqual(listedNames(await open(alice, '/console/users?q=carol&provider=dev')), ['carol']);
    assert.deepEqual(listedNames(await open(alice, '/console/users?q=carol&provider=external')), []);
    assert.match((await open(alice, '/console/users?q=nobody')).html, /No user matches\./);

    const aliceRow = /<tr>\s*<td><a href="\/console\/users\/[0-9a-f-]{36}">alice<\/a><\/td>[\s\S]*?<\/tr>/.exec(all.html)?.[0];
    assert.ok(aliceRow);
    assert.match(aliceRow, /<td>enabled<\/td>\s*<td>1<\/td>\s*<td>admin<\/td>/, 'status, grants count and role');
  });

  it('shows a user’s identities and grants; revoking one grant fails its refresh, leaves the other working, and names the operator', async () => {
    const carol = await userId('carol');
    const first = (await signIn('carol', PROJECTS)).tokens;
    const second = (await signIn('carol', WIKI)).tokens;

    const page = await open(alice, `/console/users/${carol}`);
    assert.equal(page.status, 200, page.html);
    assert.match(page.html, /<h1>User carol<\/h1>/);
    assert.match(page.html, /<code>dev:carol<\/code>/);
    assert.match(page.html, /<dt>Last sign-in<\/dt><dd><time/);
    assert.match(page.html, /Acme Projects/);
    assert.match(page.html, /Acme Wiki/);
    assert.match(page.html, new RegExp(`action="/console/users/${carol}/grants/${first.grantId}/revoke"`));

    const location = await change(alice, carol, `grants/${first.grantId}/revoke`);
    assert.equal(location, `/console/users/${carol}?status=revoked`);
    assert.match((await open(alice, location)).html, /Grant revoked:/);
    assertOAuthError(await refreshTokens(gatehouse, { client }, first.refreshToken), 400, 'invalid_grant', 'the revoked grant’s refresh');
    const refreshed = await refreshTokens(gatehouse, { client }, second.refreshToken);
    assert.equal(refreshed.status, 200, refreshed.text);

    const aliceId = await userId('alice');
    const revoked = (await audit('grant.revoked', carol)).filter((event) => event.data.grant_id === first.grantId);
    assert.deepEqual(
      revoked.map((event) => [event.actor_kind, event.actor_id, event.data.reason]),
      [['user', aliceId, 'revoked_by_admin']],
    );
    const withdrawn = (await audit('consent.withdrawn', carol)).at(-1);
    assert.deepEqual([withdrawn?.actor_kind, withdrawn?.actor_id, withdrawn?.data.grant_id], ['user', aliceId, first.grantId]);

    assert.match(await change(alice, carol, `grants/${first.grantId}/revoke`), /status=already-revoked$/, 'twice: nothing more');
    const otherUsers = await postForm(alice, `${gatehouse.url}/console/users/${await userId('carlos')}/grants/${second.grantId}/revoke`, { csrf_token: csrfOf(page) });
    assert.equal(otherUsers.status, 404, 'a grant of another user is unknown here');
    assert.ok((await liveGrants(carol)).includes(second.grantId));
  });

  it('revokes all of a user’s grants at once, recorded as the operator’s', async () => {
    const carlos = await userId('carlos');
    const held = (await signIn('carlos', WIKI)).tokens;
    assert.ok((await liveGrants(carlos)).length >= 2);
    assert.equal(await change(alice, carlos, 'grants/revoke-all'), `/console/users/${carlos}?status=revoked-all`);
    assert.deepEqual(await liveGrants(carlos), []);
    assertOAuthError(await refreshTokens(gatehouse, { client }, held.refreshToken), 400, 'invalid_grant');
    const aliceId = await userId('alice');
    const event = (await audit('admin.grants_revoked', carlos)).at(-1);
    assert.deepEqual([event?.actor_kind, event?.actor_id], ['user', aliceId]);
    assert.ok((await audit('grant.revoked', carlos)).every((row) => row.actor_kind === 'user' && row.actor_id === aliceId));
    assert.equal(await change(alice, carlos, 'grants/revoke-all'), `/console/users/${carlos}?status=nothing-to-revoke`);
    assert.match((await open(alice, `/console/users/${carlos}`)).html, /No grant: no client holds tokens for this user\./);
  });

  it('disables a user: refresh fails and sign-in is refused; enabling restores sign-in', async () => {
    const { tokens } = await signIn('dora');
    const dora = await userId('dora');
    assert.equal(await change(alice, dora, 'disable'), `/console/users/${dora}?status=disabled`);
    const page = await open(alice, `/console/users/${dora}?status=disabled`);
    assert.match(page.html, /User disabled:/);
    assert.match(page.html, /<span class="status-disabled">disabled<\/span>/);
    assert.match(page.html, new RegExp(`action="/console/users/${dora}/enable"`));
    assertOAuthError(await refreshTokens(gatehouse, { client }, tokens.refreshToken), 400, 'invalid_grant', 'refresh of a disabled user');

    const refused = await devSignIn('dora');
    assert.equal(refused.status, 403);
    assert.match(refused.html, /disabled/);

    const aliceId = await userId('alice');
    const disabled = await audit('admin.user_disabled', dora);
    assert.deepEqual(disabled.map((event) => [event.actor_kind, event.actor_id, event.data.grants_revoked]), [['user', aliceId, 1]]);
    assert.deepEqual((await audit('grant.revoked', dora)).map((event) => [event.actor_kind, event.actor_id, event.data.reason]), [['user', aliceId, 'user_disabled']]);

    assert.equal(await change(alice, dora, 'enable'), `/console/users/${dora}?status=enabled`);
    assert.deepEqual((await audit('admin.user_enabled', dora)).map((event) => [event.actor_kind, event.actor_id]), [['user', aliceId]]);
    await signIn('dora');
    assertOAuthError(await refreshTokens(gatehouse, { client }, tokens.refreshToken), 400, 'invalid_grant', 'what disabling revoked stays revoked');
  });

  /** Development sign-in on a fresh browser, stopping at the page after the form (a refusal, or consent). */
  async function devSignIn(name: string): Promise<Page> {
    const browser = new Browser();
    const built = authorizationUrl(gatehouse.url, { client, resource: PROJECTS, scope: 'projects:read' });
    const signInPage = await open(browser, new URL(built.url).pathname + new URL(built.url).search);
    const form = devLoginForm(signInPage);
    assert.ok(form, 'the sign-in page offers development sign-in');
    const after = await browser.submitDevLogin(form, name, (location) => location.startsWith(built.redirectUri));
    assert.ok(!('stoppedAt' in after), 'no code for a disabled user');
    return after;
  }

  it('refuses to let an operator disable themselves, and offers no such button', async () => {
    const aliceId = await userId('alice');
    const page = await open(alice, `/console/users/${aliceId}`);
    assert.doesNotMatch(page.html, /\/disable"/);
    assert.match(page.html, /You cannot disable yourself/);
    const response = await postForm(alice, `${gatehouse.url}/console/users/${aliceId}/disable`, { csrf_token: csrfOf(page) });
    assert.equal(response.status, 409);
    assert.match(await response.text(), /lock yourself out/);
    assert.equal((await gatehouse.admin('GET', `/admin/users/${aliceId}`)).body.disabled, false);
    assert.deepEqual(await audit('admin.user_disabled', aliceId), []);
  });

  it('shows a viewer everything but no form, and refuses their posts and posts without a CSRF token, changing nothing', async () => {
    const { browser: vera } = await signIn('vera');
    const veraId = await userId('vera');
    assert.equal((await gatehouse.admin('PUT', `/admin/operators/${veraId}`, { role: 'viewer' })).status, 200);
    const carol = await userId('carol');
    const held = await liveGrants(carol);
    const grant = held[0];
    assert.ok(grant, 'carol still holds a grant');

    const list = await open(vera, '/console/users');
    assert.equal(list.status, 200);
    assert.ok(listedNames(list).includes('carol'));
    const page = await open(vera, `/console/users/${carol}`);
    assert.equal(page.status, 200);
    assert.match(page.html, /Acme Wiki/);
    assert.doesNotMatch(page.html, /method="post" action="\/console\/users/, 'no change form');

    const csrf = csrfOf(page); // the sign-out form's
    const before = await gatehouse.db.query('SELECT count(*)::int AS n FROM audit_events');
    for (const action of [`grants/${grant}/revoke`, 'grants/revoke-all', 'disable', 'enable']) {
      const asViewer = await postForm(vera, `${gatehouse.url}/console/users/${carol}/${action}`, { csrf_token: csrf });
      assert.equal(asViewer.status, 403, action);
      assert.match(await asViewer.text(), /Only a console admin can change this server/);
      for (const form of [{}, { csrf_token: 'x'.repeat(43) }] as Array<Record<string, string>>) {
        const withoutToken = await postForm(alice, `${gatehouse.url}/console/users/${carol}/${action}`, form);
        assert.equal(withoutToken.status, 403, `${action} ${JSON.stringify(form)}`);
      }
    }
    assert.deepEqual(await liveGrants(carol), held);
    assert.equal((await gatehouse.admin('GET', `/admin/users/${carol}`)).body.disabled, false);
    assert.deepEqual(await gatehouse.db.query('SELECT count(*)::int AS n FROM audit_events'), before, 'nothing recorded');
  });

  it('shuts a disabled operator out of the console at once, though their session lives on', async () => {
    const { browser: vera } = await signIn('vera');
    const veraId = await userId('vera');
    assert.equal((await open(vera, '/console/users')).status, 200);
    assert.equal(await change(alice, veraId, 'disable'), `/console/users/${veraId}?status=disabled`);
    const after = await open(vera, '/console/users');
    assert.match(after.html, /Sign in to the console/);
    assert.doesNotMatch(after.html, /Users found|Newest users/);
    assert.equal((await postForm(vera, `${gatehouse.url}/console/users/${veraId}/enable`, { csrf_token: 'x'.repeat(43) })).status, 403);
    assert.equal(await change(alice, veraId, 'enable'), `/console/users/${veraId}?status=enabled`);
  });

  it('answers an unknown user with 404', async () => {
    assert.equal((await open(alice, '/console/users/00000000-0000-4000-8000-000000000000')).status, 404);
    assert.equal((await open(alice, '/console/users/not-a-user')).status, 404);
  });
});
