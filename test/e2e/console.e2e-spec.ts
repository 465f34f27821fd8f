import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser, type Page } from '../support/browser.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import type { TestClient } from '../support/flows.js';
import { auditRows, csrfOf, devUserId, openPage, postForm, signInAs, startConsoleGatehouse } from '../support/console.js';

function countOf(page: Page, label: string): number {
  const value = new RegExp(`<dt>${label}</dt><dd>(\\d+)</dd>`).exec(page.html)?.[1];
  assert.ok(value !== undefined, `the count ${label} is shown`);
  return Number(value);
}

describe('the operator console (DEV_LOGIN, CONSOLE_ADMINS=dev:alice)', () => {
  let gatehouse: RunningGatehouse;
  let client: TestClient;

  before(async () => {
    ({ gatehouse, client } = await startConsoleGatehouse());
    const preRegistered = await gatehouse.admin('POST', '/admin/clients', { client_name: 'Back office', redirect_uris: ['https://office.example.com/cb'], token_endpoint_auth_method: 'none' });
    assert.equal(preRegistered.status, 201, JSON.stringify(preRegistered.body));
  });
  after(async () => {
    await gatehouse?.close();
  });

  /** Signs `name` in through development sign-in on an authorization request (and exchanges the code: a live grant). */
  const signIn = (name: string) => signInAs(gatehouse, client, name);
  const open = (browser: Browser, path?: string) => openPage(gatehouse, browser, path);
  const userId = (login: string) => devUserId(gatehouse, login);
  const audit = (type: string) => auditRows(gatehouse, type);

  async function publishedKids(): Promise<string[]> {
    const jwks = (await (await fetch(`${gatehouse.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    return jwks.keys.map((key) => key.kid).sort();
  }

  it('shows the sign-in choices to a browser that is not signed in', async () => {
    const page = await open(new Browser());
    assert.equal(page.status, 200);
    assert.match(page.html, /<h1>Sign in to the console<\/h1>/);
    assert.doesNotMatch(page.html, /Rotate keys/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  });

  it('makes alice, named in CONSOLE_ADMINS, an admin at her first visit; she sees the counts of what exists', async () => {
    const alice = await signIn('alice');
    const page = await open(alice);
    assert.equal(page.status, 200, page.html);
    assert.match(page.html, /<span class="who">alice, admin<\/span>/);
    assert.equal(countOf(page, 'Resource servers'), 1);
    assert.equal(countOf(page, 'Dynamic clients'), 1);
    assert.equal(countOf(page, 'Metadata-document clients'), 0);
    assert.equal(countOf(page, 'Pre-registered clients'), 1);
    assert.equal(countOf(page, 'Users'), 1);
    assert.equal(countOf(page, 'Live grants'), 1);
    assert.match(page.html, /Development sign-in is on \(DEV_LOGIN\)/, 'the DEV_LOGIN warning');
    assert.match(page.html, /sign-in policy of Acme Projects admits everyone/, 'the open policy warning');
    assert.match(page.html, /No identity provider is configured/, 'no GitHub and no OIDC provider');
    const keys = await open(alice, '/console/keys');
    assert.match(keys.html, /<td>active<\/td>/);
    assert.match(keys.html, /<td>next<\/td>/);

    const granted = await audit('operator.granted');
    assert.equal(granted.length, 1);
    assert.deepEqual(granted[0], { type: 'operator.granted', actor_kind: 'admin', actor_id: 'config', subject: await userId('alice'), data: { role: 'admin', previous_role: null } });
    await open(alice);
    assert.equal((await audit('operator.granted')).length, 1, 'granted once, not at every visit');
  });

  it('lets alice rotate the keys: the JWKS publishes a new kid and the event names her', async () => {
    const alice = await signIn('alice');
    const before = await publishedKids();
    const page = await open(alice);
    const response = await postForm(alice, `${gatehouse.url}/console/keys/rotate`, { csrf_token: csrfOf(page) });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), '/console/keys?status=rotated');
    const after = await publishedKids();
    const fresh = after.filter((kid) => !before.includes(kid));
    assert.equal(fresh.length, 1, `one new kid: ${before} → ${after}`);
    const rotated = await audit('signing_key.rotated');
    assert.equal(rotated.length, 1);
    assert.equal(rotated[0]!.actor_kind, 'user');
    assert.equal(rotated[0]!.actor_id, await userId('alice'));
    assert.equal(rotated[0]!.data.next, fresh[0]);
    assert.match((await open(alice, '/console/keys?status=rotated')).html, /Keys rotated\./);
  });

  it('refuses a post without or with a wrong CSRF token, and changes nothing', async () => {
    const alice = await signIn('alice');
    await open(alice);
    const before = await publishedKids();
    for (const form of [{}, { csrf_token: 'x'.repeat(43) }] as Array<Record<string, string>>) {
      const response = await postForm(alice, `${gatehouse.url}/console/keys/rotate`, form);
      assert.equal(response.status, 403, JSON.stringify(form));
      assert.match(await response.text(), /Request not accepted/);
    }
    const mallory = await signIn('mallory');
    const mallorysToken = (await mallory.fetch(`${gatehouse.url}/account`).then((response) => response.text())).match(/name="csrf_token" value="([^"]+)"/)?.[1];
    assert.ok(mallorysToken);
    assert.equal((await postForm(alice, `${gatehouse.url}/console/keys/rotate`, { csrf_token: mallorysToken })).status, 403, 'the token of another person’s session');
    assert.deepEqual(await publishedKids(), before);
    assert.equal((await audit('signing_key.rotated')).length, 1);
  });

  it('answers a signed-in person without a role with 403, and lets a viewer look but not change', async () => {
    const bob = await signIn('bob');
    const refused = await open(bob);
    assert.equal(refused.status, 403);
    assert.match(refused.html, /Not an operator/);
    const csrf = (await bob.fetch(`${gatehouse.url}/account`).then((response) => response.text())).match(/name="csrf_token" value="([^"]+)"/)?.[1];
    assert.ok(csrf, 'bob has a session CSRF token (from his account page)');
    assert.equal((await postForm(bob, `${gatehouse.url}/console/keys/rotate`, { csrf_token: csrf })).status, 403, 'no role: refused');

    const bobId = await userId('bob');
    const granted = await gatehouse.admin('PUT', `/admin/operators/${bobId}`, { role: 'viewer' });
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
    assert.equal(granted.body.role, 'viewer');
    assert.equal(granted.body.granted_by, 'api');

    const page = await open(bob);
    assert.equal(page.status, 200);
    assert.match(page.html, /<span class="who">[^<]*, viewer \(you can look, not change\)<\/span>/);
    assert.doesNotMatch(page.html, /keys\/rotate/);
    assert.equal(countOf(page, 'Users'), 3, 'alice, mallory and bob');
    const before = await publishedKids();
    const refusedPost = await postForm(bob, `${gatehouse.url}/console/keys/rotate`, { csrf_token: csrfOf(page) });
    assert.equal(refusedPost.status, 403);
    assert.match(await refusedPost.text(), /Only a console admin can change this server/);
    assert.deepEqual(await publishedKids(), before);
    assert.equal((await audit('signing_key.rotated')).length, 1, 'no rotation recorded');

    const events = await audit('operator.granted');
    assert.deepEqual(events.at(-1), { type: 'operator.granted', actor_kind: 'admin', actor_id: 'api', subject: bobId, data: { role: 'viewer', previous_role: null } });
  });

  it('lists, changes and revokes roles through the admin API, each recorded, and refuses bad input', async () => {
    const bobId = await userId('bob');
    const listed = await gatehouse.admin('GET', '/admin/operators');
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.map((operator: { display_name: string; role: string; granted_by: string }) => [operator.display_name, operator.role, operator.granted_by]),
      [
        ['alice', 'admin', 'config'],
        ['bob', 'viewer', 'api'],
      ],
    );
    assert.deepEqual(listed.body[1].identities, [{ provider: 'dev', login: 'bob', email: null }]);

    const promoted = await gatehouse.admin('PUT', `/admin/operators/${bobId}`, { role: 'admin' });
    assert.equal(promoted.status, 200);
    assert.deepEqual((await audit('operator.granted')).at(-1)?.data, { role: 'admin', previous_role: 'viewer' });

    assert.equal((await gatehouse.admin('PUT', `/admin/operators/${bobId}`, { role: 'owner' })).status, 400);
    assert.equal((await gatehouse.admin('PUT', `/admin/operators/${bobId}`, { role: 'admin', extra: 1 })).status, 400);
    assert.equal((await gatehouse.admin('PUT', '/admin/operators/00000000-0000-4000-8000-000000000000', { role: 'admin' })).status, 404);
    assert.equal((await gatehouse.admin('PUT', '/admin/operators/not-a-user', { role: 'admin' })).status, 404);
    assert.equal(await gatehouse.count('console_operators'), 2, 'refused requests changed nothing');

    assert.equal((await gatehouse.admin('DELETE', `/admin/operators/${bobId}`)).status, 204);
    assert.equal((await gatehouse.admin('DELETE', `/admin/operators/${bobId}`)).status, 404);
    const revoked = await audit('operator.revoked');
    assert.deepEqual(revoked, [{ type: 'operator.revoked', actor_kind: 'admin', actor_id: 'api', subject: bobId, data: { role: 'admin' } }]);
    assert.equal((await open(await signIn('bob'))).status, 403, 'bob is no operator any more');
  });

  it('signs out from the console back to its sign-in page', async () => {
    const alice = await signIn('alice');
    const page = await open(alice);
    const response = await postForm(alice, `${gatehouse.url}/console/sign-out`, { csrf_token: csrfOf(page) });
    assert.equal(response.status, 303);
    const after = await open(alice, response.headers.get('location')!);
    assert.match(after.html, /Sign in to the console/);
    assert.match(after.html, /You are signed out\./);
  });
});

describe('signing in to the console with GitHub (CONSOLE_ADMINS=github:octocat)', () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({ github, env: { CONSOLE_ADMINS: 'github:OctoCat' } });
  });
  after(async () => {
    await gatehouse?.close();
    await github?.stop();
  });

  it('starts at /console/login/github and returns to the console, where the named person is admin', async () => {
    const browser = new Browser();
    const signIn = await browser.navigate(`${gatehouse.url}/console`, () => false);
    assert.ok('html' in signIn);
    const link = /href="(\/console\/login\/github)"/.exec(signIn.html)?.[1];
    assert.ok(link, 'the console sign-in offers GitHub, starting at the console');
    const page = await browser.navigate(new URL(link, signIn.url).href, () => false);
    assert.ok('html' in page);
    assert.equal(new URL(page.url).pathname, '/console', 'the sign-in returns to the console');
    assert.equal(page.status, 200, page.html);
    assert.match(page.html, /<span class="who">The Octocat, admin<\/span>/);
    assert.doesNotMatch(page.html, /No identity provider is configured/, 'GitHub is configured');
  });

  it('answers someone CONSOLE_ADMINS does not name with 403 after sign-in', async () => {
    github.nextUser = { id: 5151, login: 'hubot', name: 'Hubot' };
    const browser = new Browser();
    const page = await browser.navigate(`${gatehouse.url}/console/login/github`, () => false);
    assert.ok('html' in page);
    assert.equal(new URL(page.url).pathname, '/console');
    assert.equal(page.status, 403);
    assert.match(page.html, /Not an operator/);
  });
});
