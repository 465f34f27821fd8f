import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { FakeGithub } from '../fakes/fake-github.js';
import { IDENTITY_CLAIMS } from '../../src/resources/identity-claims.js';
import { Browser, consentForm, type Page } from '../support/browser.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import {
  assertOAuthError,
  auditEvents,
  authorizationUrl,
  databaseCounts,
  exchangeCode,
  grantUserId,
  introspect,
  mintToken,
  mintTokens,
  obtainCode,
  reachConsentPage,
  readJson,
  refreshTokens,
  registerClient,
  type TestClient,
  type TestResource,
} from '../support/flows.js';

const WITH_CLAIMS = 'https://claims.example.com/mcp';
const WITHOUT_CLAIMS = 'https://plain.example.com/mcp';

describe('users you can manage, and identity in tokens', () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;
  let withClaims: TestResource;
  let withoutClaims: TestResource;
  let client: TestClient;

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({ github });
    withClaims = await createResource(gatehouse, {
      name: 'Claims MCP',
      resource: WITH_CLAIMS,
      scopes: ['tools:read'],
      default_scopes: ['tools:read'],
      identity_claims: ['idp', 'name', 'preferred_username'],
    });
    withoutClaims = await createResource(gatehouse, { name: 'Plain MCP', resource: WITHOUT_CLAIMS, scopes: ['tools:read'], default_scopes: ['tools:read'] });
    // Confidential, so that remembered consent answers without a page (a public loopback client is always asked).
    client = await registerClient(gatehouse, { client_name: 'Managed', token_endpoint_auth_method: 'client_secret_basic' });
  });
  after(async () => {
    await gatehouse?.close();
    await github?.stop();
  });

  /** The next GitHub sign-in is a new person; returns their login. */
  function nextPerson(name = 'Ada Lovelace'): string {
    const login = `ada-${randomUUID().slice(0, 8)}`;
    github.nextUser = { id: Math.floor(Math.random() * 1e9) + 1000, login, name };
    return login;
  }

  async function userIdOfLogin(login: string): Promise<string> {
    const found = await gatehouse.admin('GET', `/admin/users?provider=github&login=${encodeURIComponent(login)}`);
    assert.equal(found.status, 200, JSON.stringify(found.body));
    assert.equal(found.body.length, 1, `one user is github:${login}`);
    return found.body[0].id;
  }

  /** Starts an authorization in `browser` and follows it: a page (consent, or a refusal), or a stop at the client. */
  async function authorizeIn(browser: Browser, resource = WITH_CLAIMS): Promise<Page | { stoppedAt: string }> {
    const built = authorizationUrl(gatehouse.url, { client, resource, scope: 'tools:read' });
    return browser.navigate(built.url, (location) => location.startsWith(built.redirectUri));
  }

  const asResource = (resource: TestResource) => ({ resource, via: 'basic' as const });

  it('puts the resource’s identity claims in the JWT, its refreshes and introspection, and lists them on the consent page', async () => {
    const login = nextPerson();
    const consent = await reachConsentPage(gatehouse, { client, resource: WITH_CLAIMS, scope: 'tools:read' });
    assert.match(consent.page.html, new RegExp(`Signed in as <strong>${login}</strong> \\(GitHub\\)`));
    assert.match(consent.page.html, /not you\?/);
    assert.match(consent.page.html, /will also receive/);
    for (const wording of ['your username', 'your name', 'which service you signed in with']) assert.ok(consent.page.html.includes(wording), wording);
    assert.ok(!consent.page.html.includes('your email address'), 'only the configured claims are listed');

    const atClient = (location: string) => location.startsWith(consent.request.redirectUri);
    const step = await consent.browser.submitConsent(consent.form, 'approve', atClient);
    assert.ok('stoppedAt' in step, 'approved: sent to the client');
    const code = new URL(step.stoppedAt).searchParams.get('code')!;
    const issued = await exchangeCode(gatehouse, { client }, { code, verifier: consent.request.pkce.verifier, redirectUri: consent.request.redirectUri });
    assert.equal(issued.status, 200, issued.text);

    const userId = await userIdOfLogin(login);
    const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(issued.body.access_token, jwks, { issuer: gatehouse.url, audience: WITH_CLAIMS });
    assert.equal(payload.sub, userId, 'a provider-backed user’s sub is its Gatehouse id');
    assert.equal(payload.preferred_username, login);
    assert.equal(payload.name, 'Ada Lovelace');
    assert.equal(payload.idp, 'github');
    assert.equal(payload.email, undefined, 'not configured, and GitHub gave none');
    assert.equal(payload.groups, undefined, 'not configured');

    const introspected = await introspect(gatehouse, asResource(withClaims), issued.body.access_token);
    assert.equal(introspected.body.active, true);
    assert.deepEqual(
      { sub: introspected.body.sub, preferred_username: introspected.body.preferred_username, name: introspected.body.name, idp: introspected.body.idp },
      { sub: userId, preferred_username: login, name: 'Ada Lovelace', idp: 'github' },
    );

    const refreshed = await refreshTokens(gatehouse, { client }, issued.body.refresh_token);
    assert.equal(refreshed.status, 200, refreshed.text);
    const again = decodeJwt(refreshed.body.access_token);
    assert.deepEqual([again.sub, again.preferred_username, again.name, again.idp], [userId, login, 'Ada Lovelace', 'github'], 'refresh repeats the grant’s snapshot');
    const refreshIntrospected = await introspect(gatehouse, asResource(withClaims), refreshed.body.refresh_token);
    assert.equal(refreshIntrospected.body.active, true);
    assert.equal(refreshIntrospected.body.sub, userId);
    assert.equal(refreshIntrospected.body.idp, 'github');

    // The same person at a resource that opted into nothing: no identity claims at all.
    const plain = await obtainCode(gatehouse, { client, resource: WITHOUT_CLAIMS, scope: 'tools:read', browser: consent.browser });
    const plainIssued = await exchangeCode(gatehouse, { client }, plain);
    assert.equal(plainIssued.status, 200, plainIssued.text);
    const plainClaims = decodeJwt(plainIssued.body.access_token);
    for (const claim of ['preferred_username', 'name', 'email', 'email_verified', 'groups', 'idp']) assert.equal(plainClaims[claim], undefined, claim);
    const plainIntrospected = await introspect(gatehouse, asResource(withoutClaims), plainIssued.body.access_token);
    assert.equal(plainIntrospected.body.active, true);
    assert.equal(plainIntrospected.body.idp, undefined);
    assert.equal(plainIntrospected.body.preferred_username, undefined);
  });

  it('documents exactly the identity claims it accepts', async () => {
    const openapi = await gatehouse.admin('GET', '/admin/openapi.json');
    assert.deepEqual(openapi.body.components.schemas.ResourceServerInput.properties.identity_claims.items.enum, [...IDENTITY_CLAIMS]);
  });

  it('refuses unknown identity claims in the resource configuration, and changes nothing', async () => {
    const before = await databaseCounts(gatehouse);
    const refused = await gatehouse.admin('PATCH', `/admin/resources/${withoutClaims.id}`, { identity_claims: ['email', 'password'] });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_request');
    assert.match(refused.body.error_description, /identity claim/);
    assert.deepEqual(await databaseCounts(gatehouse), before);
    const resource = await gatehouse.admin('GET', `/admin/resources/${withoutClaims.id}`);
    assert.deepEqual(resource.body.identity_claims, []);
  });

  it('disables a user: refresh fails at once, tokens go inactive, sign-in is refused; once enabled, consent is asked again', async () => {
    const login = nextPerson('Grace Hopper');
    const browser = new Browser();
    const obtained = await obtainCode(gatehouse, { client, resource: WITH_CLAIMS, scope: 'tools:read', browser });
    const issued = await exchangeCode(gatehouse, { client }, obtained);
    assert.equal(issued.status, 200, issued.text);
    assert.ok('stoppedAt' in (await authorizeIn(browser)), 'before: remembered consent answers without a page');
    const userId = await userIdOfLogin(login);

    const disabled = await gatehouse.admin('POST', `/admin/users/${userId}/disable`);
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.equal(disabled.body.disabled, true);
    assert.equal(disabled.body.live_grants, 0, 'every grant revoked');
    const event = (await auditEvents(gatehouse, 'admin.user_disabled')).at(-1);
    assert.equal(event?.subject, userId);
    assert.deepEqual(event?.data, { grants_revoked: 1, consents_cleared: 1 });
    const grant = (await gatehouse.db.query('SELECT revoked_reason FROM grants WHERE user_id = $1', [userId])) as Array<{ revoked_reason: string }>;
    assert.deepEqual(grant, [{ revoked_reason: 'user_disabled' }]);

    assertOAuthError(await refreshTokens(gatehouse, { client }, issued.body.refresh_token), 400, 'invalid_grant', 'refresh of a disabled user');
    assert.equal((await introspect(gatehouse, asResource(withClaims), issued.body.access_token)).body.active, false, 'the access token is inactive');

    const stillSignedIn = await authorizeIn(browser);
    assert.ok(!('stoppedAt' in stillSignedIn) && stillSignedIn.status === 403 && /disabled/.test(stillSignedIn.html), 'a disabled user’s session issues no code');
    const account = await browser.navigate(`${gatehouse.url}/account`, () => false);
    assert.ok(!('stoppedAt' in account) && /<h1>Sign in to manage your account<\/h1>/.test(account.html), 'nor opens their account page');
    const fresh = new Browser();
    const signInPage = await authorizeIn(fresh);
    assert.ok(!('stoppedAt' in signInPage));
    const link = /href="([^"]*\/login\/github)"/.exec(signInPage.html)?.[1];
    assert.ok(link);
    const refused = await fresh.navigate(new URL(link, signInPage.url).href, () => false);
    assert.ok(!('stoppedAt' in refused) && refused.status === 403 && /disabled/.test(refused.html), 'sign-in is refused');
    const failed = (await auditEvents(gatehouse, 'login.failed')).at(-1);
    assert.deepEqual([failed?.subject, failed?.data.reason], [userId, 'user_disabled']);

    const again = await gatehouse.admin('POST', `/admin/users/${userId}/disable`);
    assert.equal(again.status, 200);
    assert.equal((await auditEvents(gatehouse, 'admin.user_disabled')).filter((e) => e.subject === userId).length, 1, 'disabling twice records once');

    const enabled = await gatehouse.admin('POST', `/admin/users/${userId}/enable`);
    assert.equal(enabled.status, 200);
    assert.equal(enabled.body.disabled, false);
    assert.equal((await auditEvents(gatehouse, 'admin.user_enabled')).at(-1)?.subject, userId);
    assertOAuthError(await refreshTokens(gatehouse, { client }, issued.body.refresh_token), 400, 'invalid_grant', 'what was revoked stays revoked');
    const asked = await reachConsentPage(gatehouse, { client, resource: WITH_CLAIMS, scope: 'tools:read', browser });
    assert.ok(consentForm(asked.page), 'the remembered consent is gone: the next authorization asks');
  });

  it('forgets the consent behind a user’s revoked grants, so the next authorization asks again', async () => {
    const login = nextPerson('Barbara Liskov');
    const browser = new Browser();
    const obtained = await obtainCode(gatehouse, { client, resource: WITH_CLAIMS, scope: 'tools:read', browser });
    assert.equal((await exchangeCode(gatehouse, { client }, obtained)).status, 200);
    assert.ok('stoppedAt' in (await authorizeIn(browser)), 'remembered before the revocation');
    const userId = await userIdOfLogin(login);

    const revoked = await gatehouse.admin('DELETE', `/admin/users/${userId}/grants`);
    assert.deepEqual(revoked.body, { revoked: 1, consents_cleared: 1 });
    assert.deepEqual((await auditEvents(gatehouse, 'admin.grants_revoked')).at(-1)?.data, { revoked: 1, consents_cleared: 1 });
    const asked = await reachConsentPage(gatehouse, { client, resource: WITH_CLAIMS, scope: 'tools:read', browser });
    assert.ok(consentForm(asked.page), 'asked again');
  });

  it('signs out from the consent page ("not you?") back to the sign-in page of the same request, only with the page’s CSRF token', async () => {
    nextPerson('Someone Else');
    const consent = await reachConsentPage(gatehouse, { client, resource: WITHOUT_CLAIMS, scope: 'tools:read' });
    const action = /<form id="sign-out" method="post" action="([^"]+)"/.exec(consent.page.html)?.[1];
    assert.ok(action, 'a sign-out form');
    const url = new URL(action, consent.page.url).href;
    const forged = await consent.browser.fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf_token=forged' });
    assert.equal(forged.status, 403);
    const signedOut = await consent.browser.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: consent.form.csrfToken }).toString(),
    });
    assert.equal(signedOut.status, 303);
    assert.equal(new URL(signedOut.headers.get('location')!, gatehouse.url).pathname, `/interaction/${consent.interactionId}`);
    const back = await consent.browser.navigate(new URL(signedOut.headers.get('location')!, gatehouse.url).href, () => false);
    assert.ok(!('stoppedAt' in back));
    assert.match(back.html, /Sign in to continue/, 'the same request, signed out');
  });

  it('gives a minted token the product’s subject as sub (JWT and introspection) and refuses a subject that is a Gatehouse user id', async () => {
    const subject = `product-user-${randomUUID()}`;
    const minted = await mintTokens(gatehouse, withClaims, { client_id: client.client_id, subject });
    assert.equal(minted.claims.sub, subject);
    assert.equal(decodeJwt(minted.accessToken).idp, 'external', 'of the identity claims, a product’s user has only idp');
    assert.equal(decodeJwt(minted.accessToken).preferred_username, undefined);
    const introspected = await introspect(gatehouse, asResource(withClaims), minted.accessToken);
    assert.deepEqual([introspected.body.active, introspected.body.sub, introspected.body.idp], [true, subject, 'external']);
    const refreshed = await refreshTokens(gatehouse, { client }, minted.refreshToken);
    assert.equal(decodeJwt(refreshed.body.access_token).sub, subject, 'refresh keeps the product’s subject');

    const login = nextPerson('Provider Backed');
    await obtainCode(gatehouse, { client, resource: WITHOUT_CLAIMS, scope: 'tools:read' });
    const gatehouseUserId = await userIdOfLogin(login);
    const before = await databaseCounts(gatehouse);
    const collision = await mintToken(gatehouse, withClaims, { client_id: client.client_id, subject: gatehouseUserId });
    assertOAuthError(collision, 400, 'invalid_request', 'a product subject equal to a Gatehouse user id');
    assert.deepEqual(await databaseCounts(gatehouse), before, 'and nothing is created');

    // A disabled product user gets no tokens either.
    const productUserId = await grantUserId(gatehouse, minted.claims.grant_id);
    assert.equal((await gatehouse.admin('POST', `/admin/users/${productUserId}/disable`)).status, 200);
    assertOAuthError(await mintToken(gatehouse, withClaims, { client_id: client.client_id, subject }), 400, 'invalid_grant', 'mint for a disabled user');
    assertOAuthError(await refreshTokens(gatehouse, { client }, refreshed.body.refresh_token), 400, 'invalid_grant', 'refresh for a disabled product user');
  });

  it('finds users by login, email, provider or a prefix, and shows one with its identities', async () => {
    const login = nextPerson('Katherine Johnson');
    assert.equal((await exchangeCode(gatehouse, { client }, await obtainCode(gatehouse, { client, resource: WITHOUT_CLAIMS, scope: 'tools:read' }))).status, 200);
    const userId = await userIdOfLogin(login);
    const email = `${login}@Example.com`;
    await gatehouse.db.query(`UPDATE user_identities SET email = $2, email_verified = true WHERE user_id = $1`, [userId, email]);

    const ids = async (query: string) => ((await gatehouse.admin('GET', `/admin/users?${query}`)).body as Array<{ id: string }>).map((user) => user.id);
    assert.deepEqual(await ids(`login=${login.toUpperCase()}`), [userId], 'login, any case');
    assert.deepEqual(await ids(`email=${encodeURIComponent(email.toLowerCase())}`), [userId], 'email, any case');
    assert.deepEqual(await ids(`q=${login.slice(0, 10)}`), [userId], 'a prefix of the login');
    assert.deepEqual(await ids(`q=${userId}`), [userId], 'the id');
    assert.ok((await ids('provider=github')).includes(userId));
    assert.ok(!(await ids('provider=external')).includes(userId));
    assert.deepEqual(await ids(`provider=external&login=${login}`), [], 'every given field must match');

    const shown = await gatehouse.admin('GET', `/admin/users/${userId}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.disabled, false);
    assert.equal(shown.body.live_grants, 1);
    assert.deepEqual(
      shown.body.identities.map((identity: Record<string, unknown>) => [identity.provider, identity.login, identity.email, identity.email_verified]),
      [['github', login, email, true]],
    );

    assert.equal((await gatehouse.admin('GET', `/admin/users/${randomUUID()}`)).status, 404);
    assert.equal((await gatehouse.admin('GET', '/admin/users/not-a-uuid')).status, 404);
    assert.equal((await gatehouse.admin('POST', `/admin/users/${randomUUID()}/disable`)).status, 404);
    assert.equal((await gatehouse.admin('GET', '/admin/users?name=x')).status, 400, 'unknown filters are refused');
    assert.equal((await gatehouse.admin('GET', '/admin/users?login=')).status, 400, 'empty filters are refused');
    const anonymous = await readJson(await fetch(`${gatehouse.url}/admin/users?login=${login}`));
    assert.equal(anonymous.status, 401, 'the admin token is required');
  });
});
