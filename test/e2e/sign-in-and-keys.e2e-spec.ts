import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser } from '../support/browser.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { assertOAuthError, authorizationUrl, databaseCounts, exchangeCode, obtainCode, registerClient, type TestClient } from '../support/flows.js';
import { KeyService } from '../../src/keys/key.service.js';

const RESOURCE_A = 'https://a.example.com/mcp';
const RESOURCE_B = 'https://b.example.com/mcp';

describe('sign-in with GitHub, resource selection, and key rotation', () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;
  let client: TestClient;

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({ github });
    await createResource(gatehouse, { name: 'A', resource: RESOURCE_A, scopes: ['a:read'], default_scopes: ['a:read'] });
    client = await registerClient(gatehouse);
  });
  after(async () => {
    await gatehouse?.close();
    await github?.stop();
  });

  it('sends the browser to the configured GitHub authorization URL with a state, and the callback refuses a forged state', async () => {
    const built = authorizationUrl(gatehouse.url, { client, resource: RESOURCE_A });
    const browser = new Browser();
    const signIn = await browser.navigate(built.url, (location) => location.startsWith(github.env.GITHUB_AUTHORIZATION_URL!));
    assert.ok(!('stoppedAt' in signIn));
    const link = /href="([^"]*\/login\/github)"/.exec(signIn.html)?.[1];
    assert.ok(link);
    const toGithub = await browser.navigate(new URL(link, signIn.url).href, (location) => location.startsWith(github.env.GITHUB_AUTHORIZATION_URL!));
    assert.ok('stoppedAt' in toGithub);
    const githubUrl = new URL(toGithub.stoppedAt);
    assert.equal(githubUrl.searchParams.get('client_id'), github.clientId);
    assert.equal(githubUrl.searchParams.get('redirect_uri'), `${gatehouse.url}/login/github/callback`);
    const state = githubUrl.searchParams.get('state');
    assert.match(state ?? '', /^[A-Za-z0-9_-]{43}$/);

    const before = await databaseCounts(gatehouse);
    // Same browser, forged state; another browser with the right state: both refused, nobody signed in.
    const forged = await browser.fetch(`${gatehouse.url}/login/github/callback?code=anything&state=${'x'.repeat(43)}`);
    assert.equal(forged.status, 403);
    assert.match(await forged.text(), /Sign-in not accepted/);
    const elsewhere = await new Browser().fetch(`${gatehouse.url}/login/github/callback?code=anything&state=${state}`);
    assert.equal(elsewhere.status, 403);
    const after = await databaseCounts(gatehouse);
    assert.equal(after.users, before.users);
    assert.equal(after.user_identities, before.user_identities);
  });

  it('keeps the subject stable when the GitHub login name changes, and records the new login', async () => {
    github.nextUser = { id: 9001, login: 'first-name', name: 'Someone' };
    const first = await obtainCode(gatehouse, { client, resource: RESOURCE_A });
    const firstTokens = await exchangeCode(gatehouse, { client }, first);
    github.nextUser = { id: 9001, login: 'renamed', name: 'Someone' };
    const second = await obtainCode(gatehouse, { client, resource: RESOURCE_A });
    const secondTokens = await exchangeCode(gatehouse, { client }, second);
    const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
    const a = await jwtVerify(firstTokens.body.access_token, jwks, { issuer: gatehouse.url, audience: RESOURCE_A });
    const b = await jwtVerify(secondTokens.body.access_token, jwks, { issuer: gatehouse.url, audience: RESOURCE_A });
    assert.equal(a.payload.sub, b.payload.sub);
    const rows = (await gatehouse.db.query(`SELECT login FROM user_identities WHERE provider = 'github' AND subject = '9001'`)) as Array<{ login: string }>;
    assert.deepEqual(rows, [{ login: 'renamed' }]);
  });

  it('uses the only resource when none is named, the default one among several, and otherwise answers invalid_target', async () => {
    const implicit = await obtainCode(gatehouse, { client });
    const tokens = await exchangeCode(gatehouse, { client }, implicit);
    assert.equal(tokens.status, 200);
    const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
    assert.equal((await jwtVerify(tokens.body.access_token, jwks)).payload.aud, RESOURCE_A);

    const b = await createResource(gatehouse, { name: 'B', resource: RESOURCE_B, scopes: ['b:read'], default_scopes: ['b:read'] });
    const ambiguous = authorizationUrl(gatehouse.url, { client });
    const response = await fetch(ambiguous.url, { redirect: 'manual' });
    assert.equal(response.status, 302);
    const location = new URL(response.headers.get('location')!);
    assert.equal(location.searchParams.get('error'), 'invalid_target');
    assert.equal(location.searchParams.get('state'), ambiguous.state);

    assert.equal((await gatehouse.admin('PATCH', `/admin/resources/${b.id}`, { is_default: true })).status, 200);
    const chosen = await obtainCode(gatehouse, { client });
    const defaultTokens = await exchangeCode(gatehouse, { client }, chosen);
    assert.equal((await jwtVerify(defaultTokens.body.access_token, jwks)).payload.aud, RESOURCE_B);
  });

  it('rotates keys: the published next key signs new tokens, and tokens signed before still verify', async () => {
    const before = await obtainCode(gatehouse, { client, resource: RESOURCE_A });
    const oldToken = (await exchangeCode(gatehouse, { client }, before)).body.access_token as string;
    const oldKid = decodeProtectedHeader(oldToken).kid;
    const published = ((await (await fetch(`${gatehouse.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);

    const rotation = await gatehouse.app.get(KeyService).rotate();
    assert.equal(rotation.retired, oldKid);
    assert.ok(published.includes(rotation.active), 'the key that now signs was in the JWKS before it signed');

    const after = await obtainCode(gatehouse, { client, resource: RESOURCE_A });
    const newToken = (await exchangeCode(gatehouse, { client }, after)).body.access_token as string;
    assert.equal(decodeProtectedHeader(newToken).kid, rotation.active);
    const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
    await jwtVerify(oldToken, jwks, { issuer: gatehouse.url, audience: RESOURCE_A });
    await jwtVerify(newToken, jwks, { issuer: gatehouse.url, audience: RESOURCE_A });
  });

  it('a code obtained for one resource cannot be exchanged for another', async () => {
    const obtained = await obtainCode(gatehouse, { client, resource: RESOURCE_A });
    assertOAuthError(await exchangeCode(gatehouse, { client }, obtained, { resource: RESOURCE_B }), 400, 'invalid_target');
  });
});
