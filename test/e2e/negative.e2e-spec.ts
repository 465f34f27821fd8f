import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { decodeJwt } from 'jose';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser } from '../support/browser.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { drainLimitsFor } from '../../src/common/body-parser.js';
import {
  assertErrorPage,
  assertErrorRedirect,
  assertOAuthError,
  auditEvents,
  authorizationUrl,
  databaseCounts,
  exchangeCode,
  loopbackRedirectUri,
  obtainCode,
  pkce,
  postForm,
  postJson,
  reachConsentPage,
  readJson,
  refreshTokens,
  registerClient,
  storageHash,
  tokenRequest,
  type DatabaseCounts,
  type JsonResponse,
  type ObtainedCode,
  type TestClient,
} from '../support/flows.js';

/**
 * Gatehouse when something is wrong. Every failure has its exact status and error code; JSON errors are never
 * cacheable; where the client or its redirect URI cannot be trusted the person gets an HTML page and is never
 * redirected; and a failed request writes nothing — except the two theft signals (a code presented twice, a
 * rotated refresh token presented again), which revoke the grant and are audited.
 *
 * One Gatehouse serves every group (starting PGlite is the slow part); tests run in order, so comparing row
 * counts before and after a request is exact.
 */
interface Setup {
  github: FakeGithub;
  gatehouse: RunningGatehouse;
  /** The resource the codes are for, and a second registered one. */
  resource: string;
  otherResource: string;
  /** A public client (`none`) with the authorization_code and refresh_token grants. */
  client: TestClient;
}

