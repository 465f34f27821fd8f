import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Browser, consentForm, type Page } from '../support/browser.js';
import { createResource, MemoryLogger, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { auditEvents } from '../support/flows.js';
import { FakeResourceServer } from '../support/resource-server.js';
import { InMemoryOAuthProvider } from '../support/sdk-provider.js';
import { runCli } from '../support/processes.js';
import { seedPglite } from '../support/pglite-template.js';
import { newUpstreamUser, UpstreamOidc } from '../fakes/upstream-oidc.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLIENT_SECRET = 'upstream-client-secret-0123456789';

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`sign-in through an upstream OpenID Connect provider (oidc-provider, ${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let gatehouse: RunningGatehouse;
    let upstream: UpstreamOidc;
    /** Another provider that knows Gatehouse's client too: the source of a code from the wrong issuer. */
    let other: UpstreamOidc;
    let mcp: FakeResourceServer;
    const logs = new MemoryLogger();
    let redirectSeq = 0;

    before(async () => {
      gatehouse = await startGatehouse({ database, logger: logs });
      const client = { client_id: 'gatehouse', client_secret: CLIENT_SECRET, redirect_uris: [`${gatehouse.url}/login/oidc/corp/callback`] };
      upstream = await new UpstreamOidc([client]).start();
      other = await new UpstreamOidc([client]).start();
      mcp = await new FakeResourceServer(gatehouse.url, ['tools:read']).start();
      await createResource(gatehouse, { resource: mcp.resource, scopes: ['tools:read'], default_scopes: ['tools:read'] });
      const created = await gatehouse.admin('POST', '/admin/identity-providers', {
        id: 'corp',
        display_name: 'Corp SSO',
        issuer: upstream.issuer,
        client_id: 'gatehouse',
        client_secret: CLIENT_SECRET,
        scopes: ['openid', 'email', 'profile', 'groups'],
        groups_claim: 'groups',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    });

    after(async () => {
      await gatehouse?.close();
      await mcp?.stop();
      await upstream?.stop();
      await other?.stop();
    });

    /** A public SDK client that has been sent to Gatehouse's authorization endpoint, for `serverUrl`. */
    async function sdkClient(serverUrl = mcp.resource, clientName = 'SDK OIDC client'): Promise<{ provider: InMemoryOAuthProvider; redirectUrl: string }> {
      const redirectUrl = `https://sdk-${++redirectSeq}.example.com/callback`;
      const provider = new InMemoryOAuthProvider(redirectUrl, {
        client_name: clientName,
        redirect_uris: [redirectUrl],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      });
      assert.equal(await auth(provider, { serverUrl }), 'REDIRECT');
      return { provider, redirectUrl };
    }

    /** Opens the sign-in page and returns where "Continue with Corp SSO" starts. */
    async function corpStart(browser: Browser, authorizationUrl: string): Promise<string> {
      const page = await browser.navigate(authorizationUrl, () => false);
      assert.ok(!('stoppedAt' in page));
      assert.match(page.html, /Continue with Corp SSO/);
      const href = /href="([^"]*\/login\/oidc\/corp)"/.exec(page.html)?.[1];
      assert.ok(href, 'the sign-in page offers Corp SSO');
      return new URL(href, page.url).href;
    }

    /** The provider's authorization URL Gatehouse sends the browser to (the state cookie is now in the browser). */
    async function upstreamAuthorizationUrl(browser: Browser, start: string): Promise<URL> {
      const response = await browser.fetch(start);
      assert.equal(response.status, 302);
      return new URL(response.headers.get('location')!);
    }

    function asPage(step: Page | { stoppedAt: string }): Page {
      assert.ok(!('stoppedAt' in step), `expected a page, went to ${'stoppedAt' in step ? step.stoppedAt : ''}`);
      return step;
    }

    async function lastFailure(): Promise<unknown> {
      return (await auditEvents(gatehouse, 'login.failed')).at(-1)?.data;
    }

    it('an MCP SDK client completes its flow with the person signing in through the upstream provider', async () => {
      const person = newUpstreamUser();
      upstream.nextUser = person;
      const { provider, redirectUrl } = await sdkClient();
      const browser = new Browser();
      const atClient = (location: string) => location.startsWith(redirectUrl);

      const start = await corpStart(browser, provider.authorizationUrl!.href);
      const upstreamUrl = await upstreamAuthorizationUrl(browser, start);
      assert.equal(upstreamUrl.origin, upstream.issuer);
      assert.equal(upstreamUrl.searchParams.get('code_challenge_method'), 'S256');
      assert.ok(upstreamUrl.searchParams.get('nonce') && upstreamUrl.searchParams.get('state'));
      assert.equal(upstreamUrl.searchParams.get('redirect_uri'), `${gatehouse.url}/login/oidc/corp/callback`);

      const consent = asPage(await browser.navigate(upstreamUrl.href, atClient));
      const form = consentForm(consent);
      assert.ok(form, `expected the consent page, got ${consent.status}: ${consent.html.slice(0, 300)}`);
      const back = await browser.submitConsent(form, 'approve', atClient);
      assert.ok('stoppedAt' in back);
      const code = new URL(back.stoppedAt).searchParams.get('code');
      assert.ok(code);

      assert.equal(await auth(provider, { serverUrl: mcp.resource, authorizationCode: code }), 'AUTHORIZED');
      const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
      const { payload } = await jwtVerify(provider.savedTokens!.access_token, jwks, { issuer: gatehouse.url, audience: mcp.resource, typ: 'at+jwt' });

      const identities = (await gatehouse.db.query(`SELECT user_id, login, name, email, email_verified, groups FROM user_identities WHERE provider = 'oidc:corp' AND subject = $1`, [
        person.sub,
      ])) as Array<{ user_id: string; login: string; name: string; email: string; email_verified: boolean; groups: string[] }>;
      assert.equal(identities.length, 1);
      const identity = identities[0]!;
      assert.equal(payload.sub, identity.user_id, 'the token is for the user of the oidc:corp identity');
      assert.deepEqual(
        { login: identity.login, name: identity.name, email: identity.email, email_verified: identity.email_verified, groups: identity.groups },
        { login: person.preferred_username, name: person.name, email: person.email, email_verified: true, groups: person.groups },
      );
      const succeeded = await auditEvents(gatehouse, 'login.succeeded');
      assert.deepEqual(succeeded.at(-1)?.data, { provider: 'oidc:corp', created: true });

      // Neither the upstream client secret nor Gatehouse's tokens reach a log line.
      for (const secret of [CLIENT_SECRET, code, provider.savedTokens!.access_token]) {
        assert.ok(!logs.lines.some((line) => line.includes(secret)), 'a secret value appeared in the logs');
      }
    });

    it("applies a resource server's policy to what the provider says: groups and verified email domains", async () => {
      const restricted = await new FakeResourceServer(gatehouse.url, ['tools:read'], '/restricted').start();
      try {
        await createResource(gatehouse, {
          resource: restricted.resource,
          scopes: ['tools:read'],
          default_scopes: ['tools:read'],
          sign_in: { providers: ['oidc:corp'], allow: { oidc_groups: ['mcp-users'], email_domains: ['acme.example'] } },
        });
        /** One person's attempt at the restricted resource: the client's code, or the refusal page. */
        const attempt = async (person: ReturnType<typeof newUpstreamUser>) => {
          upstream.nextUser = person;
          const { provider, redirectUrl } = await sdkClient(restricted.resource, 'Restricted client');
          const browser = new Browser();
          const atClient = (location: string) => location.startsWith(redirectUrl);
          const signIn = asPage(await browser.navigate(provider.authorizationUrl!.href, () => false));
          assert.doesNotMatch(signIn.html, /login\/github"/, 'only the allowed provider is offered');
          const step = await browser.navigate(await corpStart(browser, provider.authorizationUrl!.href), atClient);
          return { step, browser, atClient, state: provider.authorizationUrl!.searchParams.get('state') };
        };

        const member = await attempt(newUpstreamUser({ groups: ['mcp-users'] }));
        assert.ok(consentForm(asPage(member.step)), 'a member of mcp-users is admitted and asked for consent');
        const byDomain = await attempt(newUpstreamUser({ groups: [], email: `someone-${redirectSeq}@acme.example` }));
        assert.ok(consentForm(asPage(byDomain.step)), 'a verified acme.example address is admitted');

        for (const [outsider, login] of [
          [newUpstreamUser({ groups: ['engineering'] }), 'wrong group, other domain'],
          [newUpstreamUser({ groups: [], email: `unverified-${redirectSeq}@acme.example`, email_verified: false }), 'unverified address in the domain'],
        ] as const) {
          const refused = await attempt(outsider);
          const page = asPage(refused.step);
          assert.equal(page.status, 403, login);
          assert.match(page.html, /Corp SSO/, 'the page names the provider by its name');
          assert.ok(page.html.includes(outsider.preferred_username), 'and the account used');
          const href = /<a class="button primary" href="([^"]+)">Return to Restricted client<\/a>/.exec(page.html)?.[1];
          assert.ok(href, login);
          const back = new URL(href.replaceAll('&amp;', '&'));
          assert.equal(back.searchParams.get('error'), 'access_denied', login);
          assert.equal(back.searchParams.get('iss'), gatehouse.url);
          const event = (await auditEvents(gatehouse, 'login.refused')).at(-1);
          assert.deepEqual(event?.data, { provider: 'oidc:corp', login: outsider.preferred_username, reason: 'no_rule_matched' }, login);
          const identities = await gatehouse.db.query(`SELECT 1 FROM user_identities WHERE provider = 'oidc:corp' AND subject = $1`, [outsider.sub]);
          assert.equal(identities.length, 0, 'no user is created for a refused person');
        }
      } finally {
        await restricted.stop();
      }
    });

    it('signs in for the account page, which needs no authorization request', async () => {
      const person = newUpstreamUser();
      upstream.nextUser = person;
      const browser = new Browser();
      const signIn = asPage(await browser.navigate(`${gatehouse.url}/account`, () => false));
      assert.match(signIn.html, /href="\/account\/login\/oidc\/corp">Continue with Corp SSO</, 'the account sign-in offers the provider by its name');
      const done = await browser.navigate(`${gatehouse.url}/account/login/oidc/corp`, (location) => location === `${gatehouse.url}/account`);
      assert.ok('stoppedAt' in done, `expected the way back to /account, got a page: ${'stoppedAt' in done ? '' : done.status + ' ' + done.html.slice(0, 300)}`);
      assert.ok(browser.cookieNames().some((cookie) => cookie.startsWith('gatehouse_session@')), 'the browser is signed in');
      assert.equal((await gatehouse.db.query(`SELECT 1 FROM user_identities WHERE provider = 'oidc:corp' AND subject = $1`, [person.sub])).length, 1);
      const account = asPage(await browser.navigate(`${gatehouse.url}/account`, () => false));
      assert.match(account.html, /Corp SSO/, 'the account page names the provider the person signed in with');
    });

    it('signs in to the console from its own start, returning to /console (no role: 403)', async () => {
      upstream.nextUser = newUpstreamUser();
      const browser = new Browser();
      const signIn = asPage(await browser.navigate(`${gatehouse.url}/console`, () => false));
      assert.match(signIn.html, /href="\/console\/login\/oidc\/corp">Continue with Corp SSO</, 'the console sign-in offers the provider by its name');
      const done = await browser.navigate(`${gatehouse.url}/console/login/oidc/corp`, (location) => location === `${gatehouse.url}/console`);
      assert.ok('stoppedAt' in done, `expected the way back to /console, got a page: ${'stoppedAt' in done ? '' : done.status + ' ' + done.html.slice(0, 300)}`);
      const console = asPage(await browser.navigate(`${gatehouse.url}/console`, () => false));
      assert.equal(console.status, 403, 'signed in, but nobody made this person an operator');
    });

    it('keeps an email the provider did not verify as unverified', async () => {
      const person = newUpstreamUser({ email_verified: false });
      upstream.nextUser = person;
      const { provider, redirectUrl } = await sdkClient();
      const browser = new Browser();
      const start = await corpStart(browser, provider.authorizationUrl!.href);
      const consent = asPage(await browser.navigate(start, (location) => location.startsWith(redirectUrl)));
      assert.ok(consentForm(consent), 'signed in, asked for consent');
      const rows = (await gatehouse.db.query(`SELECT email, email_verified FROM user_identities WHERE provider = 'oidc:corp' AND subject = $1`, [person.sub])) as Array<{
        email: string;
        email_verified: boolean;
      }>;
      assert.deepEqual(rows, [{ email: person.email, email_verified: false }]);
    });

    it('refuses a callback without its state cookie, with another state, or replayed: a page and login.failed', async () => {
      const forged = await new Browser().fetch(`${gatehouse.url}/login/oidc/corp/callback?code=forged&state=forged`);
      assert.equal(forged.status, 403);
      assert.match(forged.headers.get('content-type') ?? '', /text\/html/);
      assert.match(await forged.text(), /did not start in this browser/);
      assert.deepEqual(await lastFailure(), { provider: 'oidc:corp', reason: 'state_mismatch' });
      const failures = (await auditEvents(gatehouse, 'login.failed')).length;
      assert.equal((await new Browser().fetch(`${gatehouse.url}/login/oidc/${'x'.repeat(200)}/callback?state=s`)).status, 404);
      assert.equal((await auditEvents(gatehouse, 'login.failed')).length, failures, 'a path that names no possible provider is not recorded');

      // A sign-in started in this browser, answered with another state.
      upstream.nextUser = newUpstreamUser();
      const { provider } = await sdkClient();
      const browser = new Browser();
      const upstreamUrl = await upstreamAuthorizationUrl(browser, await corpStart(browser, provider.authorizationUrl!.href));
      const failuresBefore = (await auditEvents(gatehouse, 'login.failed')).length;
      const wrongState = await browser.fetch(`${gatehouse.url}/login/oidc/corp/callback?code=x&state=not-${upstreamUrl.searchParams.get('state')}`);
      assert.equal(wrongState.status, 403);
      assert.equal((await auditEvents(gatehouse, 'login.failed')).length, failuresBefore + 1);
      assert.deepEqual(await lastFailure(), { provider: 'oidc:corp', reason: 'state_mismatch' });

      // A callback that worked, sent again: the state cookie is used up.
      const replayBrowser = new Browser();
      const { provider: second, redirectUrl } = await sdkClient();
      const start = await corpStart(replayBrowser, second.authorizationUrl!.href);
      asPage(await replayBrowser.navigate(start, (location) => location.startsWith(redirectUrl)));
      const callback = replayBrowser.visited.map((visit) => visit.replace(/^GET /, '')).find((url) => url.startsWith(`${gatehouse.url}/login/oidc/corp/callback?`));
      assert.ok(callback, 'the browser went through the callback');
      const users = await gatehouse.count('users');
      const replayed = await replayBrowser.fetch(callback);
      assert.equal(replayed.status, 403);
      assert.deepEqual(await lastFailure(), { provider: 'oidc:corp', reason: 'state_mismatch' });
      assert.equal(await gatehouse.count('users'), users);
    });

    it('refuses an ID token whose nonce is not the one this sign-in sent', async () => {
      upstream.nextUser = newUpstreamUser();
      const { provider } = await sdkClient();
      const browser = new Browser();
      const upstreamUrl = await upstreamAuthorizationUrl(browser, await corpStart(browser, provider.authorizationUrl!.href));
      // The code the provider issues now is bound to another nonce: as if injected from another sign-in.
      upstreamUrl.searchParams.set('nonce', 'a-nonce-from-somewhere-else-0123456789');
      const page = asPage(await browser.navigate(upstreamUrl.href, () => false));
      assert.equal(page.status, 403);
      assert.match(page.html, /could not be verified/);
      assert.deepEqual(await lastFailure(), { provider: 'oidc:corp', reason: 'id_token_invalid' });
      assert.equal((await gatehouse.db.query(`SELECT 1 FROM user_identities WHERE subject = $1`, [upstream.nextUser.sub])).length, 0);
    });

    it('refuses a code from another issuer (mix-up)', async () => {
      other.nextUser = newUpstreamUser();
      const { provider } = await sdkClient();
      const browser = new Browser();
      const upstreamUrl = await upstreamAuthorizationUrl(browser, await corpStart(browser, provider.authorizationUrl!.href));
      // The same request, answered by the other provider: its response names itself as `iss`.
      const misdirected = new URL(upstreamUrl.pathname + upstreamUrl.search, other.issuer);
      const page = asPage(await browser.navigate(misdirected.href, () => false));
      assert.equal(page.status, 403);
      assert.deepEqual(await lastFailure(), { provider: 'oidc:corp', reason: 'response_invalid' });
      assert.equal((await gatehouse.db.query(`SELECT 1 FROM user_identities WHERE subject = $1`, [other.nextUser.sub])).length, 0);
    });

    it('shows a page when the person cancels at the provider', async () => {
      upstream.denyNext = true;
      const { provider } = await sdkClient();
      const browser = new Browser();
      const page = asPage(await browser.navigate(await corpStart(browser, provider.authorizationUrl!.href), () => false));
      assert.equal(page.status, 400);
      assert.match(page.html, /Sign-in with Corp SSO was cancelled/);
      assert.deepEqual(await lastFailure(), { provider: 'oidc:corp', reason: 'cancelled' });
    });

    it('admin API: discovery is checked before anything is stored, the secret is write-only and stored encrypted', async () => {
      const before = await gatehouse.count('identity_providers');
      const unreachable = await gatehouse.admin('POST', '/admin/identity-providers', {
        id: 'broken',
        display_name: 'Broken',
        issuer: 'http://127.0.0.1:1',
        client_id: 'x',
        client_secret: 'y',
      });
      assert.equal(unreachable.status, 400);
      assert.equal(unreachable.body.error, 'invalid_request');
      assert.match(unreachable.body.error_description, /discovery failed/);
      const wrongIssuer = await gatehouse.admin('POST', '/admin/identity-providers', { id: 'broken', display_name: 'Broken', issuer: `${upstream.issuer}/elsewhere`, client_id: 'x', client_secret: 'y' });
      assert.equal(wrongIssuer.status, 400);
      const badId = await gatehouse.admin('POST', '/admin/identity-providers', { id: 'Not A Slug', display_name: 'X', issuer: upstream.issuer, client_id: 'x', client_secret: 'y' });
      assert.equal(badId.status, 400);
      const plainHttp = await gatehouse.admin('POST', '/admin/identity-providers', { id: 'plain', display_name: 'X', issuer: 'http://idp.example.com', client_id: 'x', client_secret: 'y' });
      assert.equal(plainHttp.status, 400);
      assert.equal(await gatehouse.count('identity_providers'), before, 'nothing stored');

      const secret = 'second-secret-abcdefghijklmnop';
      const created = await gatehouse.admin('POST', '/admin/identity-providers', { id: 'second', display_name: 'Another IdP', issuer: other.issuer, client_id: 'gatehouse', client_secret: secret, scopes: ['email'] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.client_secret, undefined);
      assert.equal(created.body.client_secret_set, true);
      assert.deepEqual(created.body.scopes, ['openid', 'email']);
      assert.equal(created.body.redirect_uri, `${gatehouse.url}/login/oidc/second/callback`);
      const duplicate = await gatehouse.admin('POST', '/admin/identity-providers', { id: 'second', display_name: 'Again', issuer: other.issuer, client_id: 'gatehouse', client_secret: secret });
      assert.equal(duplicate.status, 400);

      const [row] = (await gatehouse.db.query(`SELECT client_secret_sealed FROM identity_providers WHERE id = 'second'`)) as Array<{ client_secret_sealed: string }>;
      assert.ok(row && !row.client_secret_sealed.includes(secret), 'the secret is not stored in the clear');
      assert.ok(!Buffer.from(row.client_secret_sealed.split('.')[1] ?? '', 'base64url').toString('utf8').includes(secret));

      const list = await gatehouse.admin('GET', '/admin/identity-providers');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.map((provider: { id: string }) => provider.id), ['second', 'corp'], 'ordered by display name');
      assert.ok(list.body.every((provider: Record<string, unknown>) => !('client_secret' in provider) && !('client_secret_sealed' in provider)));
      assert.ok(!JSON.stringify(list.body).includes(CLIENT_SECRET) && !JSON.stringify(list.body).includes(secret));

      const renamed = await gatehouse.admin('PATCH', '/admin/identity-providers/second', { display_name: 'Zed IdP', groups_claim: 'roles' });
      assert.equal(renamed.status, 200);
      assert.equal(renamed.body.display_name, 'Zed IdP');
      assert.equal(renamed.body.groups_claim, 'roles');
      const badIssuer = await gatehouse.admin('PATCH', '/admin/identity-providers/second', { issuer: 'http://127.0.0.1:1' });
      assert.equal(badIssuer.status, 400);
      assert.equal((await gatehouse.admin('GET', '/admin/identity-providers/second')).body.issuer, other.issuer, 'unchanged');
      assert.deepEqual((await gatehouse.admin('GET', '/admin/identity-providers')).body.map((provider: { id: string }) => provider.id), ['corp', 'second']);

      assert.equal((await gatehouse.admin('DELETE', '/admin/identity-providers/second')).status, 204);
      assert.equal((await gatehouse.admin('GET', '/admin/identity-providers/second')).status, 404);
      assert.equal((await gatehouse.admin('DELETE', '/admin/identity-providers/second')).status, 404);
      assert.equal((await new Browser().fetch(`${gatehouse.url}/account/login/oidc/second`)).status, 404, 'a removed provider cannot start a sign-in');

      assert.deepEqual((await auditEvents(gatehouse, 'admin.identity_provider_created')).map((event) => event.data.identity_provider_id), ['corp', 'second']);
      assert.deepEqual((await auditEvents(gatehouse, 'admin.identity_provider_updated')).map((event) => event.data), [{ identity_provider_id: 'second', fields: ['display_name', 'groups_claim'] }]);
      assert.deepEqual((await auditEvents(gatehouse, 'admin.identity_provider_deleted')).map((event) => event.data.identity_provider_id), ['second']);
    });
  });
}

