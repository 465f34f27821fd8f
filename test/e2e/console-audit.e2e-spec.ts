import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { AuditEventV1 } from '../../src/audit/audit-schema.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuditStreams } from '../../src/audit/audit-stream.js';
import { Browser, type Page } from '../support/browser.js';
import { createResource, type RunningGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, registerClient, type TestClient } from '../support/flows.js';
import { eventually, queryAudit } from '../support/audit.js';
import { CONSOLE_RESOURCE as RESOURCE, devUserId, openPage, signInAs, startConsoleGatehouse } from '../support/console.js';

const OTHER = 'https://wiki.example.com/mcp';

interface Row {
  seq: number;
  type: string;
  outcome: string;
  actor: string;
  client: string;
  subject: string;
  resource: string;
}

/** The audit table's rows as the page draws them, top to bottom. */
function rowsOf(page: Page): Row[] {
  const text = (cell: string) => cell.replace(/<[^>]+>/g, '').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"');
  return [...page.html.matchAll(/<tr data-seq="(\d+)">(.*?)<\/tr>/g)].map((match) => {
    const cells = [...(match[2] ?? '').matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((cell) => text(cell[1] ?? ''));
    return { seq: Number(match[1]), type: cells[1]!, outcome: cells[2]!, actor: cells[3]!, client: cells[4]!, subject: cells[5]!, resource: cells[6]! };
  });
}

/** What the table should show for an admin API filter: the newest 50 matching events, newest first. */
async function newest(gatehouse: RunningGatehouse, filter: Record<string, string>): Promise<number[]> {
  return (await queryAudit(gatehouse, filter))
    .map((event) => event.seq)
    .slice(-50)
    .reverse();
}

/** A Server-Sent Events stream read with the browser's cookies through fetch and a reader: its messages as they arrive. */
class ConsoleStream {
  readonly events: AuditEventV1[] = [];
  readonly ids: string[] = [];
  private reading: Promise<void> = Promise.resolve();

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {}

  static async open(browser: Browser, url: string, headers: Record<string, string> = {}): Promise<ConsoleStream> {
    const controller = new AbortController();
    const response = await browser.fetch(url, { headers, signal: controller.signal });
    const stream = new ConsoleStream(response, controller);
    if (response.status === 200 && response.body) stream.reading = stream.read(response.body.getReader());
    return stream;
  }

  /** Resolves when the server ends the stream. */
  ended(): Promise<void> {
    return this.reading;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.reading.catch(() => undefined);
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data === undefined) continue;
        this.events.push(JSON.parse(data) as AuditEventV1);
        if (id !== undefined) this.ids.push(id);
      }
    }
  }
}