async function setUp(database: DatabaseKind): Promise<Setup> {
  const github = await new FakeGithub().start();
  // This file registers far more clients from one address than the default /register budget allows. Reuse is
  // tested strictly (no grace for retries: refresh-grace.e2e-spec.ts has those).
  const gatehouse = await startGatehouse({ database, github, env: { RATE_LIMIT_REGISTER: '1000/1m', REFRESH_REUSE_GRACE_SECONDS: '0' } });
  const resource = (await createResource(gatehouse, { resource: 'https://mcp.example.test/mcp', scopes: ['tools:read', 'tools:execute'], default_scopes: ['tools:read'] })).resource;
  const otherResource = (await createResource(gatehouse, { name: 'Other MCP server', resource: 'https://other.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] })).resource;
  const client = await registerClient(gatehouse);
  return { github, gatehouse, resource, otherResource, client };
}

async function tearDown(setup: Setup | undefined): Promise<void> {
  await setup?.gatehouse.close();
  await setup?.github.stop();
}

/** `before` with some counters moved by the given amounts; every other counter unchanged. */
function changed(before: DatabaseCounts, delta: Record<string, number>): DatabaseCounts {
  const out = { ...before };
  for (const [key, by] of Object.entries(delta)) out[key] = (out[key] ?? 0) + by;
  return out;
}

async function consumedAt(gatehouse: RunningGatehouse, code: string): Promise<Date | null | undefined> {
  const rows = (await gatehouse.db.query('SELECT consumed_at FROM authorization_codes WHERE code_hash = $1', [storageHash(code)])) as Array<{ consumed_at: Date | null }>;
  return rows[0]?.consumed_at;
}

async function grantRow(gatehouse: RunningGatehouse, grantId: string): Promise<{ revoked_at: Date | null; revoked_reason: string | null }> {
  const rows = (await gatehouse.db.query('SELECT revoked_at, revoked_reason FROM grants WHERE id = $1', [grantId])) as Array<{ revoked_at: Date | null; revoked_reason: string | null }>;
  assert.ok(rows[0], `grant ${grantId} exists`);
  return rows[0];
}

/** GET /authorize without following the redirect: no cookies are needed to see how a request is judged. */
function authorize(url: string): Promise<Response> {
  return fetch(url, { redirect: 'manual' });
}

// The two theft signals run on PGlite and on PostgreSQL.

async function codeReplayRevokesTheGrant({ gatehouse, client, resource }: Setup): Promise<void> {
  const obtained = await obtainCode(gatehouse, { client, resource });
  const first = await exchangeCode(gatehouse, { client }, obtained);
  assert.equal(first.status, 200, first.text);
  assert.ok(first.body.refresh_token);
  const grantId = String(decodeJwt(first.body.access_token).grant_id);
  assert.equal((await grantRow(gatehouse, grantId)).revoked_at, null);
  const replaysBefore = (await auditEvents(gatehouse, 'authorization_code.replayed')).length;

  const before = await databaseCounts(gatehouse);
  assertOAuthError(await exchangeCode(gatehouse, { client }, obtained), 400, 'invalid_grant', 'replayed code');
  const grant = await grantRow(gatehouse, grantId);
  assert.ok(grant.revoked_at, 'the grant made from the code is revoked');
  assert.equal(grant.revoked_reason, 'authorization_code_replayed');
  const replays = await auditEvents(gatehouse, 'authorization_code.replayed');
  assert.equal(replays.length, replaysBefore + 1);
  assert.equal(replays.at(-1)?.data.grant_id, grantId);
  assert.equal(replays.at(-1)?.client_id, client.client_id);
  // The revocation and its two audit rows (replayed, grant.revoked); no grant, token or code is added or consumed.
  assert.deepEqual(await databaseCounts(gatehouse), changed(before, { 'grants.revoked': 1, audit_events: 2 }));

  const afterReplay = await databaseCounts(gatehouse);
  assertOAuthError(await refreshTokens(gatehouse, { client }, first.body.refresh_token), 400, 'invalid_grant', 'refresh token of the revoked grant');
  assert.deepEqual(await databaseCounts(gatehouse), afterReplay, 'the refused refresh rotates and issues nothing');
}

async function refreshReuseRevokesTheGrant({ gatehouse, client, resource }: Setup): Promise<void> {
  const obtained = await obtainCode(gatehouse, { client, resource });
  const issued = await exchangeCode(gatehouse, { client }, obtained);
  assert.equal(issued.status, 200, issued.text);
  const oldToken: string = issued.body.refresh_token;
  const grantId = String(decodeJwt(issued.body.access_token).grant_id);

  const rotated = await refreshTokens(gatehouse, { client }, oldToken);
  assert.equal(rotated.status, 200, rotated.text);
  const newToken: string = rotated.body.refresh_token;
  assert.ok(newToken && newToken !== oldToken, 'rotation issued a new refresh token');
  const reusesBefore = (await auditEvents(gatehouse, 'refresh_token.reuse_detected')).length;

  const before = await databaseCounts(gatehouse);
  assertOAuthError(await refreshTokens(gatehouse, { client }, oldToken), 400, 'invalid_grant', 'old refresh token');
  const grant = await grantRow(gatehouse, grantId);
  assert.ok(grant.revoked_at, 'the grant is revoked');
  assert.equal(grant.revoked_reason, 'refresh_token_reuse');
  const reuses = await auditEvents(gatehouse, 'refresh_token.reuse_detected');
  assert.equal(reuses.length, reusesBefore + 1);
  assert.equal(reuses.at(-1)?.data.grant_id, grantId);
  assert.deepEqual(await databaseCounts(gatehouse), changed(before, { 'grants.revoked': 1, audit_events: 2 }));

  const afterReuse = await databaseCounts(gatehouse);
  assertOAuthError(await refreshTokens(gatehouse, { client }, newToken), 400, 'invalid_grant', 'newest refresh token of the revoked grant');
  assert.deepEqual(await databaseCounts(gatehouse), afterReuse, 'refusing the newest token rotates and issues nothing');
}

describe('negative paths (pglite)', () => {
  let setup: Setup;
  let gatehouse: RunningGatehouse;
  let github: FakeGithub;
  let client: TestClient;
  let resource: string;

  before(async () => {
    setup = await setUp('pglite');
    ({ gatehouse, github, client, resource } = setup);
  });
  after(() => tearDown(setup));

  describe('/authorize, consent and sign-in', () => {
    it('redirects invalid_request, with state and iss, when code_challenge is missing', async () => {
      const before = await databaseCounts(gatehouse);
      const request = authorizationUrl(gatehouse.url, { client, resource, params: { code_challenge: undefined } });
      assertErrorRedirect(await authorize(request.url), { redirectUri: request.redirectUri, error: 'invalid_request', state: request.state, issuer: gatehouse.url });
      const bare = authorizationUrl(gatehouse.url, { client, resource, params: { code_challenge: undefined, code_challenge_method: undefined } });
      assertErrorRedirect(await authorize(bare.url), { redirectUri: bare.redirectUri, error: 'invalid_request', state: bare.state, issuer: gatehouse.url });
      assert.deepEqual(await databaseCounts(gatehouse), before, 'no interaction was created');
    });

    it('redirects invalid_request for code_challenge_method=plain (S256 only)', async () => {
      const before = await databaseCounts(gatehouse);
      const request = authorizationUrl(gatehouse.url, { client, resource, params: { code_challenge: pkce().verifier, code_challenge_method: 'plain' } });
      assertErrorRedirect(await authorize(request.url), { redirectUri: request.redirectUri, error: 'invalid_request', state: request.state, issuer: gatehouse.url });
      assert.deepEqual(await databaseCounts(gatehouse), before);
    });

    it('redirects invalid_request, without echoing it, for a state holding a NUL character', async () => {
      const before = await databaseCounts(gatehouse);
      const request = authorizationUrl(gatehouse.url, { client, resource, state: 'abc\u0000def' });
      const response = await authorize(request.url);
      assert.equal(response.status, 302);
      const location = new URL(response.headers.get('location') ?? '');
      assert.equal(`${location.origin}${location.pathname}`, request.redirectUri);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
      assert.equal(location.searchParams.get('state'), null);
      assert.equal(location.searchParams.get('iss'), gatehouse.url);
      assert.deepEqual(await databaseCounts(gatehouse), before);
    });

    it('shows an HTML page, never a redirect, for a redirect_uri the client did not register', async () => {
      const registered = new URL(client.redirect_uris[0]!);
      const otherPort = String(Number(registered.port) + 7);
      const unregistered = [
        'https://attacker.example/callback',
        `http://127.0.0.1:${otherPort}/other`, // loopback: any port, but the path must match
        `http://127.0.0.1:${registered.port}/other`,
        `http://127.0.0.1:${registered.port}/callback/extra`,
        `http://127.0.0.1:${registered.port}/callback?next=x`,
        `http://localhost:${registered.port}/callback`, // another loopback host name is another URI
        `https://127.0.0.1:${registered.port}/callback`,
        `http://127.0.0.1:${registered.port}/callback\u0000`,
      ];
      const before = await databaseCounts(gatehouse);
      for (const redirectUri of unregistered) {
        const request = authorizationUrl(gatehouse.url, { client, resource, redirectUri });
        const body = await assertErrorPage(await authorize(request.url), 400, redirectUri);
        assert.match(body, /Invalid (redirect|request)/, redirectUri);
        assert.ok(!body.includes(request.state), 'the page does not reflect the request');
      }
      assert.deepEqual(await databaseCounts(gatehouse), before);
    });

    it('accepts the registered loopback redirect URI on another port (RFC 8252 §7.3), and sends the code there', async () => {
      const registered = new URL(client.redirect_uris[0]!);
      const redirectUri = `http://127.0.0.1:${Number(registered.port) + 1}${registered.pathname}`;
      const first = await authorize(authorizationUrl(gatehouse.url, { client, resource, redirectUri }).url);
      assert.equal(first.status, 302);
      assert.match(first.headers.get('location') ?? '', /^\/interaction\/[A-Za-z0-9_-]{32}$/, 'on to sign-in, not an error');

      const obtained = await obtainCode(gatehouse, { client, resource, redirectUri });
      assert.equal(`${obtained.callback.origin}${obtained.callback.pathname}`, redirectUri, 'the code went to the port the client asked for');
      assert.equal(obtained.callback.searchParams.get('iss'), gatehouse.url);
      const tokens = await exchangeCode(gatehouse, { client }, obtained);
      assert.equal(tokens.status, 200, tokens.text);
      assert.ok(tokens.body.access_token);
    });

    it('shows an HTML page, never a redirect, for an unknown or missing client_id', async () => {
      const before = await databaseCounts(gatehouse);
      for (const clientId of ['no-such-client', randomBytes(16).toString('hex'), 'a\u0000b']) {
        const unknown = authorizationUrl(gatehouse.url, { client: { client_id: clientId, redirect_uris: client.redirect_uris }, resource });
        await assertErrorPage(await authorize(unknown.url), 400, JSON.stringify(clientId));
      }
      const unknown = authorizationUrl(gatehouse.url, { client: { client_id: 'no-such-client', redirect_uris: client.redirect_uris }, resource });
      assert.match(await assertErrorPage(await authorize(unknown.url), 400), /Unknown application/);
      // Even when the rest of the request is also wrong, an unknown client is never redirected to its "redirect URI".
      const phishing = authorizationUrl(gatehouse.url, { client: { client_id: 'no-such-client', redirect_uris: ['https://attacker.example/cb'] }, resource, params: { code_challenge: undefined } });
      await assertErrorPage(await authorize(phishing.url), 400);
      const missing = authorizationUrl(gatehouse.url, { client, resource, params: { client_id: undefined } });
      await assertErrorPage(await authorize(missing.url), 400);
      assert.deepEqual(await databaseCounts(gatehouse), before);
    });

    it('redirects invalid_target for a resource that is not registered', async () => {
      const before = await databaseCounts(gatehouse);
      for (const unknown of ['https://unknown.example.test/mcp', 'https://mcp.example.test/other', 'not a uri']) {
        const request = authorizationUrl(gatehouse.url, { client, resource: unknown });
        assertErrorRedirect(await authorize(request.url), { redirectUri: request.redirectUri, error: 'invalid_target', state: request.state, issuer: gatehouse.url });
      }
      assert.deepEqual(await databaseCounts(gatehouse), before);
    });

    it('redirects invalid_scope for a scope the resource does not define', async () => {
      const before = await databaseCounts(gatehouse);
      for (const scope of ['tools:admin', 'tools:read tools:admin']) {
        const request = authorizationUrl(gatehouse.url, { client, resource, scope });
        assertErrorRedirect(await authorize(request.url), { redirectUri: request.redirectUri, error: 'invalid_scope', state: request.state, issuer: gatehouse.url });
      }
      assert.deepEqual(await databaseCounts(gatehouse), before);
    });

    it('refuses a consent POST without the CSRF token, with a wrong one, or from another browser (403 page, no code)', async () => {
      const fresh = await registerClient(gatehouse, { redirect_uris: [loopbackRedirectUri()] });
      const { browser, form, interactionId, request } = await reachConsentPage(gatehouse, { client: fresh, resource });
      const completedAt = async () =>
        ((await gatehouse.db.query('SELECT completed_at FROM interactions WHERE id = $1', [interactionId])) as Array<{ completed_at: Date | null }>)[0]?.completed_at;
      const post = (from: Browser, fields: Record<string, string>) =>
        from.fetch(form.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });

      const before = await databaseCounts(gatehouse);
      assert.match(await assertErrorPage(await post(browser, { decision: 'approve' }), 403, 'no CSRF token'), /CSRF/);
      await assertErrorPage(await post(browser, { decision: 'approve', csrf_token: randomBytes(32).toString('base64url') }), 403, 'wrong CSRF token');
      await assertErrorPage(await post(browser, { decision: 'approve', csrf_token: '' }), 403, 'empty CSRF token');
      await assertErrorPage(await post(browser, { decision: 'deny' }), 403, 'a forged denial');
      // Another browser has neither the interaction cookie nor the session, even with a token it copied.
      await assertErrorPage(await post(new Browser(), { decision: 'approve', csrf_token: form.csrfToken }), 403, 'another browser');
      assert.deepEqual(await databaseCounts(gatehouse), before, 'no code, no consent, nothing completed');
      assert.equal(await completedAt(), null);

      // The person's own submission still works afterwards: the forgeries did not use the interaction up.
      const approved = await post(browser, { decision: 'approve', csrf_token: form.csrfToken });
      assert.equal(approved.status, 303);
      const callback = new URL(approved.headers.get('location') ?? '');
      assert.equal(`${callback.origin}${callback.pathname}`, request.redirectUri);
      assert.ok(callback.searchParams.get('code'));
      assert.equal(await gatehouse.count('authorization_codes'), before.authorization_codes! + 1);
      assert.ok(await completedAt());
    });

    it('shows an HTML page when the person cancels GitHub sign-in, and creates no user', async () => {
      const usual = github.nextUser;
      github.nextUser = { id: 900_001, login: 'cancelling-user', name: 'Cancelling User' };
      github.denyNext = true;
      try {
        const before = await databaseCounts(gatehouse);
        const request = authorizationUrl(gatehouse.url, { client, resource });
        const browser = new Browser();
        const signInPage = await browser.navigate(request.url, () => false);
        assert.ok(!('stoppedAt' in signInPage));
        const href = /href="([^"]*\/login\/github)"/.exec(signInPage.html)?.[1];
        assert.ok(href, 'the sign-in page links to GitHub');

        // Follow the hops by hand (to GitHub, back to the callback), which must end on a page.
        let location = new URL(href, signInPage.url).href;
        let response = await browser.fetch(location);
        for (let hops = 0; hops < 5 && response.status >= 300 && response.status < 400; hops++) {
          location = new URL(response.headers.get('location') ?? '', location).href;
          assert.ok(!location.startsWith(request.redirectUri), `never sent to the client: ${location}`);
          response = await browser.fetch(location);
        }
        assert.equal(new URL(location).pathname, '/login/github/callback');
        assert.match(await assertErrorPage(response, 400), /Sign-in cancelled/);
        assert.equal(github.denyNext, false, 'GitHub was asked, and refused');

        assert.deepEqual(await databaseCounts(gatehouse), changed(before, { interactions: 1, audit_events: 1 }), 'only the interaction and a login.failed event: no user, identity, sign-in or code');
        assert.deepEqual((await auditEvents(gatehouse, 'login.failed')).at(-1)?.data, { provider: 'github', reason: 'cancelled' });
        const identities = (await gatehouse.db.query(`SELECT count(*)::int AS n FROM user_identities WHERE subject = $1`, [String(github.nextUser.id)])) as Array<{ n: number }>;
        assert.equal(identities[0]?.n, 0);
      } finally {
        github.nextUser = usual;
        github.denyNext = false;
      }
    });
  });

  describe('/token', () => {
    /** A failing request that must leave the code unused and write nothing at all. */
    async function refusedWithoutWrites(obtained: ObtainedCode, request: () => Promise<JsonResponse>, status: number, error: string, message: string): Promise<void> {
      const before = await databaseCounts(gatehouse);
      assertOAuthError(await request(), status, error, message);
      assert.deepEqual(await databaseCounts(gatehouse), before, `${message}: nothing written`);
      assert.equal(await consumedAt(gatehouse, obtained.code), null, `${message}: code not consumed`);
    }

    it('answers invalid_request when code_verifier is missing or malformed, and keeps the code', async () => {
      const obtained = await obtainCode(gatehouse, { client, resource });
      await refusedWithoutWrites(obtained, () => exchangeCode(gatehouse, { client }, obtained, { code_verifier: undefined }), 400, 'invalid_request', 'no code_verifier');
      await refusedWithoutWrites(obtained, () => exchangeCode(gatehouse, { client }, obtained, { code_verifier: 'too-short' }), 400, 'invalid_request', 'short code_verifier');
      const ok = await exchangeCode(gatehouse, { client }, obtained);
      assert.equal(ok.status, 200, ok.text);
    });

    it('answers invalid_grant for a wrong code_verifier, keeps the code, and the correct retry succeeds', async () => {
      const obtained = await obtainCode(gatehouse, { client, resource });
      await refusedWithoutWrites(obtained, () => exchangeCode(gatehouse, { client }, obtained, { code_verifier: pkce().verifier }), 400, 'invalid_grant', 'wrong code_verifier');
      await refusedWithoutWrites(obtained, () => exchangeCode(gatehouse, { client }, obtained, { code_verifier: pkce().challenge }), 400, 'invalid_grant', 'a challenge as verifier');
      const before = await databaseCounts(gatehouse);
      const ok = await exchangeCode(gatehouse, { client }, obtained);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await databaseCounts(gatehouse), changed(before, { grants: 1, refresh_tokens: 1, 'authorization_codes.consumed': 1, audit_events: 1 }));
    });

    it('answers invalid_grant for a redirect_uri other than the one used at /authorize', async () => {
      const obtained = await obtainCode(gatehouse, { client, resource });
      const used = new URL(obtained.redirectUri);
      for (const redirectUri of [`http://127.0.0.1:${used.port}/other`, `http://127.0.0.1:${Number(used.port) + 1}${used.pathname}`, 'https://attacker.example/callback']) {
        await refusedWithoutWrites(obtained, () => exchangeCode(gatehouse, { client }, obtained, { redirect_uri: redirectUri }), 400, 'invalid_grant', redirectUri);
      }
      const ok = await exchangeCode(gatehouse, { client }, obtained);
      assert.equal(ok.status, 200, ok.text);
    });

    it('answers invalid_target for a resource other than the code’s, registered or not', async () => {
      const obtained = await obtainCode(gatehouse, { client, resource });
      for (const other of [setup.otherResource, 'https://unknown.example.test/mcp', 'not a uri']) {
        await refusedWithoutWrites(obtained, () => exchangeCode(gatehouse, { client }, obtained, { resource: other }), 400, 'invalid_target', other);
      }
      const ok = await exchangeCode(gatehouse, { client }, obtained, { resource });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(decodeJwt(ok.body.access_token).aud, resource);
    });

    it('answers invalid_grant for an expired code and consumes nothing', async () => {
      const obtained = await obtainCode(gatehouse, { client, resource });
      const replaysBefore = (await auditEvents(gatehouse, 'authorization_code.replayed')).length;
      await gatehouse.db.query(`UPDATE authorization_codes SET expires_at = now() - interval '1 second' WHERE code_hash = $1`, [storageHash(obtained.code)]);
      await refusedWithoutWrites(obtained, () => exchangeCode(gatehouse, { client }, obtained), 400, 'invalid_grant', 'expired code');
      // An expired code is not a replay: presenting it again changes nothing either.
      await refusedWithoutWrites(obtained, () => exchangeCode(gatehouse, { client }, obtained), 400, 'invalid_grant', 'expired code again');
      assert.equal((await auditEvents(gatehouse, 'authorization_code.replayed')).length, replaysBefore);
    });

    it('answers invalid_grant for a code that was never issued', async () => {
      const before = await databaseCounts(gatehouse);
      assertOAuthError(await exchangeCode(gatehouse, { client }, { code: randomBytes(32).toString('base64url'), verifier: pkce().verifier, redirectUri: client.redirect_uris[0]! }), 400, 'invalid_grant');
      assert.deepEqual(await databaseCounts(gatehouse), before);
    });

    it('refuses a replayed code with invalid_grant, revokes the grant it produced, and refuses its refresh token', () => codeReplayRevokesTheGrant(setup));

    it('refuses a rotated refresh token with invalid_grant, revokes the grant, and refuses its newest refresh token too', () => refreshReuseRevokesTheGrant(setup));

    it('answers 401 invalid_client with a Basic challenge for a wrong client_secret_basic secret', async () => {
      const confidential = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic' });
      assert.ok(confidential.client_secret);
      const obtained = await obtainCode(gatehouse, { client: confidential, resource });
      const before = await databaseCounts(gatehouse);
      for (const secret of ['gh_cs_wrong', '', confidential.client_secret + 'x']) {
        const response = await exchangeCode(gatehouse, { client: confidential, secret }, obtained);
        assertOAuthError(response, 401, 'invalid_client', `secret ${JSON.stringify(secret)}`);
        assert.match(response.headers.get('www-authenticate') ?? '', /^Basic /);
      }
      // Unknown client ids in the Basic credentials get the same answer.
      for (const clientId of ['no-such-client', 'a\u0000b']) {
        const unknown = await exchangeCode(gatehouse, { client: { ...confidential, client_id: clientId } }, obtained);
        assertOAuthError(unknown, 401, 'invalid_client', JSON.stringify(clientId));
        assert.match(unknown.headers.get('www-authenticate') ?? '', /^Basic /);
      }
      assert.deepEqual(await databaseCounts(gatehouse), before);
      assert.equal(await consumedAt(gatehouse, obtained.code), null);
      const ok = await exchangeCode(gatehouse, { client: confidential }, obtained);
      assert.equal(ok.status, 200, ok.text);
    });

    it('answers 401 invalid_client for a wrong client_secret_post secret', async () => {
      const confidential = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_post' });
      assert.ok(confidential.client_secret);
      const obtained = await obtainCode(gatehouse, { client: confidential, resource });
      const before = await databaseCounts(gatehouse);
      const response = await exchangeCode(gatehouse, { client: confidential, secret: 'gh_cs_wrong' }, obtained);
      assertOAuthError(response, 401, 'invalid_client');
      assert.equal(response.headers.get('www-authenticate'), null, 'no Basic challenge: the client did not use the Authorization header');
      assert.deepEqual(await databaseCounts(gatehouse), before);
      const ok = await exchangeCode(gatehouse, { client: confidential }, obtained);
      assert.equal(ok.status, 200, ok.text);
    });

    it('answers 401 invalid_client when a client authenticates with another method than it registered', async () => {
      const basicClient = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic' });
      const obtained = await obtainCode(gatehouse, { client: basicClient, resource });
      const before = await databaseCounts(gatehouse);
      for (const method of ['client_secret_post', 'none'] as const) {
        assertOAuthError(await exchangeCode(gatehouse, { client: basicClient, method }, obtained), 401, 'invalid_client', `${method} for a client_secret_basic client`);
      }
      assert.deepEqual(await databaseCounts(gatehouse), before);
      // And the other way round: a public client cannot authenticate with a secret it does not have.
      const publicObtained = await obtainCode(gatehouse, { client, resource });
      const publicBefore = await databaseCounts(gatehouse);
      const basicPublic = await exchangeCode(gatehouse, { client, method: 'client_secret_basic', secret: 'anything' }, publicObtained);
      assertOAuthError(basicPublic, 401, 'invalid_client', 'client_secret_basic for a public client');
      assert.match(basicPublic.headers.get('www-authenticate') ?? '', /^Basic /);
      assert.deepEqual(await databaseCounts(gatehouse), publicBefore);
      const ok = await exchangeCode(gatehouse, { client: basicClient }, obtained);
      assert.equal(ok.status, 200, ok.text);
    });

    it('answers unsupported_grant_type for grants Gatehouse does not offer', async () => {
      const before = await databaseCounts(gatehouse);
      for (const grantType of ['password', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:ietf:params:oauth:grant-type:device_code', 'implicit']) {
        assertOAuthError(await tokenRequest(gatehouse, { client }, { grant_type: grantType }), 400, 'unsupported_grant_type', grantType);
      }
      assertOAuthError(await tokenRequest(gatehouse, { client }, {}), 400, 'invalid_request', 'no grant_type');
      assert.deepEqual(await databaseCounts(gatehouse), before);
    });
  });

  describe('malformed requests, registration and routing', () => {
    it('answers invalid_request for a /token body that is not a form', async () => {
      const before = await databaseCounts(gatehouse);
      const json = await postJson(`${gatehouse.url}/token`, { grant_type: 'authorization_code', code: 'x', client_id: client.client_id });
      assertOAuthError(json, 400, 'invalid_request', 'JSON');
      assert.match(json.body.error_description, /application\/x-www-form-urlencoded/);
      const text = await readJson(await fetch(`${gatehouse.url}/token`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'grant_type=authorization_code' }));
      assertOAuthError(text, 400, 'invalid_request', 'text/plain');
      assertOAuthError(await readJson(await fetch(`${gatehouse.url}/token`, { method: 'POST' })), 400, 'invalid_request', 'no body');
      assert.deepEqual(await databaseCounts(gatehouse), before);
    });

    it('answers invalid_request for a /token request that repeats a parameter or holds a NUL', async () => {
      const before = await databaseCounts(gatehouse);
      const id = encodeURIComponent(client.client_id);
      assertOAuthError(await postForm(`${gatehouse.url}/token`, `grant_type=authorization_code&grant_type=refresh_token&client_id=${id}`), 400, 'invalid_request', 'grant_type twice');
      assertOAuthError(await postForm(`${gatehouse.url}/token`, `grant_type=authorization_code&grant_type=authorization_code&client_id=${id}`), 400, 'invalid_request', 'grant_type twice, same value');
      assertOAuthError(await postForm(`${gatehouse.url}/token`, `grant_type=refresh_token&refresh_token=a&client_id=${id}&client_id=${id}`), 400, 'invalid_request', 'client_id twice');
      assertOAuthError(await postForm(`${gatehouse.url}/token`, `grant_type=refresh_token&refresh_token=a&client_id=a%00b`), 400, 'invalid_request', 'NUL in client_id');
      assert.deepEqual(await databaseCounts(gatehouse), before);
    });

    it('answers invalid_request for /register bodies that are not a storable JSON object', async () => {
      const before = await databaseCounts(gatehouse);
      const redirect = JSON.stringify(client.redirect_uris);
      for (const [body, what] of [
        [`{"redirect_uris": ${redirect},`, 'truncated JSON'],
        ['{redirect_uris: []}', 'not JSON'],
        ['', 'empty body'],
        [`[{"redirect_uris": ${redirect}}]`, 'a JSON array'],
        ['"a string"', 'a JSON string'],
        ['null', 'JSON null'],
        ['{"redirect_uris": ["https://client.example/cb\\u0000"]}', 'NUL in a redirect URI'],
        [`{"redirect_uris": ${redirect}, "contacts": ["ops\\u0000@client.example"]}`, 'NUL in contacts'],
        [`{"redirect_uris": ${redirect}, "client_name": "\\ud800"}`, 'unpaired surrogate in client_name'],
      ] as const) {
        assertOAuthError(await postJson(`${gatehouse.url}/register`, body), 400, 'invalid_request', what);
      }
      assertOAuthError(await postForm(`${gatehouse.url}/register`, { redirect_uris: client.redirect_uris[0]! }), 400, 'invalid_request', 'a form where JSON is required');
      assert.deepEqual(await databaseCounts(gatehouse), before);
    });

    it('answers 413 with a JSON error for oversized bodies to /token and /register, and writes nothing', async () => {
      const before = await databaseCounts(gatehouse);
      const padding = 'x'.repeat(70 * 1024);
      const token = await postForm(`${gatehouse.url}/token`, { grant_type: 'authorization_code', client_id: client.client_id, code: padding });
      assertOAuthError(token, 413, 'request_too_large', '/token');
      const register = await postJson(`${gatehouse.url}/register`, { redirect_uris: client.redirect_uris, client_name: 'big', padding });
      assertOAuthError(register, 413, 'request_too_large', '/register');

      // Without a Content-Length (chunked), the limit is enforced while reading.
      const encoder = new TextEncoder();
      const chunked = await readJson(
        await fetch(`${gatehouse.url}/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(encoder.encode(`{"redirect_uris": ${JSON.stringify(client.redirect_uris)}, "padding": "`));
              for (let i = 0; i < 9; i++) controller.enqueue(encoder.encode('x'.repeat(8 * 1024)));
              controller.enqueue(encoder.encode('"}'));
              controller.close();
            },
          }),
          duplex: 'half',
        } as RequestInit & { duplex: 'half' }),
      );
      assertOAuthError(chunked, 413, 'request_too_large', 'chunked /register');
      assert.deepEqual(await databaseCounts(gatehouse), before);
      assert.equal((await fetch(`${gatehouse.url}/healthz`)).status, 200, 'the server is still serving');
    });

    /**
     * How much the server read of each request's connection from the moment the request arrived (fetch may reuse a
     * connection): what it read of the body, less what came in the same read as the headers (at most one 64 KiB read).
     */
    function watchReads(): { lastRequestRead(): number; stop(): void } {
      const server = gatehouse.app.getHttpServer() as Server;
      const requests: Array<{ socket: Socket; readBefore: number }> = [];
      const track = (req: IncomingMessage): void => void requests.push({ socket: req.socket, readBefore: req.socket.bytesRead });
      server.on('request', track);
      return {
        lastRequestRead: () => {
          const last = requests.at(-1);
          return last ? last.socket.bytesRead - last.readBefore : 0;
        },
        stop: () => void server.off('request', track),
      };
    }

    it('answers 413 to 3 MB sent with fetch after reading the rest off, so the client gets the answer, not EPIPE', async () => {
      const before = await databaseCounts(gatehouse);
      const size = 3 * 1024 * 1024;
      const padding = 'x'.repeat(size);
      const json = { redirect_uris: client.redirect_uris, client_name: 'big', padding };
      const form = { grant_type: 'authorization_code', client_id: client.client_id, code: padding };
      // /register goes through Express, /token through the fast lane: the same parser, the same answer.
      const cases: Array<[string, () => Promise<JsonResponse>]> = [
        ['JSON to /register', () => postJson(`${gatehouse.url}/register`, json)],
        ['a form to /register', () => postForm(`${gatehouse.url}/register`, { redirect_uris: client.redirect_uris[0]!, padding })],
        ['a form to /token', () => postForm(`${gatehouse.url}/token`, form)],
        ['JSON to /token', () => postJson(`${gatehouse.url}/token`, form)],
      ];
      const reads = watchReads();
      try {
        for (const [label, request] of cases) {
          const response = await request();
          assertOAuthError(response, 413, 'request_too_large', label);
          assert.equal(response.headers.get('cache-control'), 'no-store', label);
          assert.equal(response.headers.get('connection'), 'close', label);
          assert.equal(response.body.error_description, `request body exceeds ${gatehouse.config.maxBodyBytes} bytes`, label);
          assert.ok(reads.lastRequestRead() > size - 128 * 1024, `${label}: the whole body was read before the answer (${reads.lastRequestRead()} bytes)`);
        }
      } finally {
        reads.stop();
      }
      assert.deepEqual(await databaseCounts(gatehouse), before, 'nothing written');
    });

    it('closes the connection on a body far past the drain bound, without reading it, and keeps serving', async () => {
      const before = await databaseCounts(gatehouse);
      const drainBound = drainLimitsFor(gatehouse.config.maxBodyBytes).bytes;
      const reads = watchReads();
      try {
        for (const path of ['/register', '/token']) {
          // 1 GiB, made as the upload asks for it: the test keeps none of it either.
          const total = 1024 * 1024 * 1024;
          const piece = new Uint8Array(256 * 1024).fill(0x78);
          let pulled = 0;
          const body = new ReadableStream<Uint8Array>({
            pull(controller) {
              if (pulled >= total) return controller.close();
              pulled += piece.length;
              controller.enqueue(piece);
            },
          });
          const contentType = path === '/register' ? 'application/json' : 'application/x-www-form-urlencoded';
          const outcome = await fetch(`${gatehouse.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body, duplex: 'half' } as RequestInit & { duplex: 'half' }).then(
            async (response) => ({ status: response.status, text: await response.text().catch(() => '') }),
            (error: unknown) => ({ status: null, text: String(error) }),
          );
          // The 413 if it arrives before the reset; which one does depends on what is in flight when the socket closes.
          if (outcome.status !== null) {
            assert.equal(outcome.status, 413, `${path}: ${outcome.text}`);
            assert.equal((JSON.parse(outcome.text) as { error: string }).error, 'request_too_large', path);
          }
          assert.ok(pulled < total, `${path}: the connection closed before the upload was done (${pulled} bytes)`);
          const read = reads.lastRequestRead();
          assert.ok(read > drainBound && read < drainBound + 4 * 1024 * 1024, `${path}: the server read ${read} bytes, the drain bound and little more`);
        }
      } finally {
        reads.stop();
      }
      assert.deepEqual(await databaseCounts(gatehouse), before, 'nothing written');
      assert.equal((await fetch(`${gatehouse.url}/healthz`)).status, 200, 'the server is still serving');
    });

    it('rejects unsafe redirect URIs at registration with invalid_redirect_uri and creates no client', async () => {
      const unsafe = [
        'javascript:alert(document.cookie)',
        'JavaScript:alert(1)',
        'data:text/html,<script>alert(1)</script>',
        'file:///etc/passwd',
        'https://client.example/cb#fragment',
        'https://client.example/cb#',
        'https://user:pw@example.com/cb',
        'https://user@example.com/cb',
        'http://example.com/cb',
        'http://localhost.example.com/cb',
        'not a uri',
      ];
      const before = await databaseCounts(gatehouse);
      for (const uri of unsafe) {
        assertOAuthError(await postJson(`${gatehouse.url}/register`, { client_name: 'Unsafe', redirect_uris: [uri], token_endpoint_auth_method: 'none' }), 400, 'invalid_redirect_uri', uri);
        // One unsafe URI among safe ones spoils the registration too.
        assertOAuthError(await postJson(`${gatehouse.url}/register`, { redirect_uris: [client.redirect_uris[0], uri] }), 400, 'invalid_redirect_uri', `${uri} among safe ones`);
      }
      assert.deepEqual(await databaseCounts(gatehouse), before, 'no client, no audit event');
    });

    it('accepts a private-use scheme redirect URI for a native app', async () => {
      const before = await gatehouse.count('clients');
      const redirectUri = 'cursor://anysphere.cursor-retrieval/oauth/callback';
      const response = await postJson(`${gatehouse.url}/register`, { client_name: 'Cursor', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });
      assert.equal(response.status, 201, response.text);
      assert.deepEqual(response.body.redirect_uris, [redirectUri]);
      assert.equal(await gatehouse.count('clients'), before + 1);
    });

    it('answers 401 invalid_token on the client configuration endpoint for an unknown or unstorable client id', async () => {
      for (const id of ['no-such-client', 'a%00b']) {
        const response = await readJson(await fetch(`${gatehouse.url}/register/${id}`, { headers: { authorization: `Bearer gh_rat_${randomBytes(8).toString('hex')}` } }));
        assertOAuthError(response, 401, 'invalid_token', id);
      }
    });

    it('answers 404 not_found as JSON for an unknown route', async () => {
      for (const [method, path] of [
        ['GET', '/no-such-endpoint'],
        ['POST', '/no-such-endpoint'],
        ['GET', '/token/extra'],
      ] as const) {
        const response = await readJson(await fetch(`${gatehouse.url}${path}`, { method }));
        assertOAuthError(response, 404, 'not_found', `${method} ${path}`);
        assert.deepEqual(Object.keys(response.body).sort(), ['error', 'error_description']);
      }
    });
  });
});

describe('negative paths: code replay and refresh-token reuse (postgres)', { skip: postgresUnavailable() }, () => {
  let setup: Setup;
  before(async () => {
    setup = await setUp('postgres');
  });
  after(() => tearDown(setup));

  it('refuses a replayed code with invalid_grant, revokes the grant it produced, and refuses its refresh token', () => codeReplayRevokesTheGrant(setup));

  it('refuses a rotated refresh token with invalid_grant, revokes the grant, and refuses its newest refresh token too', () => refreshReuseRevokesTheGrant(setup));
});
