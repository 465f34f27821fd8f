import { after, before, describe, it, mock } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { PgliteThread } from '../../src/database/pglite-thread.js';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser } from '../support/browser.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { introspect, mintTokens, postForm, refreshTokens, registerClient, type JsonResponse } from '../support/flows.js';
import { LISTENER_APPLICATION_NAME } from '../../src/database/record-cache-listener.js';
import { AuditLog } from '../../src/audit/audit-log.js';

/**
 * What the token paths cost in database round trips, counted where the statements leave the process: node-postgres's
 * Client.query (every statement on PostgreSQL, TypeORM's and the hot ones alike, BEGIN and COMMIT included) and
 * the PGlite thread's query. The app runs without audit delivery, so the only background statements are the record
 * cache's heartbeat (pg_notify) and its listener connection, which are left out.
 */

interface Sent {
  text: string;
  /** The prepared statement's name; undefined for an unnamed statement. */
  name: string | undefined;
}

const RESOURCE = 'http://127.0.0.1:1/statements-mcp';
const SETTLE_MS = 50;

/**
 * The statements `gatehouse` sent for `request`: from its start (once earlier requests' written-behind events are
 * out) until its own written-behind event is (and SETTLE_MS more, for anything else it set off).
 */
async function statementsOf(gatehouse: RunningGatehouse, kind: DatabaseKind, request: () => Promise<JsonResponse>): Promise<{ response: JsonResponse; sent: Sent[] }> {
  const audit = gatehouse.app.get(AuditLog);
  await audit.flushObservations();
  const spies = kind === 'postgres' ? [mock.method(pg.Client.prototype, 'query')] : [mock.method(PgliteThread.prototype, 'query')];
  const calls = (): Array<{ first: unknown; self: unknown }> =>
    spies.flatMap((spy) => (spy.mock.calls as ReadonlyArray<{ arguments: readonly unknown[]; this: unknown }>).map((call) => ({ first: call.arguments[0], self: call.this })));
  try {
    const response = await request();
    await audit.flushObservations();
    await sleep(SETTLE_MS);
    const sent: Sent[] = [];
    for (const { first, self } of calls()) {
      const statement = typeof first === 'string' ? { text: first, name: undefined } : { text: (first as { text: string }).text, name: (first as { name?: string }).name };
      const application = (self as { connectionParameters?: { application_name?: string } } | undefined)?.connectionParameters?.application_name;
      if (application !== LISTENER_APPLICATION_NAME && !statement.text.includes('pg_notify')) sent.push(statement);
    }
    return { response, sent };
  } finally {
    for (const spy of spies) spy.mock.restore();
  }
}

const describeSent = (sent: Sent[]) => JSON.stringify(sent.map(({ name, text }) => `${name ?? '(unnamed)'}: ${text.replace(/\s+/g, ' ').slice(0, 90)}`), null, 1);

