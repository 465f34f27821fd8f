import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { FakeGithub } from '../fakes/fake-github.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import {
  assertErrorPage,
  assertOAuthError,
  auditEvents,
  authorizationUrl,
  databaseCounts,
  exchangeCode,
  loopbackRedirectUri,
  mintTokens,
  obtainCode,
  postJson,
  refreshTokens,
  registerClient,
  type JsonResponse,
  type TestClient,
  type TestResource,
} from '../support/flows.js';
import { clientIds, countRows, insertClientRow, insertClientRows, insertGrantRow, insertResourceRow } from '../factories/clients.js';
import { ClientsHousekeeping } from '../../src/registration/clients-housekeeping.js';
import { RecordCache } from '../../src/database/record-cache.js';

/**
 * Dynamic registration hygiene through the running server: which clients the expiry job deletes (and what it
 * records), the cap on dynamic clients, identical re-registrations, when a client's use is recorded, and what a
 * deleted or expired client gets back. Tests run in order on one Gatehouse per database; each starts from the rows
 * it needs (the database is a throwaway one).
 */
const MAX = 2000;
const CAP_ERROR = `dynamic client registration limit reached (${MAX} clients); unused clients expire after 24 hours, idle ones 90 days after their last use`;
const ENV = { DCR_MAX_CLIENTS: String(MAX), RATE_LIMIT_REGISTER: '10000/1m' };

