import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { FakeGithub } from '../fakes/fake-github.js';
import { clientDocument, FakeClientMetadataHost } from '../fakes/client-metadata-host.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import {
  assertErrorPage,
  assertOAuthError,
  auditEvents,
  authorizationUrl,
  databaseCounts,
  exchangeCode,
  mintToken,
  obtainCode,
  refreshTokens,
  type TestResource,
} from '../support/flows.js';
import { clientIds, countRows, insertClientRows } from '../factories/clients.js';
import { ClientsHousekeeping } from '../../src/registration/clients-housekeeping.js';

/**
 * Metadata-document client hygiene through the running server: the cap on recorded metadata-document clients
 * (CIMD_MAX_CLIENTS) at /authorize and at the mint API, and which of them the expiry job deletes. Documents come from
 * a real https host on loopback (FakeClientMetadataHost); time passing is stood for by moving the rows' last use
 * back, as the dynamic-client hygiene tests do. Tests run in order on one Gatehouse per database; each starts from
 * the rows it needs.
 */
const MAX = 5;
const REDIRECT_URI = 'http://127.0.0.1:33419/callback';
const LIMIT_DESCRIPTION = `client metadata document limit reached (${MAX} clients); clients never issued tokens expire 24 hours after their last use, others 90 days after their last use`;

interface DocumentClient {
  client_id: string;
  redirect_uris: string[];
  token_endpoint_auth_method: 'none';
}

function authorize(gatehouse: RunningGatehouse, client: DocumentClient, resource: string): Promise<Response> {
  return fetch(authorizationUrl(gatehouse.url, { client, resource }).url, { redirect: 'manual' });
}

