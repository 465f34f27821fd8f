import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { FakeProduct } from '../fakes/product-app.js';
import { Browser } from '../support/browser.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { databaseCounts, exchangeCode, obtainCode, pkce, postJson, registerClient, authorizationUrl, type TestClient } from '../support/flows.js';
import { FakeResourceServer } from '../support/resource-server.js';
import { InMemoryOAuthProvider } from '../support/sdk-provider.js';

/** Bring your own login (login_method external) and custom consent pages, end to end and refused precisely. */
describe('external login and custom consent', () => {
  let gatehouse: RunningGatehouse;
  let product: FakeProduct;
  let mcp: FakeResourceServer;
  let resource: { id: string; registration_secret: string };
  let other: { id: string; registration_secret: string };
  let client: TestClient;

  before(async () => {
    gatehouse = await startGatehouse(); // no GitHub at all: the product's login is the only sign-in
    product = await new FakeProduct(gatehouse.url).start();
    mcp = await new FakeResourceServer(gatehouse.url, ['projects:read', 'projects:write']).start();
    resource = await createResource(gatehouse, { name: 'Projects', resource: mcp.resource, scopes: ['projects:read', 'projects:write'], default_scopes: ['projects:read'] });
    assert.equal((await gatehouse.admin('PATCH', `/admin/resources/${resource.id}`, { login_method: 'external', login_uri: `${product.url}/login` })).status, 200);
    product.registrationSecret = resource.registration_secret;
    other = await createResource(gatehouse, { name: 'Other', resource: 'https://other.example.com/mcp', scopes: ['x'], default_scopes: ['x'] });
    client = await registerClient(gatehouse);
  });
  after(async () => {
    await gatehouse?.close();
    await product?.stop();
    await mcp?.stop();
  });

  it('the MCP SDK client completes the flow through the product login; sub maps to the product user', async () => {
    const redirectUrl = 'http://127.0.0.1:33420/callback';
    const provider = new InMemoryOAuthProvider(redirectUrl, {
      client_name: 'SDK via product login',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    assert.equal(await auth(provider, { serverUrl: mcp.resource }), 'REDIRECT');
    const callback = await new Browser().authorize(provider.authorizationUrl!.href, redirectUrl);
    assert.equal(product.loginRequests.length, 1, 'the browser went through the product login page');
    assert.match(product.loginRequests[0]!.searchParams.get('external_auth_id') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await auth(provider, { serverUrl: mcp.resource, authorizationCode: callback.searchParams.get('code')! }), 'AUTHORIZED');

    const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(provider.savedTokens!.access_token, jwks, { issuer: gatehouse.url, audience: mcp.resource });
    const identity = (await gatehouse.db.query(`SELECT user_id FROM user_identities WHERE provider = 'external' AND subject = $1`, [`${resource.id}:${product.currentUser.id}`])) as Array<{ user_id: string }>;
    assert.ok(identity[0]?.user_id, "the product's user is a Gatehouse user");
    assert.equal(payload.sub, product.currentUser.id, "sub is the product's own subject for its user");

    // The same product user minted through the mint API is the same subject.
    const minted = await postJson(`${gatehouse.url}/api/oauth/token/exchange`, { client_id: client.client_id, subject: product.currentUser.id }, { authorization: `Bearer ${resource.registration_secret}` });
    assert.equal((await jwtVerify(minted.body.access_token, jwks)).payload.sub, payload.sub);
  });

  it('refuses unknown, reused, expired and foreign external_auth_ids, and empty or 10 kB user ids, issuing nothing', async () => {
    const complete = (secret: string, body: unknown) => postJson(`${gatehouse.url}/api/login/complete`, body, { authorization: `Bearer ${secret}` });
    // Start an authorization and stop at the product's login page, holding the external_auth_id.
    const browser = new Browser();
    const built = authorizationUrl(gatehouse.url, { client, resource: mcp.resource, pkce: pkce() });
    const stop = await browser.navigate(built.url, (location) => location.startsWith(`${product.url}/login`));
    assert.ok('stoppedAt' in stop);
    const handle = new URL(stop.stoppedAt).searchParams.get('external_auth_id')!;
    const user = { id: 'someone' };
    const before = await databaseCounts(gatehouse);

    const cases: Array<[string, unknown, number, string]> = [
      [resource.registration_secret, { external_auth_id: 'x'.repeat(43), user }, 400, 'invalid_grant'],
      [other.registration_secret, { external_auth_id: handle, user }, 400, 'invalid_grant'],
      [resource.registration_secret, { external_auth_id: handle, user: { id: '' } }, 400, 'invalid_request'],
      [resource.registration_secret, { external_auth_id: handle, user: { id: 'u'.repeat(10_000) } }, 400, 'invalid_request'],
      [resource.registration_secret, { external_auth_id: handle }, 400, 'invalid_request'],
      ['gh_rs_wrong', { external_auth_id: handle, user }, 401, 'invalid_token'],
    ];
    for (const [secret, body, status, error] of cases) {
      const answer = await complete(secret, body);
      assert.equal(answer.status, status, JSON.stringify(body).slice(0, 100));
      assert.equal(answer.body.error, error);
    }
    assert.deepEqual(await databaseCounts(gatehouse), before, 'nothing written by refused completions');

    // Completed once: fine. A second time: the handle is spent.
    const first = await complete(resource.registration_secret, { external_auth_id: handle, user });
    assert.equal(first.status, 200);
    assert.match(first.body.redirect_uri, new RegExp(`^${gatehouse.url}/interaction/[A-Za-z0-9_-]{32}/login/return\\?ticket=[A-Za-z0-9_-]{43}$`));
    const again = await complete(resource.registration_secret, { external_auth_id: handle, user });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');

    // Another browser cannot continue with it: the interaction is bound to the browser that started it.
    const stranger = await new Browser().fetch(first.body.redirect_uri);
    assert.equal(stranger.status, 403);

    // Expired: a fresh handle whose deadline has passed.
    const late = new Browser();
    const lateStop = await late.navigate(authorizationUrl(gatehouse.url, { client, resource: mcp.resource }).url, (location) => location.startsWith(`${product.url}/login`));
    assert.ok('stoppedAt' in lateStop);
    const lateHandle = new URL(lateStop.stoppedAt).searchParams.get('external_auth_id')!;
    await gatehouse.db.query(`UPDATE interactions SET external_auth_expires_at = now() - interval '1 second' WHERE external_auth_expires_at IS NOT NULL AND login_completed_at IS NULL`);
    const expired = await complete(resource.registration_secret, { external_auth_id: lateHandle, user });
    assert.equal(expired.status, 400);
    assert.equal(expired.body.error, 'invalid_grant');
  });

  it('refuses a product user id equal to a Gatehouse user id, and a disabled user, at the login completion', async () => {
    const complete = (body: unknown) => postJson(`${gatehouse.url}/api/login/complete`, body, { authorization: `Bearer ${resource.registration_secret}` });
    const handleFor = async (browser: Browser): Promise<string> => {
      const stop = await browser.navigate(authorizationUrl(gatehouse.url, { client, resource: mcp.resource }).url, (location) => location.startsWith(`${product.url}/login`));
      assert.ok('stoppedAt' in stop);
      return new URL(stop.stoppedAt).searchParams.get('external_auth_id')!;
    };
    // A Gatehouse user (here one minted at another resource): its Gatehouse id must never become a product subject.
    const minted = await postJson(`${gatehouse.url}/api/oauth/token/exchange`, { client_id: client.client_id, subject: `other-${Date.now()}` }, { authorization: `Bearer ${other.registration_secret}` });
    assert.equal(minted.status, 200, minted.text);
    const grantId = String(decodeJwt(minted.body.access_token).grant_id);
    const [found] = (await gatehouse.db.query('SELECT user_id FROM grants WHERE id = $1', [grantId])) as Array<{ user_id: string }>;
    const collisionHandle = await handleFor(new Browser());
    const before = await databaseCounts(gatehouse);
    const collision = await complete({ external_auth_id: collisionHandle, user: { id: found!.user_id } });
    assert.equal(collision.status, 400);
    assert.equal(collision.body.error, 'invalid_request');
    assert.deepEqual(await databaseCounts(gatehouse), before, 'nothing created');

    // A product user that exists, then is disabled: its next login is refused.
    const productUser = `disabled-${Date.now()}`;
    assert.equal((await complete({ external_auth_id: await handleFor(new Browser()), user: { id: productUser } })).status, 200);
    const [identity] = (await gatehouse.db.query(`SELECT user_id FROM user_identities WHERE provider = 'external' AND subject = $1`, [`${resource.id}:${productUser}`])) as Array<{ user_id: string }>;
    assert.equal((await gatehouse.admin('POST', `/admin/users/${identity!.user_id}/disable`)).status, 200);
    const refused = await complete({ external_auth_id: await handleFor(new Browser()), user: { id: productUser } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_grant');
    assert.match(refused.body.error_description, /disabled/);
  });

  it("refuses a login swap: a product login completed in another person's browser never signs the starter's browser in", async () => {
    const victim = { id: 'victim-7', name: 'Victim' };
    // The victim has used this client before: with a swapped login, the attacker would be one click from a code.
    product.currentUser = victim;
    const own = await obtainCode(gatehouse, { client, resource: mcp.resource });
    assert.ok(own.code, "the victim's own browser finishes the external login");
    const [identity] = (await gatehouse.db.query(`SELECT user_id FROM user_identities WHERE provider = 'external' AND subject = $1`, [`${resource.id}:${victim.id}`])) as Array<{ user_id: string }>;
    assert.ok(identity);

    // The attacker starts an authorization in their own browser and stops at the product's login link.
    const attacker = new Browser();
    const built = authorizationUrl(gatehouse.url, { client, resource: mcp.resource, pkce: pkce() });
    const atLogin = await attacker.navigate(built.url, (location) => location.startsWith(`${product.url}/login`));
    assert.ok('stoppedAt' in atLogin);
    const codesBefore = await gatehouse.count('authorization_codes');

    // The victim, signed in to the product, opens the link: the product completes its login for the victim and
    // sends the victim's browser on. That browser did not start the authorization: it gets nothing.
    const victimBrowser = new Browser();
    const landed = await victimBrowser.navigate(atLogin.stoppedAt, (location) => location.startsWith(built.redirectUri));
    assert.ok(!('stoppedAt' in landed));
    assert.equal(landed.status, 403);
    assert.match(landed.html, /started in another browser/);
    assert.match(landed.url, /\/login\/return\?ticket=/);
    // The attacker's interaction, which the product's login completion named.
    const interactionPath = new URL(landed.url).pathname.replace(/\/login\/return$/, '');

    // The attacker's browser goes back to its interaction: no consent page, no code, only the product's login again.
    const reloaded = await attacker.fetch(`${gatehouse.url}${interactionPath}`);
    assert.equal(reloaded.status, 302);
    assert.ok(reloaded.headers.get('location')!.startsWith(`${product.url}/login?external_auth_id=`), String(reloaded.headers.get('location')));
    assert.equal(await gatehouse.count('authorization_codes'), codesBefore, 'no code issued');
    const [row] = (await gatehouse.db.query(`SELECT user_id, login_completed_at, login_return_hash FROM interactions WHERE id = $1`, [interactionPath.split('/').pop()])) as Array<Record<string, unknown>>;
    assert.deepEqual(row, { user_id: null, login_completed_at: null, login_return_hash: null }, "the victim's login was dropped from the attacker's interaction");
    const [failed] = (await gatehouse.db.query(`SELECT subject, client_id, data FROM audit_events WHERE type = 'login.failed' ORDER BY seq DESC LIMIT 1`)) as Array<Record<string, unknown>>;
    assert.deepEqual(failed, { subject: identity.user_id, client_id: client.client_id, data: { provider: 'external', reason: 'returned_to_another_browser' } });

    // Had the attacker reloaded before the victim's browser came back, it would have got the same: the login only
    // counts when the ticket comes back in the browser the interaction is bound to.
    const early = new Browser();
    const earlyStop = await early.navigate(authorizationUrl(gatehouse.url, { client, resource: mcp.resource }).url, (location) => location.startsWith(`${product.url}/login`));
    assert.ok('stoppedAt' in earlyStop);
    const completed = await postJson(
      `${gatehouse.url}/api/login/complete`,
      { external_auth_id: new URL(earlyStop.stoppedAt).searchParams.get('external_auth_id'), user: victim },
      { authorization: `Bearer ${resource.registration_secret}` },
    );
    assert.equal(completed.status, 200);
    const earlyPath = new URL(completed.body.redirect_uri).pathname.replace(/\/login\/return$/, '');
    const beforeReturn = await early.fetch(`${gatehouse.url}${earlyPath}`);
    assert.ok(beforeReturn.headers.get('location')!.startsWith(`${product.url}/login?`), 'not signed in without the ticket');
    // A ticket that is not the one issued does nothing either, even in the right browser.
    const forged = await early.fetch(`${gatehouse.url}${earlyPath}/login/return?ticket=${'A'.repeat(43)}`);
    assert.equal(forged.headers.get('location'), earlyPath);
    assert.ok((await early.fetch(`${gatehouse.url}${earlyPath}`)).headers.get('location')!.startsWith(`${product.url}/login?`));
    assert.equal(await gatehouse.count('authorization_codes'), codesBefore);
    product.currentUser = { id: 'product-user-42', email: 'ada@example.com', name: 'Ada' };
  });

  it('custom consent: approve issues a code, deny sends access_denied, and a replayed interaction_id is refused', async () => {
    assert.equal((await gatehouse.admin('PATCH', `/admin/resources/${resource.id}`, { consent_uri: `${product.url}/consent` })).status, 200);
    try {
      product.currentUser = { id: 'consenting-user' };
      product.consentDecision = 'approve';
      const approved = await obtainCode(gatehouse, { client, resource: mcp.resource, scope: 'projects:read projects:write' });
      const seen = product.consentRequests.at(-1)!;
      assert.equal(seen.searchParams.get('user_id'), 'consenting-user');
      assert.equal(seen.searchParams.get('scope'), 'projects:read projects:write');
      assert.equal(seen.searchParams.get('resource'), mcp.resource);
      assert.equal(seen.searchParams.get('client_name'), 'Test client');
      assert.ok(approved.code);

      // Replaying the interaction_id: refused, nothing issued.
      const before = await databaseCounts(gatehouse);
      const replay = await postJson(
        `${gatehouse.url}/api/consent/complete`,
        { interaction_id: seen.searchParams.get('interaction_id'), user_id: 'consenting-user', decision: 'approve' },
        { authorization: `Bearer ${resource.registration_secret}` },
      );
      assert.equal(replay.status, 400);
      assert.equal(replay.body.error, 'invalid_grant');
      assert.deepEqual(await databaseCounts(gatehouse), before);

      // Deny: the client hears access_denied, with state and iss.
      product.currentUser = { id: 'refusing-user' };
      product.consentDecision = 'deny';
      const built = authorizationUrl(gatehouse.url, { client, resource: mcp.resource });
      const denied = await new Browser().authorize(built.url, built.redirectUri);
      assert.equal(denied.searchParams.get('error'), 'access_denied');
      assert.equal(denied.searchParams.get('state'), built.state);
      assert.equal(denied.searchParams.get('iss'), gatehouse.url);
    } finally {
      product.consentDecision = 'approve';
      await gatehouse.admin('PATCH', `/admin/resources/${resource.id}`, { consent_uri: null });
    }
  });

  it("custom consent: a consent link sent to someone else is refused for their user, and the starter's flow goes on", async () => {
    assert.equal((await gatehouse.admin('PATCH', `/admin/resources/${resource.id}`, { consent_uri: `${product.url}/consent` })).status, 200);
    try {
      // The attacker signs in through the product as themself and stops at the product's consent link.
      product.currentUser = { id: 'link-sender' };
      const attacker = new Browser();
      const built = authorizationUrl(gatehouse.url, { client, resource: mcp.resource, scope: 'projects:read projects:write' });
      const atConsent = await attacker.navigate(built.url, (location) => location.startsWith(`${product.url}/consent`));
      assert.ok('stoppedAt' in atConsent);
      const handle = new URL(atConsent.stoppedAt).searchParams.get('interaction_id')!;
      const complete = (userId: string) =>
        postJson(`${gatehouse.url}/api/consent/complete`, { interaction_id: handle, user_id: userId, decision: 'approve' }, { authorization: `Bearer ${resource.registration_secret}` });

      // The victim's product session answers for the user signed in there, as the security model requires.
      const before = await databaseCounts(gatehouse);
      const forwarded = await complete('link-receiver');
      assert.equal(forwarded.status, 400);
      assert.equal(forwarded.body.error, 'invalid_request');
      assert.deepEqual(await databaseCounts(gatehouse), before, 'nothing written');

      // The handle is still the attacker's own, for their own account only.
      const own = await complete('link-sender');
      assert.equal(own.status, 200);
      assert.equal(new URL(own.body.redirect_uri).searchParams.get('state'), built.state);
    } finally {
      product.currentUser = { id: 'product-user-42', email: 'ada@example.com', name: 'Ada' };
      await gatehouse.admin('PATCH', `/admin/resources/${resource.id}`, { consent_uri: null });
    }
  });

  it('custom consent with consent remembered: a public loopback client goes through the product page again, a confidential one does not', async () => {
    assert.equal((await gatehouse.admin('PATCH', `/admin/resources/${resource.id}`, { consent_uri: `${product.url}/consent` })).status, 200);
    /** How the client's latest code was consented to (`authorization_code.issued`'s `consent`). */
    const lastIssued = async (clientId: string): Promise<string | undefined> => {
      const rows = (await gatehouse.db.query(`SELECT data FROM audit_events WHERE type = 'authorization_code.issued' AND client_id = $1 ORDER BY seq DESC LIMIT 1`, [clientId])) as Array<{
        data: { consent: string };
      }>;
      return rows[0]?.data.consent;
    };
    try {
      product.currentUser = { id: 'returning-user' };
      product.consentDecision = 'approve';
      const local = await registerClient(gatehouse, { client_name: 'Local agent' });
      const confidential = await registerClient(gatehouse, { client_name: 'Server agent', token_endpoint_auth_method: 'client_secret_basic' });
      const asked = product.consentRequests.length;
      for (const client of [local, confidential]) await obtainCode(gatehouse, { client, resource: mcp.resource });
      assert.equal(product.consentRequests.length, asked + 2, 'each client was asked once');

      // Consent for the public loopback client is remembered, yet the browser goes to the product's page again.
      const again = await obtainCode(gatehouse, { client: local, resource: mcp.resource });
      assert.equal(product.consentRequests.length, asked + 3, 'the product consent page was shown again');
      assert.equal(product.consentRequests.at(-1)!.searchParams.get('client_id'), local.client_id);
      assert.equal(product.consentRequests.at(-1)!.searchParams.get('user_id'), 'returning-user');
      assert.equal(await lastIssued(local.client_id), 'product');
      const tokens = await exchangeCode(gatehouse, { client: local }, again);
      assert.equal(tokens.status, 200, tokens.text);

      // Where the product's page says no, the client hears access_denied.
      product.consentDecision = 'deny';
      const built = authorizationUrl(gatehouse.url, { client: local, resource: mcp.resource });
      const denied = await new Browser().authorize(built.url, built.redirectUri);
      assert.equal(denied.searchParams.get('error'), 'access_denied');
      assert.equal(denied.searchParams.get('code'), null);
      assert.equal(product.consentRequests.length, asked + 4);

      // The confidential client keeps the silent path: a code without the product's page.
      const silent = await obtainCode(gatehouse, { client: confidential, resource: mcp.resource });
      assert.equal(product.consentRequests.length, asked + 4, 'no product consent page for the confidential client');
      assert.equal(await lastIssued(confidential.client_id), 'remembered');
      assert.equal((await exchangeCode(gatehouse, { client: confidential }, silent)).status, 200);
    } finally {
      product.consentDecision = 'approve';
      await gatehouse.admin('PATCH', `/admin/resources/${resource.id}`, { consent_uri: null });
    }
  });
});
