import { after, before, describe, it, mock } from 'node:test';
import { strict as assert } from 'node:assert';
import pg from 'pg';
import { PgliteThread } from '../../src/database/pglite-thread.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, RequestListener, Server } from 'node:http';
import { Browser } from '../support/browser.js';
import { DATABASE_KINDS, skipUnless } from '../support/database.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, postForm, postJson, registerClient, type TestClient } from '../support/flows.js';

/**
 * Every statement is a round trip to the database (BEGIN and COMMIT included), and round trips are what an
 * authorization costs: this pins how many each step of one sends, so that a change that adds one shows here.
 */

/**
 * The statements each request sends, by its X-Request-Id (statements outside any request are not counted), where
 * they leave the process: node-postgres's Client.query (TypeORM's statements and Database.hot's alike, BEGIN and
 * COMMIT included) and the PGlite thread's query (every statement posted to its worker). The test's own
 * AsyncLocalStorage, entered around `server`'s request handling (and its request stream's events, whose body parsing runs from the socket's context), follows each
 * statement there; Gatehouse itself keeps none (src/common/request-context.middleware.ts).
 */
function statementLog(server: Server): { byRequest: Map<string, string[]>; stop: () => void } {
  const byRequest = new Map<string, string[]>();
  const requests = new AsyncLocalStorage<string>();
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res) => {
    const id = req.headers['x-request-id'];
    requests.run(typeof id === 'string' ? id : '', () => {
      req.emit = AsyncLocalStorage.bind(req.emit.bind(req)) as typeof req.emit;
      for (const listener of listeners) listener.call(server, req, res);
    });
  });
  const record = (statement: unknown) => {
    const requestId = requests.getStore();
    const text = typeof statement === 'string' ? statement : (statement as { text?: unknown } | null)?.text;
    if (requestId && typeof text === 'string') byRequest.set(requestId, [...(byRequest.get(requestId) ?? []), text.replace(/\s+/g, ' ').trim().slice(0, 120)]);
  };
  const spies = [pg.Client.prototype, PgliteThread.prototype].flatMap((prototype) =>
    (['query', 'exec'] as const)
      .filter((method) => typeof (prototype as unknown as Record<string, unknown>)[method] === 'function')
      .map((method) => {
        const original = (prototype as unknown as Record<string, (...args: unknown[]) => unknown>)[method]!;
        return mock.method(prototype as unknown as Record<string, (...args: unknown[]) => unknown>, method, function (this: unknown, ...args: unknown[]) {
          record(args[0]);
          return original.apply(this, args);
        });
      }),
  );
  const stop = () => {
    spies.forEach((spy) => spy.mock.restore());
    server.removeAllListeners('request');
    for (const listener of listeners) server.on('request', listener);
  };
  return { byRequest, stop };
}

const PRODUCT = 'http://127.0.0.1:9';