describe('identity-providers CLI', () => {
  let dataDir: string;
  let upstream: UpstreamOidc;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-oidc-cli-'));
    await seedPglite(join(dataDir, 'pglite'));
    upstream = await new UpstreamOidc([{ client_id: 'gatehouse', client_secret: CLIENT_SECRET, redirect_uris: ['http://127.0.0.1:1/login/oidc/corp/callback'] }]).start();
  });
  after(async () => {
    await upstream?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates (secret from a file), lists, updates and deletes a provider, printing JSON without the secret', async () => {
    const env = { DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    const secretFile = join(dataDir, 'client-secret');
    await writeFile(secretFile, `${CLIENT_SECRET}\n`, { mode: 0o600 });
    const common = ['--issuer', upstream.issuer, '--client-id', 'gatehouse', '--client-secret-file', secretFile];

    const created = await runCli(['identity-providers', 'create', 'corp', '--name', 'Corp SSO', ...common, '--groups-claim', 'groups'], env);
    assert.equal(created.code, 0, created.stderr);
    const provider = JSON.parse(created.stdout) as Record<string, unknown>;
    assert.equal(provider.id, 'corp');
    assert.equal(provider.client_secret_set, true);
    assert.deepEqual(provider.scopes, ['openid', 'email', 'profile']);
    assert.ok(!created.stdout.includes(CLIENT_SECRET));

    const updated = await runCli(['identity-providers', 'update', 'corp', '--name', 'Corp', '--scopes', 'openid,email'], env);
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal((JSON.parse(updated.stdout) as { display_name: string }).display_name, 'Corp');

    const listed = await runCli(['identity-providers', 'list'], env);
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ id: string; scopes: string[] }>).map((p) => [p.id, p.scopes]), [['corp', ['openid', 'email']]]);

    assert.equal((await runCli(['identity-providers', 'delete', 'corp'], env)).code, 0);
    const gone = await runCli(['identity-providers', 'get', 'corp'], env);
    assert.equal(gone.code, 1);
    assert.equal((JSON.parse(gone.stderr.trim().split('\n').pop()!) as { error: string }).error, 'not_found');
  });
});
