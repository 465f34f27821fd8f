import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { FakeGithub, type GithubUser } from '../fakes/fake-github.js';
import { Browser, type Page } from '../support/browser.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, databaseCounts, exchangeCode, obtainCode, registerClient, type BuiltAuthorizationRequest, type TestClient } from '../support/flows.js';

const BY_ORG = 'https://org.example.com/mcp';
const BY_TEAM = 'https://team.example.com/mcp';
const BY_EMAIL = 'https://email.example.com/mcp';
const BY_USER = 'https://user.example.com/mcp';
const NO_POLICY = 'https://new.example.com/mcp';
const OPEN = 'https://open.example.com/mcp';
const OIDC_ONLY = 'https://oidc-only.example.com/mcp';

interface Attempt {
  request: BuiltAuthorizationRequest;
  browser: Browser;
  /** The page the person ended on, or where the browser was sent at the client. */
  step: Page | { stoppedAt: string };
}

function user(overrides: Partial<GithubUser> & Pick<GithubUser, 'id' | 'login'>): GithubUser {
  return { name: overrides.login, ...overrides };
}

function unescapeHtml(value: string): string {
  return value.replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

describe('sign-in policy per resource server (fake GitHub)', () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;
  let client: TestClient;

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({ github });
    const resource = (name: string, url: string, signIn: unknown) => createResource(gatehouse, { name, resource: url, scopes: ['tools:read'], default_scopes: ['tools:read'], sign_in: signIn });
    await resource('Org MCP', BY_ORG, { providers: ['github'], allow: { github_organizations: ['Acme'] } });
    await resource('Team MCP', BY_TEAM, { providers: null, allow: { github_teams: ['acme/platform'] } });
    await resource('Email MCP', BY_EMAIL, { providers: null, allow: { email_domains: ['acme.com'] } });
    await resource('User MCP', BY_USER, { providers: null, allow: { github_users: ['OctoCat'] } });
    await resource('Open MCP', OPEN, { providers: null, allow: 'everyone' });
    await resource('OIDC MCP', OIDC_ONLY, { providers: ['oidc:okta'], allow: 'everyone' });
    // Created without a policy, as an administrator would: nobody may sign in yet.
    const created = await gatehouse.admin('POST', '/admin/resources', { name: 'New MCP', resource: NO_POLICY, scopes: ['tools:read'], default_scopes: ['tools:read'] });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.sign_in, { providers: null, allow: {} });
    client = await registerClient(gatehouse, { client_name: 'Policy Client' });
  });
  after(async () => {
    await gatehouse?.close();
    await github?.stop();
  });

  /** Starts an authorization and clicks "Continue with GitHub" as `person`; stops at the client or on a page. */
  async function attempt(resource: string, person: GithubUser, browser = new Browser()): Promise<Attempt> {
    github.nextUser = person;
    const request = authorizationUrl(gatehouse.url, { client, resource });
    const atClient = (location: string) => location.startsWith(request.redirectUri);
    let step = await browser.navigate(request.url, atClient);
    const link = 'stoppedAt' in step ? undefined : /href="([^"]*\/login\/github)"/.exec(step.html)?.[1];
    if (link && !('stoppedAt' in step)) step = await browser.navigate(new URL(link, step.url).href, atClient);
    return { request, browser, step };
  }

  function lastScopes(): string[] {
    return (github.authorizeRequests.at(-1)?.searchParams.get('scope') ?? '').split(/[ ,]+/).filter(Boolean).sort();
  }

  async function refusals(login: string): Promise<Array<{ subject: string | null; client_id: string; resource: string; outcome: string; data: Record<string, unknown> }>> {
    return (await gatehouse.db.query(`SELECT subject, client_id, resource, outcome, data FROM audit_events WHERE type = 'login.refused' AND data->>'login' = $1 ORDER BY seq`, [login])) as never;
  }

  /** The refusal page: 403, names the account, and its Return link carries access_denied with state and iss. */
  function assertRefusedPage(result: Attempt, resourceName: string, account: string): URL {
    assert.ok(!('stoppedAt' in result.step), `expected the refusal page, the browser went to ${'stoppedAt' in result.step ? result.step.stoppedAt : ''}`);
    const page = result.step;
    assert.equal(page.status, 403);
    assert.match(page.html, new RegExp(`You can't use ${resourceName} with this account`));
    assert.match(page.html, new RegExp(`signed in with GitHub as <strong>${account}</strong>`));
    assert.match(page.html, /sign out of GitHub/);
    const href = /<a class="button primary" href="([^"]+)">Return to Policy Client<\/a>/.exec(page.html)?.[1];
    assert.ok(href, 'a way back to the client');
    const back = new URL(unescapeHtml(href));
    assert.ok(back.href.startsWith(result.request.redirectUri));
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), result.request.state);
    assert.equal(back.searchParams.get('iss'), gatehouse.url);
    assert.equal(back.searchParams.get('code'), null);
    return back;
  }

  it('admits a member of an allowed organisation, asking GitHub for read:org', async () => {
    github.nextUser = user({ id: 501, login: 'member', orgs: ['other', 'ACME'] });
    const code = await obtainCode(gatehouse, { client, resource: BY_ORG });
    assert.deepEqual(lastScopes(), ['read:org']);
    assert.equal((await exchangeCode(gatehouse, { client }, code)).status, 200);
  });

  it('refuses someone outside the organisation: a page naming the account, access_denied for the client, an event, no user, no code', async () => {
    const before = await databaseCounts(gatehouse);
    const result = await attempt(BY_ORG, user({ id: 502, login: 'outsider', orgs: ['other'], teams: ['other/platform'] }));
    assert.deepEqual(lastScopes(), ['read:org']);
    assertRefusedPage(result, 'Org MCP', 'outsider');
    const after = await databaseCounts(gatehouse);
    assert.equal(after.users, before.users, 'no user is created for a refused person');
    assert.equal(after.user_identities, before.user_identities);
    assert.equal(after.authorization_codes, before.authorization_codes);
    assert.equal(after['interactions.completed'], before['interactions.completed']! + 1, 'the interaction is over: no code can come from it');
    const events = await refusals('outsider');
    assert.equal(events.length, 1);
    assert.deepEqual(events[0], { subject: null, client_id: client.client_id, resource: BY_ORG, outcome: 'denied', data: { provider: 'github', login: 'outsider', reason: 'no_rule_matched' } });

    // Going back into the refused interaction gets nowhere: it is finished.
    const interactionId = result.browser.visited.map((visit) => /\/interaction\/([A-Za-z0-9_-]{32})\//.exec(visit)?.[1]).find(Boolean);
    assert.ok(interactionId);
    const resumed = await result.browser.navigate(`${gatehouse.url}/interaction/${interactionId}`, () => false);
    assert.ok(!('stoppedAt' in resumed));
    assert.equal(resumed.status, 400);
    assert.match(resumed.html, /expired or was already completed/);
  });

  it('admits a member of an allowed team and refuses a member of another team of the same organisation', async () => {
    github.nextUser = user({ id: 503, login: 'platformer', orgs: ['acme'], teams: ['Acme/Platform'] });
    await obtainCode(gatehouse, { client, resource: BY_TEAM });
    assert.deepEqual(lastScopes(), ['read:org']);

    const result = await attempt(BY_TEAM, user({ id: 504, login: 'salesperson', orgs: ['acme'], teams: ['acme/sales'] }));
    assertRefusedPage(result, 'Team MCP', 'salesperson');
    assert.equal((await refusals('salesperson'))[0]?.data.reason, 'no_rule_matched');
  });

  it('admits a verified email of an allowed domain and refuses an unverified one, asking GitHub for user:email', async () => {
    github.nextUser = user({ id: 505, login: 'verified', emails: [{ email: 'v@Acme.com', verified: true, primary: true }] });
    await obtainCode(gatehouse, { client, resource: BY_EMAIL });
    assert.deepEqual(lastScopes(), ['user:email']);
    const stored = (await gatehouse.db.query(`SELECT email, email_verified FROM user_identities WHERE provider = 'github' AND subject = '505'`)) as unknown[];
    assert.deepEqual(stored, [{ email: 'v@Acme.com', email_verified: true }]);

    const result = await attempt(BY_EMAIL, user({ id: 506, login: 'unverified', emails: [{ email: 'u@acme.com', verified: false, primary: true }] }));
    assertRefusedPage(result, 'Email MCP', 'unverified');
  });

  it('asks GitHub for no scope when the policy names users only', async () => {
    github.nextUser = user({ id: 507, login: 'octocat', orgs: ['acme'] });
    github.apiCalls.length = 0;
    await obtainCode(gatehouse, { client, resource: BY_USER });
    assert.deepEqual(lastScopes(), []);
    assert.deepEqual(github.apiCalls, [], 'nothing asked beyond the profile');
  });

  it('refuses everyone on a new resource server until a policy is set', async () => {
    const result = await attempt(NO_POLICY, user({ id: 508, login: 'anyone', orgs: ['acme'] }));
    assertRefusedPage(result, 'New MCP', 'anyone');
    assert.equal((await refusals('anyone'))[0]?.data.reason, 'no_rules');
  });

  it('does not let a session from an open resource stand in for signing in to a restricted one', async () => {
    const browser = new Browser();
    github.nextUser = user({ id: 509, login: 'wanderer', orgs: ['other'] });
    await obtainCode(gatehouse, { client, resource: OPEN, browser });
    const result = await attempt(BY_ORG, user({ id: 509, login: 'wanderer', orgs: ['other'] }), browser);
    assert.ok(browser.pages.some((page) => /Sign in to continue/.test(page.html) && page.url.includes('/interaction/')), 'asked to sign in again');
    assertRefusedPage(result, 'Org MCP', 'wanderer');
  });

  it('offers only the providers the policy allows, and refuses a direct start with another', async () => {
    const request = authorizationUrl(gatehouse.url, { client, resource: OIDC_ONLY });
    const browser = new Browser();
    const page = await browser.navigate(request.url, () => false);
    assert.ok(!('stoppedAt' in page));
    assert.doesNotMatch(page.html, /login\/github"/);
    const started = await browser.navigate(`${page.url}/login/github`, () => false);
    assert.ok(!('stoppedAt' in started));
    assert.equal(started.status, 403);
    assert.match(started.html, /does not accept sign-in with GitHub/);
  });

  it('shows a provider error page, not a 500, when GitHub’s API fails, and creates nobody', async () => {
    const before = await databaseCounts(gatehouse);
    github.apiFailureNext = 502;
    const result = await attempt(BY_ORG, user({ id: 510, login: 'unlucky', orgs: ['acme'] }));
    assert.ok(!('stoppedAt' in result.step));
    assert.equal(result.step.status, 502);
    assert.match(result.step.html, /GitHub sign-in failed/);
    const after = await databaseCounts(gatehouse);
    assert.equal(after.users, before.users);
  });

  it('refuses a malformed policy with a 400 that says what is wrong, and changes nothing', async () => {
    const before = await gatehouse.count('resource_servers');
    const created = await gatehouse.admin('POST', '/admin/resources', { name: 'Bad', resource: 'https://bad.example.com/mcp', scopes: ['a'], sign_in: { allow: { github_orgs: ['acme'] } } });
    assert.equal(created.status, 400);
    assert.equal(created.body.error, 'invalid_request');
    assert.match(created.body.error_description, /unknown rules: github_orgs/);
    assert.equal(await gatehouse.count('resource_servers'), before);

    const listed = (await gatehouse.admin('GET', '/admin/resources')).body as Array<{ id: string; resource: string; sign_in: unknown }>;
    const byOrg = listed.find((resource) => resource.resource === BY_ORG)!;
    const patched = await gatehouse.admin('PATCH', `/admin/resources/${byOrg.id}`, { name: 'Renamed', sign_in: { providers: [], allow: 'everyone' } });
    assert.equal(patched.status, 400);
    assert.match(patched.body.error_description, /providers must be null/);
    const after = (await gatehouse.admin('GET', `/admin/resources/${byOrg.id}`)).body as { name: string; sign_in: unknown };
    assert.equal(after.name, 'Org MCP');
    assert.deepEqual(after.sign_in, { providers: ['github'], allow: { github_organizations: ['acme'] } });
  });

  it('pages through GitHub’s lists (per_page=100)', async () => {
    const teams = Array.from({ length: 150 }, (_, i) => `acme/team-${i}`).concat('acme/platform');
    github.nextUser = user({ id: 511, login: 'busy', orgs: ['acme'], teams });
    github.apiCalls.length = 0;
    await obtainCode(gatehouse, { client, resource: BY_TEAM });
    assert.deepEqual(github.apiCalls.filter((call) => call.startsWith('/user/teams')), ['/user/teams?page=1', '/user/teams?page=2']);
  });
});