for (const database of DATABASE_KINDS) {
  describe(`statements per step of an authorization through the product's login and consent pages (${database})`, { skip: skipUnless(database) }, () => {
    let gatehouse: RunningGatehouse;
    let resource: { id: string; resource: string; registration_secret: string };
    let client: TestClient;
    let log: ReturnType<typeof statementLog>;

    before(async () => {
      gatehouse = await startGatehouse({ database });
      resource = await createResource(gatehouse, { resource: 'https://mcp.example.com/mcp', scopes: ['read', 'write'], default_scopes: ['read'] });
      const patched = await gatehouse.admin('PATCH', `/admin/resources/${resource.id}`, { login_method: 'external', login_uri: `${PRODUCT}/login`, consent_uri: `${PRODUCT}/consent` });
      assert.equal(patched.status, 200);
      client = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic' });
      log = statementLog(gatehouse.app.getHttpServer() as Server);
    });
    after(async () => {
      log?.stop();
      await gatehouse?.close();
    });

    /** One authorization as the benchmark drives it; returns the statements of each step, keyed by step. */
    async function flow(run: string, productUser: string): Promise<Record<string, string[]>> {
      const browser = new Browser();
      const id = (step: string) => ({ 'x-request-id': `${run}.${step}` });
      const built = authorizationUrl(gatehouse.url, { client, resource: resource.resource, scope: 'read write' });
      const product = { authorization: `Bearer ${resource.registration_secret}` };

      const authorized = await browser.fetch(built.url, { headers: id('authorize') });
      const toLogin = new URL(authorized.headers.get('location') ?? '');
      assert.equal(toLogin.origin + toLogin.pathname, `${PRODUCT}/login`, 'the browser goes straight to the product’s login page');
      const login = await postJson(`${gatehouse.url}/api/login/complete`, { external_auth_id: toLogin.searchParams.get('external_auth_id'), user: { id: productUser } }, { ...product, ...id('login_complete') });
      assert.equal(login.status, 200, login.text);
      const returned = await browser.fetch(login.body.redirect_uri, { headers: id('login_return') });
      // The login counts in this browser, which goes on from its interaction: to consent, or to the client.
      let next = new URL(returned.headers.get('location') ?? '');
      if (next.href.startsWith(`${PRODUCT}/consent`)) {
        assert.equal(next.searchParams.get('user_id'), productUser);
        const consent = await postJson(`${gatehouse.url}/api/consent/complete`, { interaction_id: next.searchParams.get('interaction_id'), user_id: productUser, decision: 'approve' }, { ...product, ...id('consent_complete') });
        assert.equal(consent.status, 200, consent.text);
        next = new URL(consent.body.redirect_uri);
      }
      assert.equal(next.searchParams.get('state'), built.state);
      const token = await postForm(
        `${gatehouse.url}/token`,
        { grant_type: 'authorization_code', code: next.searchParams.get('code') ?? '', code_verifier: built.pkce.verifier, redirect_uri: built.redirectUri },
        { authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`, ...id('token') },
      );
      assert.equal(token.status, 200, token.text);
      const steps: Record<string, string[]> = {};
      for (const [requestId, statements] of log.byRequest) if (requestId.startsWith(`${run}.`)) steps[requestId.slice(run.length + 1)] = statements;
      return steps;
    }

    const counts = (steps: Record<string, string[]>, names: string[]) => Object.fromEntries(names.map((name) => [name, steps[name]?.length ?? 0]));

    it('a first sign-in with consent', async () => {
      await flow('warm-up', 'warm-up-user'); // caches the client and resource, records the client's use
      const steps = await flow('first', 'first-user');
      const expected = { authorize: 1, login_complete: 2, login_return: 2, consent_complete: 2 };
      assert.deepEqual(counts(steps, Object.keys(expected)), expected, JSON.stringify(steps, null, 1));
    });

    it('a returning user whose consent is remembered: the code is issued on the return from the login', async () => {
      const steps = await flow('returning', 'first-user');
      const expected = { authorize: 1, login_complete: 2, login_return: 3, consent_complete: 0 };
      assert.deepEqual(counts(steps, Object.keys(expected)), expected, JSON.stringify(steps, null, 1));
    });

    it('records the events of those flows, in order, for the product user', async () => {
      const [identity] = (await gatehouse.db.query(`SELECT user_id FROM user_identities WHERE provider = 'external' AND subject = $1`, [`${resource.id}:first-user`])) as Array<{ user_id: string }>;
      assert.ok(identity);
      const events = (await gatehouse.db.query(
        `SELECT type, actor_kind, actor_id, client_id, subject, resource, scopes, data FROM audit_events WHERE request_id LIKE 'first.%' OR request_id LIKE 'returning.%' ORDER BY seq`,
      )) as Array<{ type: string; data: Record<string, unknown> }>;
      const user = { actor_kind: 'user', actor_id: identity.user_id, client_id: client.client_id, subject: identity.user_id, resource: resource.resource, scopes: ['read', 'write'] };
      assert.deepEqual(
        events.filter((event) => event.type !== 'token.issued'),
        [
          { type: 'login.succeeded', ...user, scopes: null, data: { provider: 'external', created: true } },
          { type: 'consent.granted', ...user, data: { scopes: ['read', 'write'], via: 'product' } },
          { type: 'authorization_code.issued', ...user, data: { scopes: ['read', 'write'], consent: 'product' } },
          { type: 'login.succeeded', ...user, scopes: null, data: { provider: 'external', created: false } },
          { type: 'authorization_code.issued', ...user, data: { scopes: ['read', 'write'], consent: 'remembered' } },
        ],
      );
    });
  });
}
