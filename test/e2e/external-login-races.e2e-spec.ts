import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Browser } from '../support/browser.js';
import { DATABASE_KINDS, skipUnless } from '../support/database.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, postJson, registerClient, type JsonResponse, type TestClient } from '../support/flows.js';

const PRODUCT = 'http://127.0.0.1:9';
const ROUNDS = 4;

/**
 * The product's completions read the interaction, then change it in one statement that checks again what the read
 * relied on: concurrent completions must still end exactly as if they had run one after the other.
 */
for (const database of DATABASE_KINDS) {
  describe(`concurrent completions of the product's login and consent (${database})`, { skip: skipUnless(database) }, () => {
    let gatehouse: RunningGatehouse;
    let resource: { id: string; resource: string; registration_secret: string };
    let client: TestClient;

    before(async () => {
      gatehouse = await startGatehouse({ database, env: { RATE_LIMIT_AUTHORIZE: '10000/1m', RATE_LIMIT_LOGIN_COMPLETE: '10000/1m' } });
      resource = await createResource(gatehouse, { resource: 'https://mcp.example.com/mcp', scopes: ['read'], default_scopes: ['read'] });
      const patched = await gatehouse.admin('PATCH', `/admin/resources/${resource.id}`, { login_method: 'external', login_uri: `${PRODUCT}/login`, consent_uri: `${PRODUCT}/consent` });
      assert.equal(patched.status, 200);
      client = await registerClient(gatehouse);
    });
    after(() => gatehouse?.close());

    const product = (path: string, body: unknown) => postJson(`${gatehouse.url}${path}`, body, { authorization: `Bearer ${resource.registration_secret}` });

    /** An authorization stopped at the product's login page: the browser and the external_auth_id. */
    async function atLogin(): Promise<{ browser: Browser; handle: string }> {
      const browser = new Browser();
      const stop = await browser.navigate(authorizationUrl(gatehouse.url, { client, resource: resource.resource }).url, (location) => location.startsWith(PRODUCT));
      assert.ok('stoppedAt' in stop);
      return { browser, handle: new URL(stop.stoppedAt).searchParams.get('external_auth_id') ?? '' };
    }

    /** Signs `user` in and stops at the product's consent page: its interaction_id. */
    async function atConsent(user: string): Promise<string> {
      const { browser, handle } = await atLogin();
      const login = await product('/api/login/complete', { external_auth_id: handle, user: { id: user } });
      assert.equal(login.status, 200, login.text);
      const stop = await browser.navigate(login.body.redirect_uri, (location) => location.startsWith(PRODUCT));
      assert.ok('stoppedAt' in stop);
      return new URL(stop.stoppedAt).searchParams.get('interaction_id') ?? '';
    }

    const statuses = (answers: JsonResponse[]) => answers.map((answer) => `${answer.status} ${answer.body?.error ?? ''}`.trim()).sort();
    const identities = async (subject: string) =>
      (await gatehouse.db.query(`SELECT user_id FROM user_identities WHERE provider = 'external' AND subject = $1`, [`${resource.id}:${subject}`])) as Array<{ user_id: string }>;

    it('one login handle completed twice at once: one sign-in, one event', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { handle } = await atLogin();
        const answers = await Promise.all(['a', 'b'].map((suffix) => product('/api/login/complete', { external_auth_id: handle, user: { id: `twice-${round}-${suffix}` } })));
        assert.deepEqual(statuses(answers), ['200', '400 invalid_grant']);
        const events = (await gatehouse.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE type = 'login.succeeded' AND subject IN (SELECT user_id::text FROM user_identities WHERE subject LIKE $1)`, [
          `${resource.id}:twice-${round}-%`,
        ])) as Array<{ n: number }>;
        assert.equal(events[0]?.n, 1);
        const users = (await gatehouse.db.query(`SELECT count(*)::int AS n FROM user_identities WHERE subject LIKE $1`, [`${resource.id}:twice-${round}-%`])) as Array<{ n: number }>;
        assert.equal(users[0]?.n, 1, 'the refused completion created no user');
      }
    });

    it("first sign-ins of one product user on two interactions at once: one user, and the second is told it wasn't created", async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const user = `concurrent-${round}`;
        const started = await Promise.all([atLogin(), atLogin()]);
        const usersBefore = await gatehouse.count('users');
        const answers = await Promise.all(started.map(({ handle }) => product('/api/login/complete', { external_auth_id: handle, user: { id: user } })));
        assert.deepEqual(statuses(answers), ['200', '200']);
        const [identity, ...more] = await identities(user);
        assert.ok(identity);
        assert.equal(more.length, 0);
        assert.equal(await gatehouse.count('users'), usersBefore + 1, 'one user');
        const signedIn = (await gatehouse.db.query(`SELECT user_id FROM interactions WHERE login_return_hash IS NOT NULL AND user_id = $1`, [identity.user_id])) as unknown[];
        assert.equal(signedIn.length, 2, 'both interactions completed for that user (each waiting for its browser)');
        const events = (await gatehouse.db.query(`SELECT data FROM audit_events WHERE type = 'login.succeeded' AND subject = $1 ORDER BY seq`, [identity.user_id])) as Array<{ data: unknown }>;
        assert.deepEqual(
          events.map((event) => event.data),
          [
            { provider: 'external', created: true },
            { provider: 'external', created: false },
          ],
        );
      }
    });

    it('a first sign-in racing a token minted for the same product user: one user for both', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const user = `minted-${round}`;
        const { handle } = await atLogin();
        const [login, minted] = await Promise.all([
          product('/api/login/complete', { external_auth_id: handle, user: { id: user } }),
          product('/api/oauth/token/exchange', { client_id: client.client_id, subject: user }),
        ]);
        assert.equal(login.status, 200, login.text);
        assert.equal(minted.status, 200, minted.text);
        const found = await identities(user);
        assert.equal(found.length, 1);
        const grants = (await gatehouse.db.query(`SELECT user_id FROM grants WHERE user_id = $1`, [found[0]!.user_id])) as unknown[];
        assert.equal(grants.length, 1, 'the minted grant is for that user');
      }
    });

    it('one consent handle approved twice at once: one code, one consent event', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const user = `consenting-${round}`;
        const handle = await atConsent(user);
        const codesBefore = await gatehouse.count('authorization_codes');
        const answers = await Promise.all([0, 1].map(() => product('/api/consent/complete', { interaction_id: handle, user_id: user, decision: 'approve' })));
        assert.deepEqual(statuses(answers), ['200', '400 invalid_grant']);
        assert.equal(await gatehouse.count('authorization_codes'), codesBefore + 1);
        const [identity] = await identities(user);
        const events = (await gatehouse.db.query(`SELECT type FROM audit_events WHERE subject = $1 AND type <> 'login.succeeded' ORDER BY seq`, [identity!.user_id])) as Array<{ type: string }>;
        assert.deepEqual(
          events.map((event) => event.type),
          ['consent.granted', 'authorization_code.issued'],
        );
      }
    });

    it('approve and deny of one consent handle at once: exactly one of them happens', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const user = `deciding-${round}`;
        const handle = await atConsent(user);
        const answers = await Promise.all(
          (['approve', 'deny'] as const).map((decision) => product('/api/consent/complete', { interaction_id: handle, user_id: user, decision })),
        );
        assert.deepEqual(statuses(answers), ['200', '400 invalid_grant']);
        const [identity] = await identities(user);
        const events = (await gatehouse.db.query(`SELECT type FROM audit_events WHERE subject = $1 AND type <> 'login.succeeded' ORDER BY seq`, [identity!.user_id])) as Array<{ type: string }>;
        const approved = answers.find((answer) => answer.status === 200)!.body.redirect_uri.includes('code=');
        assert.deepEqual(
          events.map((event) => event.type),
          approved ? ['consent.granted', 'authorization_code.issued'] : ['consent.denied'],
        );
      }
    });
  });
}