describe('the console audit section (DEV_LOGIN, CONSOLE_ADMINS=dev:alice)', () => {
  let gatehouse: RunningGatehouse;
  let client: TestClient;
  let alice: Browser;

  before(async () => {
    // A short heartbeat: the interval at which a console stream checks its operator still has a role.
    ({ gatehouse, client } = await startConsoleGatehouse({ env: { AUDIT_STREAM_HEARTBEAT_MS: '200' } }));
    await createResource(gatehouse, { name: 'Acme Wiki', resource: OTHER, scopes: ['projects:read'] });
    alice = await signIn('alice');
    // carol says no: a consent.denied, outcome denied.
    const carol = new Browser('carol');
    const built = authorizationUrl(gatehouse.url, { client, resource: RESOURCE, scope: 'projects:read' });
    const denied = await carol.authorize(built.url, built.redirectUri, 'deny');
    assert.equal(denied.searchParams.get('error'), 'access_denied');
  });
  after(async () => {
    await gatehouse?.close();
  });

  /** Signs `name` in through development sign-in on an authorization request, and exchanges the code (a token.issued). */
  const signIn = (name: string) => signInAs(gatehouse, client, name);
  const open = (browser: Browser, path: string) => openPage(gatehouse, browser, path);
  const userId = (login: string) => devUserId(gatehouse, login);

  it('shows the newest events, newest first, and narrows them by type, client, user, resource and outcome', async () => {
    const all = await open(alice, '/console/audit');
    assert.equal(all.status, 200);
    assert.match(all.html, /<h1>Audit<\/h1>/);
    assert.deepEqual(
      rowsOf(all).map((row) => row.seq),
      await newest(gatehouse, {}),
    );

    const aliceId = await userId('alice');
    const cases: Array<[Record<string, string>, (row: Row) => boolean]> = [
      [{ type: 'token.issued' }, (row) => row.type === 'token.issued'],
      [{ type: 'consent.*' }, (row) => row.type.startsWith('consent.')],
      [{ client_id: client.client_id }, (row) => row.client === client.client_id],
      [{ sub: aliceId }, (row) => row.subject === aliceId],
      [{ resource: OTHER }, (row) => row.resource === OTHER],
      [{ outcome: 'denied' }, (row) => row.outcome === 'denied'],
      [{ type: 'consent.*', outcome: 'success', resource: RESOURCE }, (row) => row.type === 'consent.granted' && row.resource === RESOURCE],
    ];
    for (const [filter, holds] of cases) {
      const page = await open(alice, `/console/audit?${new URLSearchParams(filter)}`);
      assert.equal(page.status, 200, JSON.stringify(filter));
      const rows = rowsOf(page);
      assert.ok(rows.length > 0, `${JSON.stringify(filter)} matches something`);
      assert.ok(rows.length < rowsOf(all).length, `${JSON.stringify(filter)} narrows the table`);
      assert.ok(rows.every(holds), JSON.stringify(filter));
      assert.deepEqual(
        rows.map((row) => row.seq),
        await newest(gatehouse, filter),
        `${JSON.stringify(filter)}: the same events as the admin API`,
      );
    }
    const denied = rowsOf(await open(alice, '/console/audit?outcome=denied'));
    assert.deepEqual(
      denied.map((row) => row.type),
      ['consent.denied'],
    );
    // A form as the browser submits it: empty fields are no filter; the values typed come back in the form.
    const submitted = await open(alice, `/console/audit?type=token.issued&client_id=&sub=&resource=&outcome=&since=&until=`);
    assert.deepEqual(
      rowsOf(submitted).map((row) => row.type),
      ['token.issued'],
    );
    assert.match(submitted.html, /name="type" value="token\.issued"/);
  });

  it('answers a filter it cannot use with a 400 page that says why, and no events', async () => {
    for (const [query, message] of [
      ['type=token.stolen', 'Unknown event type token.stolen.'],
      ['outcome=maybe', 'Outcome must be one of success, failure, denied, active, inactive.'],
      ['since=yesterday', 'Since and until must be dates, or dates and times (UTC unless they name a zone).'],
      ['sub=a&sub=b', 'Give sub once.'],
    ] as const) {
      const page = await open(alice, `/console/audit?${query}`);
      assert.equal(page.status, 400, query);
      assert.ok(page.html.includes(`<p class="callout" role="alert">${message}</p>`), `${query}: ${message}`);
      assert.equal(rowsOf(page).length, 0);
    }
  });

  it('streams the new events that match the page’s filters, not others, and resumes after Last-Event-ID', async () => {
    const streams = gatehouse.app.get(AuditStreams);
    const before = streams.size;
    const page = await open(alice, '/console/audit?type=client.registered');
    const streamPath = /data-stream="([^"]+)"/.exec(page.html)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(streamPath, 'the page names its stream');
    assert.match(streamPath, /^\/console\/audit\/stream\?type=client\.registered&cursor=\d+$/);
    const stream = await ConsoleStream.open(alice, `${gatehouse.url}${streamPath}`);
    assert.equal(stream.response.status, 200);
    assert.equal(stream.response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(stream.response.headers.get('cache-control'), 'no-store');
    await eventually(() => streams.size === before + 1, 'the stream is open');

    // First an event the filter leaves out, then one it lets through: the stream sends events in seq order, so the
    // first it sends being the registration shows the resource server's event was filtered out.
    const created = await gatehouse.admin('POST', '/admin/resources', { name: 'Acme Files', resource: 'https://files.example.com/mcp', scopes: ['files:read'] });
    assert.equal(created.status, 201);
    const registered = await registerClient(gatehouse, { client_name: 'Live one' });
    await eventually(() => stream.events.length === 1, 'the registration arrives');
    assert.equal(stream.events[0]!.type, 'client.registered');
    assert.equal(stream.events[0]!.client_id, registered.client_id);
    const [latest] = await queryAudit(gatehouse, { type: 'client.registered', client_id: registered.client_id });
    assert.deepEqual(stream.events[0], latest, 'the event as the admin API shows it');

    // Reconnecting after an earlier event replays what matched since.
    const resumed = await ConsoleStream.open(alice, `${gatehouse.url}/console/audit/stream?type=client.registered`, { 'last-event-id': String(latest!.seq - 1) });
    await eventually(() => resumed.events.length === 1, 'the resumed stream replays the registration');
    assert.equal(resumed.ids[0], String(latest!.seq));

    await Promise.all([stream.close(), resumed.close()]);
    await eventually(() => streams.size === before, 'the server lets go of streams whose clients went away');
  });

  it('refuses the stream with a bare 401 without a session and 403 without a role, and shows neither any event', async () => {
    const stranger = new Browser();
    const anonymous = await stranger.fetch(`${gatehouse.url}/console/audit/stream`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await anonymous.text(), 'Sign in to the console first.');
    const signInPage = await open(stranger, '/console/audit');
    assert.match(signInPage.html, /<h1>Sign in to the console<\/h1>/);
    assert.equal(rowsOf(signInPage).length, 0);
    const anonymousExport = await stranger.fetch(`${gatehouse.url}/console/audit/export`);
    assert.match(anonymousExport.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await anonymousExport.text(), /Sign in to the console/);

    const dave = await signIn('dave');
    const refused = await dave.fetch(`${gatehouse.url}/console/audit/stream`);
    assert.equal(refused.status, 403);
    assert.equal(await refused.text(), 'You have no role in this server’s console.');
    const page = await open(dave, '/console/audit');
    assert.equal(page.status, 403);
    assert.equal(rowsOf(page).length, 0);
    assert.equal((await dave.fetch(`${gatehouse.url}/console/audit/export`)).status, 403);
  });

  it('ends a viewer’s stream when their role is taken away, and refuses it again', async () => {
    const erin = await signIn('erin');
    const erinId = await userId('erin');
    assert.equal((await gatehouse.admin('PUT', `/admin/operators/${erinId}`, { role: 'viewer' })).status, 200);
    const stream = await ConsoleStream.open(erin, `${gatehouse.url}/console/audit/stream`);
    assert.equal(stream.response.status, 200);
    assert.equal((await gatehouse.admin('DELETE', `/admin/operators/${erinId}`)).status, 204);
    let ended = false;
    void stream.ended().then(() => {
      ended = true;
    });
    await eventually(() => ended, 'the server ends the stream at its next check');
    const again = await erin.fetch(`${gatehouse.url}/console/audit/stream`);
    assert.equal(again.status, 403);
    await again.body?.cancel();
  });

  it('exports exactly the filtered range as JSON lines, to a viewer too, and records the export', async () => {
    const bob = await signIn('bob');
    const bobId = await userId('bob');
    assert.equal((await gatehouse.admin('PUT', `/admin/operators/${bobId}`, { role: 'viewer' })).status, 200);

    const filter = { type: 'token.*,consent.*', client_id: client.client_id };
    const everything = await queryAudit(gatehouse, filter);
    assert.ok(everything.length >= 4);
    const since = everything[1]!.time;
    const until = everything.at(-1)!.time;
    const expected = await queryAudit(gatehouse, { ...filter, since, until });
    assert.ok(expected.length > 0 && expected.length < everything.length, 'the range narrows the export');

    const response = await bob.fetch(`${gatehouse.url}/console/audit/export?${new URLSearchParams({ ...filter, since, until })}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/jsonl; charset=utf-8');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.match(response.headers.get('content-disposition') ?? '', /^attachment; filename="gatehouse-audit-\d{8}T\d{6}Z-\d{8}T\d{6}Z\.jsonl"$/);
    const body = await response.text();
    assert.ok(body.endsWith('\n'));
    const lines = body.slice(0, -1).split('\n').map((line) => JSON.parse(line) as AuditEventV1);
    assert.deepEqual(lines, expected);

    const open = await bob.fetch(`${gatehouse.url}/console/audit/export?${new URLSearchParams(filter)}`);
    assert.match(open.headers.get('content-disposition') ?? '', /filename="gatehouse-audit-start-\d{8}T\d{6}Z\.jsonl"/);
    const openLines = (await open.text()).trim().split('\n').map((line) => JSON.parse(line) as AuditEventV1);
    assert.deepEqual(openLines, everything);

    const bad = await bob.fetch(`${gatehouse.url}/console/audit/export?outcome=maybe`);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /Outcome must be one of/);

    await gatehouse.app.get(AuditLog).flushObservations();
    const exported = (await gatehouse.db.query(`SELECT actor_kind, actor_id, outcome, data FROM audit_events WHERE type = 'audit.exported' ORDER BY seq`)) as Array<Record<string, unknown>>;
    assert.deepEqual(exported, [
      {
        actor_kind: 'user',
        actor_id: bobId,
        outcome: 'success',
        data: {
          filter_type: filter.type,
          filter_client_id: client.client_id,
          filter_sub: null,
          filter_resource: null,
          filter_outcome: null,
          since,
          until,
          count: expected.length,
          truncated: false,
          complete: true,
        },
      },
      {
        actor_kind: 'user',
        actor_id: bobId,
        outcome: 'success',
        data: {
          filter_type: filter.type,
          filter_client_id: client.client_id,
          filter_sub: null,
          filter_resource: null,
          filter_outcome: null,
          since: null,
          until: null,
          count: everything.length,
          truncated: false,
          complete: true,
        },
      },
    ]);
  });
});