for (const database of ['postgres', 'pglite'] as DatabaseKind[]) {
  describe(`database round trips on the token paths (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let github: FakeGithub;
    let gatehouse: RunningGatehouse;
    let resource: { id: string; registration_secret: string };

    before(async () => {
      github = await new FakeGithub().start();
      gatehouse = await startGatehouse({ database, github, audit: { delivery: false }, env: { KEY_RELOAD_SECONDS: '3600' } });
      resource = await createResource(gatehouse, { resource: RESOURCE, scopes: ['tools:read', 'tools:write'], default_scopes: ['tools:read'] });
    });
    after(async () => {
      await gatehouse?.close();
      await github?.stop();
    });

    const token = (params: Record<string, string>) => postForm(`${gatehouse.url}/token`, params);

    /** A public client registered over HTTP, and a fresh authorization code for it. */
    async function codeForNewClient(): Promise<{ clientId: string; redirectUri: string; code: string; verifier: string }> {
      const redirectUri = 'http://127.0.0.1:47013/callback';
      const registration = await fetch(`${gatehouse.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], client_name: 'statement counter' }),
      });
      assert.equal(registration.status, 201);
      const clientId = ((await registration.json()) as { client_id: string }).client_id;
      const verifier = randomBytes(32).toString('base64url');
      const url = new URL(`${gatehouse.url}/authorize`);
      url.search = new URLSearchParams({
        client_id: clientId,
        response_type: 'code',
        redirect_uri: redirectUri,
        state: randomBytes(8).toString('hex'),
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource: RESOURCE,
        scope: 'tools:read tools:write',
      }).toString();
      const code = (await new Browser().authorize(url.href, redirectUri)).searchParams.get('code');
      assert.ok(code);
      return { clientId, redirectUri, code, verifier };
    }

    it('a code exchange: exactly one statement when it succeeds', async () => {
      const { clientId, redirectUri, code, verifier } = await codeForNewClient();
      const { response, sent } = await statementsOf(gatehouse, database, () =>
        token({ grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: redirectUri, resource: RESOURCE }),
      );
      assert.equal(response.status, 200, response.text);
      // The code consumed, the grant, its refresh token and the event, with no BEGIN/COMMIT around them.
      assert.equal(sent.length, 1, describeSent(sent));
      assert.match(sent[0]!.text, /UPDATE authorization_codes/);
      if (database === 'postgres') assert.match(sent[0]!.name ?? '', /^code_exchange_/, 'a prepared statement');
    });

    it('a refused code exchange (PKCE): the statement that consumes nothing, then one read to say why', async () => {
      const { clientId, redirectUri, code } = await codeForNewClient();
      const { response, sent } = await statementsOf(gatehouse, database, () =>
        token({ grant_type: 'authorization_code', client_id: clientId, code, code_verifier: randomBytes(32).toString('base64url'), redirect_uri: redirectUri }),
      );
      assert.equal(response.status, 400);
      assert.equal(response.body.error, 'invalid_grant');
      assert.match(String(response.body.error_description), /PKCE/);
      assert.equal(sent.length, 2, describeSent(sent));
    });

    it('a refresh: exactly one statement when it succeeds, whatever it is asked for', async () => {
      const { clientId, redirectUri, code, verifier } = await codeForNewClient();
      const issued = await token({ grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: redirectUri, resource: RESOURCE });
      assert.equal(issued.status, 200, issued.text);
      let refreshToken = issued.body.refresh_token as string;
      const requests: Array<Record<string, string>> = [{}, { resource: RESOURCE, scope: 'tools:read' }, { scope: 'tools:write tools:read' }];
      for (const extra of requests) {
        const { response, sent } = await statementsOf(gatehouse, database, () => token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken, ...extra }));
        assert.equal(response.status, 200, response.text);
        assert.equal(sent.length, 1, `${JSON.stringify(extra)}: ${describeSent(sent)}`);
        assert.match(sent[0]!.text, /UPDATE refresh_tokens/);
        if (database === 'postgres') assert.match(sent[0]!.name ?? '', /^refresh_rotation_/, 'a prepared statement');
        assert.equal(response.body.scope, extra.scope ?? 'tools:read tools:write');
        refreshToken = response.body.refresh_token as string;
      }
    });

    it('a refused refresh: the statement that rotates nothing, then one read to say why', async () => {
      const { clientId, redirectUri, code, verifier } = await codeForNewClient();
      const issued = await token({ grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: redirectUri, resource: RESOURCE });
      const { response, sent } = await statementsOf(gatehouse, database, () =>
        token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: issued.body.refresh_token as string, scope: 'tools:admin' }),
      );
      assert.equal(response.status, 400);
      assert.equal(response.body.error, 'invalid_scope');
      assert.equal(sent.length, 2, describeSent(sent));
    });

    it('a retried refresh (within the reuse grace): the statement that rotates nothing, one read, then the retry as one statement', async () => {
      const { clientId, redirectUri, code, verifier } = await codeForNewClient();
      const issued = await token({ grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: redirectUri, resource: RESOURCE });
      const refresh = { grant_type: 'refresh_token', client_id: clientId, refresh_token: issued.body.refresh_token as string };
      assert.equal((await token(refresh)).status, 200);
      const { response, sent } = await statementsOf(gatehouse, database, () => token(refresh));
      assert.equal(response.status, 200, response.text);
      assert.equal(sent.length, 3, describeSent(sent));
      assert.match(sent[2]!.text, /SET retries = rt\.retries \+ 1/);
      if (database === 'postgres') assert.match(sent[2]!.name ?? '', /^refresh_retry_/, 'a prepared statement');
    });

    it('an introspection of a live access token: one read and its event the first time, nothing again', async () => {
      const { clientId, redirectUri, code, verifier } = await codeForNewClient();
      const issued = await token({ grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: redirectUri, resource: RESOURCE });
      const caller = { resource, via: 'basic' as const };
      const accessToken = issued.body.access_token as string;
      // The resource server's first request looks it up by its secret; the record cache keeps it.
      await introspect(gatehouse, caller, 'not-a-token');
      const first = await statementsOf(gatehouse, database, () => introspect(gatehouse, caller, accessToken));
      assert.equal(first.response.body.active, true, first.response.text);
      assert.equal(first.sent.length, 2, describeSent(first.sent));
      assert.match(first.sent[0]!.text, /grant_live/);
      assert.match(first.sent[1]!.text, /INSERT INTO audit_events/);
      if (database === 'postgres') assert.match(first.sent[0]!.name ?? '', /^token_standing_/);
      // Known live now, and the same answer to the same caller within the minute: nothing is read or written.
      const again = await statementsOf(gatehouse, database, () => introspect(gatehouse, caller, accessToken));
      assert.equal(again.response.body.active, true, again.response.text);
      assert.deepEqual(again.sent, [], describeSent(again.sent));
    });
  });
}

describe('DATABASE_PREPARED_STATEMENTS=off (postgres)', { skip: postgresUnavailable() }, () => {
  let gatehouse: RunningGatehouse;

  before(async () => {
    gatehouse = await startGatehouse({ database: 'postgres', audit: { delivery: false }, env: { KEY_RELOAD_SECONDS: '3600', DATABASE_PREPARED_STATEMENTS: 'off' } });
  });
  after(async () => {
    await gatehouse?.close();
  });

  it('sends the hot statements unnamed: nothing is left prepared for a transaction-mode pooler to lose', async () => {
    const resource = await createResource(gatehouse, { resource: RESOURCE, scopes: ['tools:read'], default_scopes: ['tools:read'] });
    const client = await registerClient(gatehouse);
    const minted = await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'statement-counter' });
    const refreshed = await statementsOf(gatehouse, 'postgres', () => refreshTokens(gatehouse, { client }, minted.refreshToken));
    assert.equal(refreshed.response.status, 200, refreshed.response.text);
    assert.equal(refreshed.sent.length, 1, describeSent(refreshed.sent));
    const caller = { resource, via: 'basic' as const };
    const introspected = await statementsOf(gatehouse, 'postgres', () => introspect(gatehouse, caller, minted.accessToken));
    assert.equal(introspected.response.body.active, true, introspected.response.text);
    for (const { sent } of [refreshed, introspected]) assert.deepEqual(sent.filter((statement) => statement.name !== undefined), [], describeSent(sent));
    const prepared = (await gatehouse.db.query('SELECT count(*)::int AS n FROM pg_prepared_statements')) as Array<{ n: number }>;
    assert.equal(prepared[0]?.n, 0);
  });
});