/** The interaction page an accepted /authorize sends the browser to. */
function assertAccepted(response: Response, label: string): void {
  assert.equal(response.status, 302, label);
  assert.match(response.headers.get('location') ?? '', /\/interaction\//, label);
}

async function documentRows(gatehouse: RunningGatehouse): Promise<number> {
  return countRows(gatehouse.db, `SELECT 1 FROM clients WHERE kind = 'metadata_document'`);
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`metadata-document client hygiene, end to end (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let github: FakeGithub;
    let host: FakeClientMetadataHost;
    let gatehouse: RunningGatehouse;
    let resource: TestResource;
    let job: ClientsHousekeeping;

    before(async () => {
      github = await new FakeGithub().start();
      host = await new FakeClientMetadataHost().start();
      gatehouse = await startGatehouse({ database, github, env: { ...host.env, CIMD_MAX_CLIENTS: String(MAX) } });
      resource = await createResource(gatehouse, { resource: 'https://mcp.cimd-hygiene.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
      job = gatehouse.app.get(ClientsHousekeeping);
    });
    after(async () => {
      await gatehouse?.close();
      await host?.stop();
      await github?.stop();
    });

    /** Serves a valid document at `path` and returns the client it describes. */
    function serve(path: string, overrides: Record<string, unknown> = {}): DocumentClient {
      const url = host.url(path);
      host.serveDocument(path, clientDocument(url, { redirect_uris: [REDIRECT_URI], ...overrides }));
      return { client_id: url, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' };
    }

    const clearDocuments = () => gatehouse.db.query(`DELETE FROM clients WHERE kind = 'metadata_document'`);

    it('cap: a new document URL beyond CIMD_MAX_CLIENTS gets a page at /authorize and writes nothing; recorded clients keep working', async () => {
      await clearDocuments();
      // A client recorded before the cap is reached, that went all the way to tokens.
      const known = serve('/cap/known.json');
      const tokens = await exchangeCode(gatehouse, { client: known }, await obtainCode(gatehouse, { client: known, resource: resource.resource }));
      assert.equal(tokens.status, 200, tokens.text);
      // Up to the cap with other metadata-document clients; dynamic and pre-registered ones do not count.
      await insertClientRows(gatehouse.db, MAX - 1, { kind: 'metadata_document' });
      await insertClientRows(gatehouse.db, 3, { kind: 'dynamic' });
      await insertClientRows(gatehouse.db, 2, { kind: 'static' });
      assert.equal(await documentRows(gatehouse), MAX);

      const newcomer = serve('/cap/newcomer.json');
      const fetchedBefore = (await auditEvents(gatehouse, 'client.metadata_fetched')).length;
      const before = await databaseCounts(gatehouse);
      const page = await assertErrorPage(await authorize(gatehouse, newcomer, resource.resource), 403, 'new URL at the cap');
      assert.match(page, /Application limit reached/);
      assert.match(page, new RegExp(`This server has reached its limit of applications identified by metadata documents \\(${MAX}\\), so it cannot accept the application at ${newcomer.client_id} now\\.`));
      assert.match(page, /Applications it already knows still work, and room is made as unused ones expire \(clients never issued tokens expire 24 hours after their last use/);
      assert.deepEqual(await databaseCounts(gatehouse), before, 'a refused URL writes nothing: no client, no interaction, no event');
      assert.equal((await gatehouse.db.query('SELECT id FROM clients WHERE id = $1', [newcomer.client_id])).length, 0);
      assert.equal((await auditEvents(gatehouse, 'client.metadata_fetched')).length, fetchedBefore);

      // The mint API refuses it too, as a JSON OAuth error, and writes nothing.
      const minted = await mintToken(gatehouse, resource, { client_id: newcomer.client_id, subject: 'user-at-the-cap' });
      assertOAuthError(minted, 403, 'access_denied');
      assert.equal(minted.body.error_description, LIMIT_DESCRIPTION);
      assert.deepEqual(await databaseCounts(gatehouse), before);

      // The client recorded before still works: /authorize, a refresh, and a refetch of its expired document.
      assertAccepted(await authorize(gatehouse, known, resource.resource), 'known client at the cap');
      const refreshed = await refreshTokens(gatehouse, { client: known }, String(tokens.body.refresh_token));
      assert.equal(refreshed.status, 200, refreshed.text);
      await gatehouse.db.query(`UPDATE clients SET metadata_expires_at = now() - interval '1 second' WHERE id = $1`, [known.client_id]);
      const knownFetches = host.count('/cap/known.json');
      assertAccepted(await authorize(gatehouse, known, resource.resource), 'known client, document fetched again at the cap');
      assert.equal(host.count('/cap/known.json'), knownFetches + 1, 'its document was fetched again and recorded over its row');
      assert.equal(await documentRows(gatehouse), MAX);

      // Room again once one goes: the same URL is now fetched and recorded.
      await gatehouse.db.query(`DELETE FROM clients WHERE id = (SELECT id FROM clients WHERE kind = 'metadata_document' AND id <> $1 LIMIT 1)`, [known.client_id]);
      assertAccepted(await authorize(gatehouse, newcomer, resource.resource), 'new URL once there is room');
      assert.equal(await documentRows(gatehouse), MAX);
      assert.ok((await clientIds(gatehouse.db)).has(newcomer.client_id));
      assert.equal((await auditEvents(gatehouse, 'client.metadata_fetched')).filter((event) => event.client_id === newcomer.client_id).length, 1);
    });

    it('expiry: unused and idle ones go with client.expired, live refresh tokens stay, and a deleted URL is simply recorded again', async () => {
      await clearDocuments();
      // Asked /authorize once and went no further.
      const abandoned = serve('/expiry/abandoned.json');
      assertAccepted(await authorize(gatehouse, abandoned, resource.resource), 'abandoned');
      // Issued tokens, then idle until its refresh token expired.
      const idle = serve('/expiry/idle.json');
      const idleTokens = await exchangeCode(gatehouse, { client: idle }, await obtainCode(gatehouse, { client: idle, resource: resource.resource }));
      assert.equal(idleTokens.status, 200, idleTokens.text);
      await gatehouse.db.query(`UPDATE refresh_tokens SET expires_at = now() - interval '1 day' WHERE grant_id IN (SELECT id FROM grants WHERE client_id = $1)`, [idle.client_id]);
      // Issued tokens with a refresh token that is still live, however idle.
      const holdsRefreshToken = serve('/expiry/refresh.json');
      const liveTokens = await exchangeCode(gatehouse, { client: holdsRefreshToken }, await obtainCode(gatehouse, { client: holdsRefreshToken, resource: resource.resource }));
      assert.equal(liveTokens.status, 200, liveTokens.text);
      // Issued tokens and used two days ago: only the 90-day idle lifetime applies to it.
      const recent = serve('/expiry/recent.json', { grant_types: ['authorization_code'] });
      assert.equal((await exchangeCode(gatehouse, { client: recent }, await obtainCode(gatehouse, { client: recent, resource: resource.resource }))).status, 200);
      // Asked /authorize half a day ago.
      const young = serve('/expiry/young.json');
      assertAccepted(await authorize(gatehouse, young, resource.resource), 'young');

      const age = (client: DocumentClient, ago: string) =>
        gatehouse.db.query(`UPDATE clients SET last_used_at = now() - $2::interval, created_at = now() - $2::interval WHERE id = $1`, [client.client_id, ago]);
      await age(abandoned, '26 hours');
      await age(idle, '100 days');
      await age(holdsRefreshToken, '100 days');
      await age(recent, '2 days');
      await age(young, '12 hours');
      const expiredBefore = (await auditEvents(gatehouse, 'client.expired')).length;

      await job.tick();

      const remaining = await clientIds(gatehouse.db);
      assert.ok(!remaining.has(abandoned.client_id), 'the client never issued tokens went');
      assert.ok(!remaining.has(idle.client_id), 'the idle client without a live refresh token went');
      for (const [name, client] of Object.entries({ holdsRefreshToken, recent, young })) assert.ok(remaining.has(client.client_id), `${name} was kept`);
      assert.equal(await countRows(gatehouse.db, 'SELECT 1 FROM grants WHERE client_id = $1', [idle.client_id]), 0, 'its grant went with it');

      const expired = (await auditEvents(gatehouse, 'client.expired')).slice(expiredBefore);
      assert.deepEqual(
        expired.map((event) => [event.client_id, event.data.kind, event.data.reason]).sort(),
        [
          [abandoned.client_id, 'metadata_document', 'never_issued_tokens'],
          [idle.client_id, 'metadata_document', 'idle'],
        ].sort(),
      );
      // Through the admin API, as an operator reads it.
      const page = await gatehouse.admin('GET', `/admin/audit?type=client.expired&client_id=${encodeURIComponent(abandoned.client_id)}`);
      assert.equal(page.status, 200);
      const event = page.body.events[0];
      assert.deepEqual(event.actor, { kind: 'system', id: null });
      assert.equal(event.data.reason, 'never_issued_tokens');
      assert.ok(Date.parse(event.data.last_used_at) < Date.now() - 25 * 3_600_000);

      // The kept client's refresh token still works.
      const refreshed = await refreshTokens(gatehouse, { client: holdsRefreshToken }, String(liveTokens.body.refresh_token));
      assert.equal(refreshed.status, 200, refreshed.text);

      // The idle client's URL still names a client at /token (its document is fetched), but its grant is gone, and
      // /token records nothing: the client comes back through /authorize.
      assertOAuthError(await refreshTokens(gatehouse, { client: idle }, String(idleTokens.body.refresh_token)), 400, 'invalid_grant');
      assert.ok(!(await clientIds(gatehouse.db)).has(idle.client_id));

      // The abandoned URL comes back: its next /authorize fetches the document and records it again.
      const fetches = host.count('/expiry/abandoned.json');
      assertAccepted(await authorize(gatehouse, abandoned, resource.resource), 'abandoned, after expiry');
      assert.equal(host.count('/expiry/abandoned.json'), fetches + 1);
      assert.ok((await clientIds(gatehouse.db)).has(abandoned.client_id));
      assert.equal((await auditEvents(gatehouse, 'client.metadata_fetched')).filter((fetched) => fetched.client_id === abandoned.client_id).length, 2);

      // A second run finds nothing more.
      await job.tick();
      assert.equal((await auditEvents(gatehouse, 'client.expired')).length, expiredBefore + 2);
    });
  });
}

describe('the metadata-document cap under concurrent first authorizations (postgres)', { skip: postgresUnavailable() }, () => {
  let host: FakeClientMetadataHost;
  let gatehouse: RunningGatehouse;
  let resource: TestResource;
  before(async () => {
    host = await new FakeClientMetadataHost().start();
    gatehouse = await startGatehouse({ database: 'postgres', env: { ...host.env, CIMD_MAX_CLIENTS: '4' } });
    resource = await createResource(gatehouse, { resource: 'https://mcp.cimd-cap.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
  });
  after(async () => {
    await gatehouse?.close();
    await host?.stop();
  });

  it('admits exactly CIMD_MAX_CLIENTS of many new document URLs arriving at once', async () => {
    for (let round = 0; round < 2; round++) {
      await gatehouse.db.query(`DELETE FROM clients WHERE kind = 'metadata_document'`);
      const clients = Array.from({ length: 12 }, (_, i) => {
        const path = `/concurrent/${round}-${i}.json`;
        const url = host.url(path);
        host.serveDocument(path, clientDocument(url, { redirect_uris: [REDIRECT_URI] }));
        return { client_id: url, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' as const };
      });
      const statuses = (await Promise.all(clients.map((client) => authorize(gatehouse, client, resource.resource)))).map((response) => response.status);
      assert.equal(statuses.filter((status) => status === 302).length, 4, `round ${round}: ${statuses.join(' ')}`);
      assert.equal(statuses.filter((status) => status === 403).length, 8);
      assert.equal(await documentRows(gatehouse), 4);
    }
  });
});
