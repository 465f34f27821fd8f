import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Browser, type Page } from '../support/browser.js';
import type { RunningGatehouse } from '../support/gatehouse.js';
import { isActive, refreshTokens, registerClient, type TestClient, type TestResource } from '../support/flows.js';
import { authorizeAs, clientAuditRows, csrfOf, devUserId, openPage, postForm, startConsoleGatehouse } from '../support/console.js';
import { insertClientRow, insertClientRows } from '../factories/clients.js';

/** The client names a list page links, in the order shown. */
function namesOn(page: Page): string[] {
  return [...page.html.matchAll(/<td><a href="\/console\/clients\/[^"]+">([^<]+)<\/a><\/td>/g)].map((match) => match[1]!);
}

function detailsPath(clientId: string): string {
  return `/console/clients/${encodeURIComponent(clientId)}`;
}

/**
 * The console's clients section over HTTP: the list and its filters, a client's details and grants, and an admin's
 * revocation and deletion (the same effect and events as the admin API's, with the operator as the actor), which a
 * viewer and a forged post cannot make.
 */
describe('the console clients section (DEV_LOGIN, CONSOLE_ADMINS=dev:alice)', () => {
  let gatehouse: RunningGatehouse;
  let desk: TestClient;
  let notes: TestClient;
  let backOfficeId: string;
  let editorId: string;
  let idleId: string;
  let resource: TestResource;
  /** alice's refresh tokens, one per client she used. */
  const refresh: Record<string, string> = {};
  /** alice's latest access token from a client. */
  const access: Record<string, string> = {};
  /** alice, signed in once: each sign-in would add a grant. */
  let alice: Browser;

  before(async () => {
    ({ gatehouse, resource, client: desk } = await startConsoleGatehouse({ client: { client_name: 'Desk app' } }));
    const preRegistered = await gatehouse.admin('POST', '/admin/clients', { client_name: 'Back office', redirect_uris: ['https://office.example.com/cb'], token_endpoint_auth_method: 'none' });
    assert.equal(preRegistered.status, 201, JSON.stringify(preRegistered.body));
    backOfficeId = preRegistered.body.client_id as string;
    notes = await registerClient(gatehouse, { client_name: 'Notes app' });
    editorId = await insertClientRow(gatehouse.db, { kind: 'metadata_document', name: 'Old editor', registeredAgo: '60 days', lastUsedAgo: '40 days' });
    idleId = await insertClientRow(gatehouse.db, { kind: 'dynamic', name: 'Idle tool', registeredAgo: '90 days', lastUsedAgo: '45 days' });
    alice = new Browser('alice');
    refresh.desk = await authorizeWith('alice', desk, alice);
    refresh.notes = await authorizeWith('alice', notes, alice);
  });
  after(async () => {
    await gatehouse?.close();
  });

  /** `name` authorizes `client` through development sign-in and exchanges the code (a live grant); its refresh token. */
  async function authorizeWith(name: string, client: TestClient, browser = new Browser(name)): Promise<string> {
    return (await authorizeAs(gatehouse, client, name, { browser })).tokens.body.refresh_token as string;
  }

  async function signIn(name: string): Promise<Browser> {
    const browser = new Browser(name);
    await authorizeWith(name, notes, browser);
    return browser;
  }

  const open = (browser: Browser, path: string) => openPage(gatehouse, browser, path);
  const userId = (login: string) => devUserId(gatehouse, login);
  const audit = (type: string) => clientAuditRows(gatehouse, type);

  async function clientExists(id: string): Promise<boolean> {
    return ((await gatehouse.db.query(`SELECT 1 FROM clients WHERE id = $1`, [id])) as unknown[]).length === 1;
  }

  async function liveGrants(clientId: string): Promise<number> {
    const rows = (await gatehouse.db.query(`SELECT count(*)::int AS n FROM grants WHERE client_id = $1 AND revoked_at IS NULL`, [clientId])) as Array<{ n: number }>;
    return rows[0]!.n;
  }

  it('lists every client by client id, with kind, last use and live grants', async () => {
    const page = await open(alice, '/console/clients');
    assert.equal(page.status, 200, page.html);
    const ids = [desk.client_id, notes.client_id, backOfficeId, editorId, idleId];
    const byId = new Map([
      [desk.client_id, 'Desk app'],
      [notes.client_id, 'Notes app'],
      [backOfficeId, 'Back office'],
      [editorId, 'Old editor'],
      [idleId, 'Idle tool'],
    ]);
    assert.deepEqual(namesOn(page), [...ids].sort().map((id) => byId.get(id)));
    assert.match(page.html, /Showing 5 of 5 clients, by client id\./);
    const deskRow = new RegExp(`<a href="${detailsPath(desk.client_id)}">Desk app</a></td>\\s*<td><code title="${desk.client_id}">[^<]+</code></td>\\s*<td>Dynamic</td>\\s*<td><time [^>]+>[^<]+ ago</time></td>\\s*<td class="number">1</td>`);
    assert.match(page.html, deskRow);
    assert.match(page.html, new RegExp(`Back office</a></td>\\s*<td><code[^>]*>[^<]+</code></td>\\s*<td>Pre-registered</td>\\s*<td>never</td>\\s*<td class="number">0</td>`));
    assert.match(page.html, /Old editor<\/a><\/td>\s*<td><code title="https:\/\/app-[0-9a-f]+\.example\.com\/client\.json">[^<]+<\/code><\/td>\s*<td>Metadata document<\/td>\s*<td><time [^>]+>40 days ago<\/time><\/td>/);
    assert.match(page.html, /<div class="table-scroll" role="region" aria-labelledby="clients-summary" tabindex="0">/);
  });

  it('filters by kind and by activity, and by both', async () => {
    const names = async (query: string) => namesOn(await open(alice, `/console/clients?${query}`)).sort();
    assert.deepEqual(await names('kind=dynamic'), ['Desk app', 'Idle tool', 'Notes app']);
    assert.deepEqual(await names('kind=static'), ['Back office']);
    assert.deepEqual(await names('kind=metadata_document'), ['Old editor']);
    assert.deepEqual(await names('activity=day'), ['Desk app', 'Notes app']);
    assert.deepEqual(await names('activity=month'), ['Desk app', 'Notes app']);
    assert.deepEqual(await names('activity=idle'), ['Idle tool', 'Old editor']);
    assert.deepEqual(await names('activity=never'), ['Back office']);
    assert.deepEqual(await names('kind=dynamic&activity=idle'), ['Idle tool']);
    const none = await open(alice, '/console/clients?kind=static&activity=day');
    assert.deepEqual(namesOn(none), []);
    assert.match(none.html, /No client matches\./);
    assert.match(none.html, /<option value="static" selected>Pre-registered<\/option>/);
    assert.deepEqual(await names('kind=bogus&activity=bogus'), ['Back office', 'Desk app', 'Idle tool', 'Notes app', 'Old editor'], 'unknown values show everything');
  });

  it('shows a client’s registration, redirect URIs and live grants with who holds them', async () => {
    const page = await open(alice, detailsPath(desk.client_id));
    assert.equal(page.status, 200, page.html);
    assert.match(page.html, /<h1>Desk app<\/h1>/);
    assert.match(page.html, new RegExp(`<dt>Client id</dt><dd><code>${desk.client_id}</code></dd>`));
    assert.match(page.html, /<dt>Kind<\/dt><dd>Dynamic<\/dd>/);
    assert.match(page.html, /<dt>Token endpoint authentication<\/dt><dd><code>none<\/code><\/dd>/);
    assert.match(page.html, new RegExp(`<li><code>${desk.redirect_uris[0]}</code></li>`));
    assert.match(page.html, /<h2 id="grants-title">Live grants \(1\)<\/h2>/);
    assert.match(page.html, /<td>alice<br><span class="muted">dev:alice<\/span><\/td>\s*<td>Acme Projects<br><code class="scope">https:\/\/projects\.example\.com\/mcp<\/code><\/td>\s*<td><code>projects:read<\/code><\/td>/);
    assert.match(page.html, /action="\/console\/clients\/[^"]+\/delete"/, 'an admin may delete');
  });

  it('shows a metadata-document client at its URL id, with the document’s times', async () => {
    const page = await open(alice, detailsPath(editorId));
    assert.equal(page.status, 200, page.html);
    assert.match(page.html, /<dt>Kind<\/dt><dd>Metadata document<\/dd>/);
    assert.match(page.html, new RegExp(`<dt>Metadata document</dt><dd><code>${editorId.replace(/\./g, '\\.')}</code></dd>`));
    assert.match(page.html, /<dt>Document fetched<\/dt><dd><time /);
    assert.match(page.html, /<dt>Document used until<\/dt><dd><time /);
    const missing = await open(alice, detailsPath('https://nobody.example.com/client.json'));
    assert.equal(missing.status, 404);
    assert.match(missing.html, /No such client/);
  });

  it('lets a viewer look at the list and details, but shows no forms and refuses their posts', async () => {
    const bob = await signIn('bob');
    assert.equal((await gatehouse.admin('PUT', `/admin/operators/${await userId('bob')}`, { role: 'viewer' })).status, 200);
    const list = await open(bob, '/console/clients');
    assert.equal(list.status, 200);
    assert.equal(namesOn(list).length, 5);
    const page = await open(bob, detailsPath(notes.client_id));
    assert.equal(page.status, 200);
    assert.match(page.html, /<h2 id="grants-title">Live grants \(2\)<\/h2>/, 'alice’s grant and bob’s');
    assert.doesNotMatch(page.html, /name="confirm"/);
    assert.doesNotMatch(page.html, /\/delete"|\/revoke-grants"/);
    for (const action of ['delete', 'revoke-grants']) {
      const refused = await postForm(bob, `${gatehouse.url}${detailsPath(notes.client_id)}/${action}`, { csrf_token: csrfOf(page), confirm: 'yes' });
      assert.equal(refused.status, 403, action);
      assert.match(await refused.text(), /Only a console admin can change this server/);
    }
    assert.ok(await clientExists(notes.client_id));
    assert.equal(await liveGrants(notes.client_id), 2);
    assert.deepEqual(await audit('admin.client_deleted'), []);
    assert.deepEqual(await audit('admin.grants_revoked'), []);
  });

  it('refuses an admin’s post without or with a wrong CSRF token, and one without the confirmation, changing nothing', async () => {
    const page = await open(alice, detailsPath(desk.client_id));
    for (const action of ['delete', 'revoke-grants']) {
      for (const form of [{ confirm: 'yes' }, { csrf_token: 'x'.repeat(43), confirm: 'yes' }] as Array<Record<string, string>>) {
        const response = await postForm(alice, `${gatehouse.url}${detailsPath(desk.client_id)}/${action}`, form);
        assert.equal(response.status, 403, `${action} ${JSON.stringify(form)}`);
      }
      const unconfirmed = await postForm(alice, `${gatehouse.url}${detailsPath(desk.client_id)}/${action}`, { csrf_token: csrfOf(page) });
      assert.equal(unconfirmed.status, 303, action);
      const location = unconfirmed.headers.get('location')!;
      assert.equal(location, `${detailsPath(desk.client_id)}?status=not-confirmed`);
      assert.match((await open(alice, location)).html, /Nothing was changed: tick the box/);
    }
    assert.ok(await clientExists(desk.client_id));
    assert.equal(await liveGrants(desk.client_id), 1);
    const refreshed = await refreshTokens(gatehouse, { client: desk }, refresh.desk!);
    assert.equal(refreshed.status, 200, 'the refresh token still works');
    refresh.desk = refreshed.body.refresh_token as string;
    access.desk = refreshed.body.access_token as string;
    assert.deepEqual(await audit('admin.client_deleted'), []);
    assert.deepEqual(await audit('admin.grants_revoked'), []);
  });

  it('lets an admin revoke every grant of a client: its refresh tokens stop working, the events name her', async () => {
    const aliceId = await userId('alice');
    const before = await liveGrants(notes.client_id);
    assert.ok(before >= 2);
    const page = await open(alice, detailsPath(notes.client_id));
    const response = await postForm(alice, `${gatehouse.url}${detailsPath(notes.client_id)}/revoke-grants`, { csrf_token: csrfOf(page), confirm: 'yes' });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), `${detailsPath(notes.client_id)}?status=grants-revoked`);
    assert.equal(await liveGrants(notes.client_id), 0);
    assert.ok(await clientExists(notes.client_id), 'the client stays');
    const refreshed = await refreshTokens(gatehouse, { client: notes }, refresh.notes!);
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, 'invalid_grant');
    const after = await open(alice, response.headers.get('location')!);
    assert.match(after.html, /Every live grant of this client is revoked/);
    assert.match(after.html, /Live grants \(0\)<\/h2>\s*<p>None\.<\/p>/);

    const revoked = await audit('admin.grants_revoked');
    assert.equal(revoked.length, 1);
    assert.deepEqual(revoked[0], { type: 'admin.grants_revoked', actor_kind: 'user', actor_id: aliceId, client_id: notes.client_id, subject: null, data: { revoked: before, consents_cleared: revoked[0]!.data.consents_cleared } });
    const each = (await audit('grant.revoked')).filter((event) => event.client_id === notes.client_id);
    assert.equal(each.length, before);
    for (const event of each) assert.deepEqual([event.actor_kind, event.actor_id, event.data.reason], ['user', aliceId, 'revoked_by_admin']);
  });

  it('lets an admin delete a client: it is gone, its refresh token fails, and the event names her', async () => {
    const caller = { resource, via: 'bearer' as const };
    assert.equal(await isActive(gatehouse, caller, access.desk!), true);
    const page = await open(alice, detailsPath(desk.client_id));
    const response = await postForm(alice, `${gatehouse.url}${detailsPath(desk.client_id)}/delete`, { csrf_token: csrfOf(page), confirm: 'yes' });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), '/console/clients?status=deleted');
    assert.equal(await clientExists(desk.client_id), false);
    const refreshed = await refreshTokens(gatehouse, { client: desk }, refresh.desk!);
    assert.equal(refreshed.status, 401, refreshed.text);
    assert.equal(refreshed.body.error, 'invalid_client');
    assert.equal(await isActive(gatehouse, caller, access.desk!), false, 'introspection reports its access token inactive');
    const list = await open(alice, '/console/clients?status=deleted');
    assert.match(list.html, /Client deleted, with its grants and consents/);
    assert.ok(!namesOn(list).includes('Desk app'));
    assert.deepEqual(await audit('admin.client_deleted'), [
      { type: 'admin.client_deleted', actor_kind: 'user', actor_id: await userId('alice'), client_id: desk.client_id, subject: null, data: {} },
    ]);
    assert.equal((await open(alice, detailsPath(desk.client_id))).status, 404);
    const again = await postForm(alice, `${gatehouse.url}${detailsPath(desk.client_id)}/delete`, { csrf_token: csrfOf(page), confirm: 'yes' });
    assert.equal(again.status, 404, 'deleting it again finds nothing');
  });

  it('deletes a metadata-document client by its URL id', async () => {
    const page = await open(alice, detailsPath(editorId));
    const response = await postForm(alice, `${gatehouse.url}${detailsPath(editorId)}/delete`, { csrf_token: csrfOf(page), confirm: 'yes' });
    assert.equal(response.status, 303);
    assert.equal(await clientExists(editorId), false);
    assert.equal((await audit('admin.client_deleted')).at(-1)?.client_id, editorId);
  });

  it('pages through more than 100 clients by client id, keeping the filter', async () => {
    await insertClientRows(gatehouse.db, 120, { kind: 'static', name: 'Bulk client' });
    const first = await open(alice, '/console/clients?kind=static');
    assert.equal(namesOn(first).length, 100);
    assert.match(first.html, /Showing 100 of 121 clients that match, by client id\./);
    const next = /<a href="(\/console\/clients\?kind=static&amp;after=[^"]+)">Next page<\/a>/.exec(first.html)?.[1];
    assert.ok(next, 'a link to the next page');
    const second = await open(alice, next.replaceAll('&amp;', '&'));
    assert.equal(namesOn(second).length, 21);
    assert.doesNotMatch(second.html, /Next page/);
    assert.match(second.html, /<a href="\/console\/clients\?kind=static">First page<\/a>/);
    const ids = (page: Page) => [...page.html.matchAll(/<code title="([^"]+)">/g)].map((match) => match[1]!);
    const all = [...ids(first), ...ids(second)];
    assert.equal(new Set(all).size, 121, 'no client on both pages');
    assert.deepEqual(all, [...all].sort(), 'in client id order');
    assert.ok(all.includes(backOfficeId));
  });
});