function register(gatehouse: RunningGatehouse, metadata: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return postJson(
    `${gatehouse.url}/register`,
    { client_name: 'Hygiene client', redirect_uris: ['http://127.0.0.1:40123/callback'], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none', ...metadata },
    headers,
  );
}

async function lastUsedAt(gatehouse: RunningGatehouse, clientId: string): Promise<Date | null> {
  const rows = (await gatehouse.db.query('SELECT last_used_at FROM clients WHERE id = $1', [clientId])) as Array<{ last_used_at: Date | null }>;
  assert.equal(rows.length, 1, `client ${clientId} exists`);
  return rows[0]!.last_used_at === null ? null : new Date(rows[0]!.last_used_at);
}

/**
 * Stands for time passing since the client's last use. The row is changed behind the server's back, so the server's
 * cached copy is dropped too: it would have aged just the same.
 */
async function setLastUsed(gatehouse: RunningGatehouse, clientId: string, ago: string | null): Promise<Date | null> {
  await gatehouse.db.query(`UPDATE clients SET last_used_at = now() - $2::interval WHERE id = $1`, [clientId, ago]);
  gatehouse.app.get(RecordCache).evict('client', [clientId]);
  return lastUsedAt(gatehouse, clientId);
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`dynamic client hygiene, end to end (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let github: FakeGithub;
    let gatehouse: RunningGatehouse;
    let resource: TestResource;
    let job: ClientsHousekeeping;

    before(async () => {
      github = await new FakeGithub().start();
      gatehouse = await startGatehouse({ database, github, env: ENV });
      resource = await createResource(gatehouse, { resource: 'https://mcp.hygiene.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
      job = gatehouse.app.get(ClientsHousekeeping);
    });
    after(async () => {
      await gatehouse?.close();
      await github?.stop();
    });

    const clearDynamic = () => gatehouse.db.query(`DELETE FROM clients WHERE kind = 'dynamic'`);

    it('expiry: unused clients go (over several batches), idle ones go; live refresh tokens, static and recently used metadata-document clients stay', async () => {
      await clearDynamic();
      const db = gatehouse.db;
      const resourceId = await insertResourceRow(db);
      const eventsBefore = await gatehouse.count('audit_events');
      // More than a batch (1000) of abandoned registrations.
      await insertClientRows(db, 1500, { registeredAgo: '2 days', name: 'abandoned' });
      const idle = await insertClientRow(db, { registeredAgo: '1 year', lastUsedAgo: '100 days' });
      const idleDeadTokens = await insertClientRow(db, { registeredAgo: '1 year', lastUsedAgo: '100 days' });
      await insertGrantRow(db, idleDeadTokens, resourceId, { refreshTokens: [{ expiresIn: '-1 day' }, { expiresIn: '5 days', rotated: true }] });
      const kept = {
        idleWithLiveRefreshToken: await insertClientRow(db, { registeredAgo: '1 year', lastUsedAgo: '100 days' }),
        unusedWithLiveRefreshToken: await insertClientRow(db, { registeredAgo: '3 days' }),
        young: await insertClientRow(db, { registeredAgo: '23 hours' }),
        recentlyUsed: await insertClientRow(db, { registeredAgo: '1 year', lastUsedAgo: '10 days' }),
        staticUnused: await insertClientRow(db, { kind: 'static', registeredAgo: '2 years' }),
        staticIdle: await insertClientRow(db, { kind: 'static', registeredAgo: '2 years', lastUsedAgo: '2 years' }),
        // Metadata-document clients have lifetimes of their own, from their last use (cimd-client-hygiene.e2e-spec.ts).
        documentRecentlyUsed: await insertClientRow(db, { kind: 'metadata_document', registeredAgo: '2 years', lastUsedAgo: '20 hours' }),
        registeredJustNow: String((await register(gatehouse)).body.client_id),
      };
      await insertGrantRow(db, kept.idleWithLiveRefreshToken, resourceId, { refreshTokens: [{ expiresIn: '20 days' }] });
      await insertGrantRow(db, kept.unusedWithLiveRefreshToken, resourceId, { refreshTokens: [{ expiresIn: '1 hour' }] });

      await job.tick();

      const remaining = await clientIds(db);
      for (const [name, id] of Object.entries(kept)) assert.ok(remaining.has(id), `${name} was kept`);
      assert.ok(!remaining.has(idle) && !remaining.has(idleDeadTokens), 'idle clients without a live refresh token went');
      assert.equal(await countRows(db, `SELECT 1 FROM clients WHERE metadata->>'client_name' = 'abandoned'`), 0, 'all 1500 unused clients went, over two batches');
      assert.deepEqual([...remaining].sort(), Object.values(kept).sort(), 'nothing else remains');
      assert.equal(await countRows(db, 'SELECT 1 FROM grants WHERE client_id NOT IN (SELECT id FROM clients)'), 0);

      const expired = await auditEvents(gatehouse, 'client.expired');
      assert.equal(expired.length, 1502);
      assert.equal(await gatehouse.count('audit_events'), eventsBefore + 1 + 1502, 'one client.registered and one client.expired per deleted client');
      assert.equal(expired.filter((event) => event.data.reason === 'never_used').length, 1500);
      assert.deepEqual(expired.filter((event) => event.data.reason === 'idle').map((event) => event.client_id).sort(), [idle, idleDeadTokens].sort());
      // Through the admin API, as an operator reads it.
      const page = await gatehouse.admin('GET', `/admin/audit?type=client.expired&client_id=${encodeURIComponent(idle)}`);
      assert.equal(page.status, 200);
      const event = page.body.events[0];
      assert.deepEqual(event.actor, { kind: 'system', id: null });
      assert.equal(event.outcome, 'success');
      assert.equal(event.data.reason, 'idle');
      assert.ok(Date.parse(event.data.last_used_at) < Date.now() - 99 * 86_400_000);
      assert.ok(Date.parse(event.data.registered_at) < Date.now() - 364 * 86_400_000);

      // A second run finds nothing more.
      await job.tick();
      assert.equal((await auditEvents(gatehouse, 'client.expired')).length, 1502);
      assert.deepEqual(await clientIds(db), remaining);
    });

    it('cap: the registration beyond DCR_MAX_CLIENTS gets 403 access_denied, Cache-Control no-store, and writes nothing', async () => {
      await clearDynamic();
      await insertClientRows(gatehouse.db, MAX - 1, { name: 'filler' });
      // Pre-registered and metadata-document clients do not count.
      await insertClientRows(gatehouse.db, 30, { kind: 'static' });
      await insertClientRow(gatehouse.db, { kind: 'metadata_document' });
      const last = await register(gatehouse);
      assert.equal(last.status, 201, last.text);

      const before = { ...(await databaseCounts(gatehouse)), initial_access_tokens: await gatehouse.count('initial_access_tokens') };
      const refused = await register(gatehouse);
      assertOAuthError(refused, 403, 'access_denied');
      assert.deepEqual(refused.body, { error: 'access_denied', error_description: CAP_ERROR });
      assert.equal(refused.headers.get('cache-control'), 'no-store');
      assert.deepEqual({ ...(await databaseCounts(gatehouse)), initial_access_tokens: await gatehouse.count('initial_access_tokens') }, before, 'a refused registration writes nothing');

      // An administrator can still pre-register.
      const admin = await gatehouse.admin('POST', '/admin/clients', { redirect_uris: ['https://app.example.com/cb'], client_name: 'Pre-registered' });
      assert.equal(admin.status, 201);

      // When a client goes, there is room again.
      const deleted = await fetch(`${gatehouse.url}/register/${String(last.body.client_id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${String(last.body.registration_access_token)}` } });
      assert.equal(deleted.status, 204);
      assert.equal((await register(gatehouse)).status, 201);
      assertOAuthError(await register(gatehouse), 403, 'access_denied');
    });

    it('a refused registration removes nothing, not even the identical earlier registration it would have replaced', async () => {
      await clearDynamic();
      const metadata = { client_name: 'Restarts often' };
      const first = await register(gatehouse, metadata);
      assert.equal(first.status, 201);
      await gatehouse.db.query(`UPDATE clients SET created_at = now() - interval '11 minutes' WHERE id = $1`, [first.body.client_id]);
      // Over the cap even after the earlier registration would go.
      await insertClientRows(gatehouse.db, MAX + 1, { name: 'filler' });
      const before = await databaseCounts(gatehouse);
      assertOAuthError(await register(gatehouse, metadata), 403, 'access_denied');
      assert.deepEqual(await databaseCounts(gatehouse), before);
      assert.ok((await clientIds(gatehouse.db)).has(String(first.body.client_id)));
    });

    it('identical re-registrations replace the earlier unused ones, keeping O(1) rows, and never one that may be mid-authorization', async () => {
      await clearDynamic();
      const metadata = { client_name: 'Re-registers on every start', software_id: 'editor', software_version: '1.2.3' };
      const fingerprintRows = async (): Promise<string[]> =>
        ((await gatehouse.db.query(`SELECT id FROM clients WHERE metadata->>'client_name' = $1 ORDER BY created_at`, [metadata.client_name])) as Array<{ id: string }>).map((row) => row.id);
      const age = () => gatehouse.db.query(`UPDATE clients SET created_at = created_at - interval '11 minutes' WHERE metadata->>'client_name' = $1`, [metadata.client_name]);

      const first = (await register(gatehouse, metadata)).body;
      const second = (await register(gatehouse, metadata)).body;
      assert.notEqual(first.client_id, second.client_id, 'every registration is its own client, with its own credentials');
      assert.notEqual(first.registration_access_token, second.registration_access_token);
      assert.deepEqual(await fingerprintRows(), [first.client_id, second.client_id], 'a registration younger than an authorization can take is kept');

      await age();
      const third = (await register(gatehouse, metadata)).body;
      assert.deepEqual(await fingerprintRows(), [third.client_id]);
      const superseded = (await auditEvents(gatehouse, 'client.expired')).filter((event) => event.data.reason === 'superseded');
      assert.deepEqual(superseded.map((event) => event.client_id).sort(), [first.client_id, second.client_id].sort());
      assert.ok(superseded.every((event) => event.data.superseded_by === third.client_id));
      // The replaced registration's credentials no longer work.
      const old = await fetch(`${gatehouse.url}/register/${String(first.client_id)}`, { headers: { authorization: `Bearer ${String(first.registration_access_token)}` } });
      assert.equal(old.status, 401);

      for (let start = 0; start < 5; start++) {
        await age();
        await register(gatehouse, metadata);
        assert.equal((await fingerprintRows()).length, 1, `after start ${start + 1}`);
      }

      // A used one, one with a grant, or one with other metadata stays.
      const [current] = await fingerprintRows();
      const used = (await register(gatehouse, metadata)).body;
      await setLastUsed(gatehouse, String(used.client_id), '5 minutes');
      const other = (await register(gatehouse, { ...metadata, software_version: '1.2.4' })).body;
      await gatehouse.db.query(`UPDATE clients SET created_at = created_at - interval '11 minutes'`);
      const latest = (await register(gatehouse, metadata)).body;
      const ids = await clientIds(gatehouse.db);
      assert.ok(!ids.has(current!), 'the unused one went');
      for (const id of [used.client_id, other.client_id, latest.client_id]) assert.ok(ids.has(String(id)));
    });

    it('an RFC 7592 update re-fingerprints the client, so the metadata it now has is what identical registrations match', async () => {
      await clearDynamic();
      const updated = (await register(gatehouse, { client_name: 'Before update' })).body;
      const put = await fetch(`${gatehouse.url}/register/${String(updated.client_id)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${String(updated.registration_access_token)}` },
        body: JSON.stringify({ client_id: updated.client_id, client_name: 'After update', redirect_uris: ['http://127.0.0.1:40123/callback'], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' }),
      });
      assert.equal(put.status, 200);
      await gatehouse.db.query(`UPDATE clients SET created_at = now() - interval '11 minutes'`);
      assert.equal((await register(gatehouse, { client_name: 'Before update' })).status, 201);
      assert.ok((await clientIds(gatehouse.db)).has(String(updated.client_id)), 'the old metadata no longer matches it');
      const replacement = (await register(gatehouse, { client_name: 'After update' })).body;
      const ids = await clientIds(gatehouse.db);
      assert.ok(!ids.has(String(updated.client_id)) && ids.has(String(replacement.client_id)), 'the new metadata does');
    });

    it('records a use at an accepted /authorize and a successful grant or mint, at most about once an hour, and not for failures', async () => {
      const client = await registerClient(gatehouse);
      assert.equal(await lastUsedAt(gatehouse, client.client_id), null, 'registering is not a use');

      // A refused authorization request (no PKCE) is not a use.
      const refused = await fetch(authorizationUrl(gatehouse.url, { client, params: { code_challenge: undefined } }).url, { redirect: 'manual' });
      assert.equal(refused.status, 302);
      assert.match(refused.headers.get('location') ?? '', /error=invalid_request/);
      assert.equal(await lastUsedAt(gatehouse, client.client_id), null);

      const obtained = await obtainCode(gatehouse, { client, resource: resource.resource });
      const atAuthorize = await lastUsedAt(gatehouse, client.client_id);
      assert.ok(atAuthorize && Date.now() - atAuthorize.getTime() < 60_000, 'the accepted /authorize recorded a use');

      // Recorded two hours ago: the code exchange records a new use.
      await setLastUsed(gatehouse, client.client_id, '2 hours');
      const tokens = await exchangeCode(gatehouse, { client }, obtained);
      assert.equal(tokens.status, 200, tokens.text);
      const atExchange = await lastUsedAt(gatehouse, client.client_id);
      assert.ok(atExchange && Date.now() - atExchange.getTime() < 60_000);

      // Recorded half an hour ago: a refresh writes nothing.
      const halfHour = await setLastUsed(gatehouse, client.client_id, '30 minutes');
      const refreshed = await refreshTokens(gatehouse, { client }, String(tokens.body.refresh_token));
      assert.equal(refreshed.status, 200, refreshed.text);
      assert.equal((await lastUsedAt(gatehouse, client.client_id))?.getTime(), halfHour?.getTime());

      // A failed refresh is not a use; a successful one is, once the recorded use is stale.
      const stale = await setLastUsed(gatehouse, client.client_id, '2 hours');
      assertOAuthError(await refreshTokens(gatehouse, { client }, 'gh_rt_not-a-token'), 400, 'invalid_grant');
      assert.equal((await lastUsedAt(gatehouse, client.client_id))?.getTime(), stale?.getTime());
      assert.equal((await refreshTokens(gatehouse, { client }, String(refreshed.body.refresh_token))).status, 200);
      assert.ok(Date.now() - (await lastUsedAt(gatehouse, client.client_id))!.getTime() < 60_000);

      // A mint for the client is a use too.
      const minted = await registerClient(gatehouse);
      await mintTokens(gatehouse, resource, { client_id: minted.client_id, subject: 'user-42' });
      assert.ok(Date.now() - (await lastUsedAt(gatehouse, minted.client_id))!.getTime() < 60_000);
    });

    it('an expired client gets 401 invalid_client at /token, 401 invalid_token at its configuration endpoint, and the unknown-client page', async () => {
      // A public client that got tokens, then went idle: its refresh token expired and its last use is long ago.
      const client = await registerClient(gatehouse);
      const tokens = await exchangeCode(gatehouse, { client }, await obtainCode(gatehouse, { client, resource: resource.resource }));
      assert.equal(tokens.status, 200, tokens.text);
      await gatehouse.db.query(`UPDATE refresh_tokens SET expires_at = now() - interval '1 minute' WHERE grant_id IN (SELECT id FROM grants WHERE client_id = $1)`, [client.client_id]);
      await setLastUsed(gatehouse, client.client_id, '100 days');
      // A confidential client that registered and never came back.
      const confidential = (await register(gatehouse, { token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [loopbackRedirectUri()] })).body as TestClient;
      await gatehouse.db.query(`UPDATE clients SET created_at = now() - interval '25 hours' WHERE id = $1`, [confidential.client_id]);

      await job.tick();
      const ids = await clientIds(gatehouse.db);
      assert.ok(!ids.has(client.client_id) && !ids.has(confidential.client_id), 'both expired');

      assertOAuthError(await refreshTokens(gatehouse, { client }, String(tokens.body.refresh_token)), 401, 'invalid_client', 'public client');
      const basic = await refreshTokens(gatehouse, { client: confidential }, 'gh_rt_whatever');
      assertOAuthError(basic, 401, 'invalid_client', 'confidential client');
      assert.match(basic.headers.get('www-authenticate') ?? '', /^Basic /);

      const configuration = await fetch(`${gatehouse.url}/register/${confidential.client_id}`, { headers: { authorization: `Bearer ${confidential.registration_access_token!}` } });
      assert.equal(configuration.status, 401);
      assert.equal((await configuration.json() as { error: string }).error, 'invalid_token');
      assert.match(configuration.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);

      const page = await fetch(authorizationUrl(gatehouse.url, { client, resource: resource.resource }).url, { redirect: 'manual' });
      assert.match(await assertErrorPage(page, 400), /Unknown application/);
    });
  });
}

describe('the cap under concurrent registrations (postgres)', { skip: postgresUnavailable() }, () => {
  let gatehouse: RunningGatehouse;
  before(async () => {
    gatehouse = await startGatehouse({ database: 'postgres', env: { DCR_MAX_CLIENTS: '5', RATE_LIMIT_REGISTER: '10000/1m' } });
  });
  after(async () => {
    await gatehouse?.close();
  });

  it('admits exactly DCR_MAX_CLIENTS of many simultaneous registrations', async () => {
    for (let round = 0; round < 3; round++) {
      await gatehouse.db.query(`DELETE FROM clients WHERE kind = 'dynamic'`);
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => register(gatehouse, { client_name: `Concurrent ${round}-${i}` })));
      const statuses = answers.map((answer) => answer.status);
      assert.equal(statuses.filter((status) => status === 201).length, 5, `round ${round}: ${statuses.join(' ')}`);
      assert.equal(statuses.filter((status) => status === 403).length, 25);
      assert.equal(await countRows(gatehouse.db, `SELECT 1 FROM clients WHERE kind = 'dynamic'`), 5);
    }
    assert.equal((await auditEvents(gatehouse, 'client.registered')).length, 15);
  });
});
