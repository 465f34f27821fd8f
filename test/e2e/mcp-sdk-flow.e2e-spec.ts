import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser, consentForm } from '../support/browser.js';
import { createResource, MemoryLogger, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { FakeResourceServer } from '../support/resource-server.js';
import { InMemoryOAuthProvider } from '../support/sdk-provider.js';

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`MCP TypeScript SDK client, end to end (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let github: FakeGithub;
    let gatehouse: RunningGatehouse;
    let mcp: FakeResourceServer;
    const logs = new MemoryLogger();

    before(async () => {
      github = await new FakeGithub().start();
      gatehouse = await startGatehouse({ database, github, logger: logs });
      mcp = await new FakeResourceServer(gatehouse.url, ['tools:read', 'tools:execute']).start();
      await createResource(gatehouse, { resource: mcp.resource, scopes: ['tools:read', 'tools:execute'], default_scopes: ['tools:read'] });
    });

    after(async () => {
      await gatehouse?.close();
      await mcp?.stop();
      await github?.stop();
    });

    it('discovers, registers, authorizes through GitHub and consent, exchanges the code, and refreshes', async () => {
      const redirectUrl = 'http://127.0.0.1:33418/callback';
      const provider = new InMemoryOAuthProvider(redirectUrl, {
        client_name: 'SDK e2e client',
        redirect_uris: [redirectUrl],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      });

      assert.equal(await auth(provider, { serverUrl: mcp.resource }), 'REDIRECT');
      assert.ok(provider.client?.client_id, 'the SDK registered a client dynamically');
      const authorizationUrl = provider.authorizationUrl!;
      assert.equal(authorizationUrl.origin, gatehouse.url);
      assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(authorizationUrl.searchParams.get('resource'), mcp.resource);

      const callback = await new Browser().authorize(authorizationUrl.href, redirectUrl);
      assert.equal(callback.searchParams.get('iss'), gatehouse.url, 'RFC 9207 iss on the redirect');
      assert.equal(callback.searchParams.get('state'), authorizationUrl.searchParams.get('state'));
      const code = callback.searchParams.get('code');
      assert.ok(code);

      assert.equal(await auth(provider, { serverUrl: mcp.resource, authorizationCode: code }), 'AUTHORIZED');
      const first = provider.savedTokens!;
      assert.equal(first.token_type.toLowerCase(), 'bearer');
      assert.ok(first.refresh_token);

      const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(first.access_token, jwks, {
        issuer: gatehouse.url,
        audience: mcp.resource,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      });
      assert.equal(payload.client_id, provider.client!.client_id);
      assert.deepEqual(String(payload.scope).split(' ').sort(), ['tools:execute', 'tools:read']);
      const identities = (await gatehouse.db.query(`SELECT user_id, login FROM user_identities WHERE provider = 'github' AND subject = $1`, [String(github.nextUser.id)])) as Array<{ user_id: string; login: string }>;
      assert.equal(payload.sub, identities[0]?.user_id, 'sub is the stable Gatehouse subject of the GitHub user');
      assert.equal(identities[0]?.login, github.nextUser.login);
      assert.ok(protectedHeader.kid);

      // The SDK refreshes when it holds a refresh token; rotation hands out a new one.
      assert.equal(await auth(provider, { serverUrl: mcp.resource }), 'AUTHORIZED');
      const second = provider.savedTokens!;
      assert.notEqual(second.access_token, first.access_token);
      assert.ok(second.refresh_token);
      assert.notEqual(second.refresh_token, first.refresh_token);
      const refreshed = await jwtVerify(second.access_token, jwks, { issuer: gatehouse.url, audience: mcp.resource, typ: 'at+jwt' });
      assert.equal(refreshed.payload.sub, payload.sub);
      assert.equal(refreshed.payload.grant_id, payload.grant_id);

      // Nothing secret reaches a log line: not the tokens, the code, nor the registration access token.
      const secrets = [first.access_token, first.refresh_token, second.access_token, second.refresh_token, code];
      const registrationToken = (provider.client as { registration_access_token?: string }).registration_access_token;
      if (registrationToken) secrets.push(registrationToken);
      assert.ok(logs.lines.length > 0, 'the request log was captured');
      for (const secret of secrets) {
        assert.ok(secret && !logs.lines.some((line) => line.includes(secret)), 'a secret value appeared in the logs');
      }
    });

    /**
     * A public SDK client redirecting to `redirectUrl` that has authorized once (sign-in and consent in `browser`),
     * then lost its tokens: the SDK keeps its registration and sends the user to a new authorization.
     */
    async function authorizedOnceThenAgain(redirectUrl: string, browser: Browser): Promise<InMemoryOAuthProvider> {
      const provider = new InMemoryOAuthProvider(redirectUrl, {
        client_name: 'SDK returning client',
        redirect_uris: [redirectUrl],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      });
      assert.equal(await auth(provider, { serverUrl: mcp.resource }), 'REDIRECT');
      const first = await browser.authorize(provider.authorizationUrl!.href, redirectUrl);
      assert.ok(browser.pages.some((page) => consentForm(page)), 'the first authorization asked for consent');
      assert.equal(await auth(provider, { serverUrl: mcp.resource, authorizationCode: first.searchParams.get('code')! }), 'AUTHORIZED');
      const clientId = provider.client?.client_id;
      provider.invalidateCredentials('tokens');
      assert.equal(await auth(provider, { serverUrl: mcp.resource }), 'REDIRECT');
      assert.equal(provider.client?.client_id, clientId, 'the same registration');
      return provider;
    }

    it('with remembered consent, an https-redirect client gets its next code without any page (silent path)', async () => {
      const redirectUrl = 'https://sdk-agent.example.com/callback';
      const browser = new Browser();
      const provider = await authorizedOnceThenAgain(redirectUrl, browser);
      const pagesBefore = browser.pages.length;
      const again = await browser.navigate(provider.authorizationUrl!.href, (location) => location.startsWith(redirectUrl));
      assert.ok('stoppedAt' in again, `expected the client's redirect, got a page: ${'stoppedAt' in again ? '' : again.html.slice(0, 300)}`);
      assert.equal(browser.pages.length, pagesBefore, 'no page was shown');
      const callback = new URL(again.stoppedAt);
      assert.equal(callback.searchParams.get('state'), provider.authorizationUrl!.searchParams.get('state'));
      assert.equal(await auth(provider, { serverUrl: mcp.resource, authorizationCode: callback.searchParams.get('code')! }), 'AUTHORIZED');
      assert.ok(provider.savedTokens?.access_token);
    });

    it('with remembered consent, a loopback client is asked to continue, and one click completes the SDK flow', async () => {
      const redirectUrl = 'http://127.0.0.1:33419/callback';
      const browser = new Browser();
      const provider = await authorizedOnceThenAgain(redirectUrl, browser);
      const atClient = (location: string) => location.startsWith(redirectUrl);
      const page = await browser.navigate(provider.authorizationUrl!.href, atClient);
      assert.ok(!('stoppedAt' in page), `remembered consent sent a code to the loopback client unasked: ${'stoppedAt' in page ? page.stoppedAt : ''}`);
      assert.match(page.html, /Continue to SDK returning client<\/button>/);
      const form = consentForm(page);
      assert.ok(form);
      const back = await browser.submitConsent(form, 'approve', atClient);
      assert.ok('stoppedAt' in back, 'Continue sends the browser to the client');
      const callback = new URL(back.stoppedAt);
      assert.equal(callback.searchParams.get('state'), provider.authorizationUrl!.searchParams.get('state'));
      assert.equal(await auth(provider, { serverUrl: mcp.resource, authorizationCode: callback.searchParams.get('code')! }), 'AUTHORIZED');
      assert.ok(provider.savedTokens?.access_token);
    });
  });
}
