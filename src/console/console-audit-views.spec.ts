import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { AuditEventV1 } from '../audit/audit-schema.js';
import type { SignedInOperator } from './console-layout.js';
import { AUDIT_LIVE_ROWS, auditPage, eventRow, formatEventTime, summarizeData } from './console-audit-views.js';
import type { AuditForm } from './console-audit-query.js';

const viewer: SignedInOperator = { userId: 'u1', name: 'Vic', role: 'viewer', csrfToken: 'csrf', serverName: 'auth.example.com', devLogin: false };
const emptyForm: AuditForm = { type: '', client_id: '', sub: '', resource: '', outcome: '', since: '', until: '' };
const event: AuditEventV1 = {
  schema: 1,
  seq: 42,
  id: '9b0d2c3e-0000-4000-8000-000000000000',
  type: 'token.issued',
  time: '2026-12-05T04:19:25.123Z',
  actor: { kind: 'client', id: 'client-<1>' },
  subject: 'user-1',
  client_id: 'client-<1>',
  resource: 'https://mcp.example.com/',
  scopes: ['tools:read'],
  ip: null,
  user_agent: null,
  request_id: null,
  outcome: 'success',
  data: { grant_type: 'authorization_code', scopes: ['tools:read', 'tools:write'], refresh_token: true, jti: null },
};

describe('the console audit page', () => {
  it('labels every filter, keeps what was typed, and selects the outcome asked for', () => {
    const out = auditPage(viewer, { form: { ...emptyForm, type: 'token.*', client_id: 'a"b', outcome: 'denied' }, events: [], problem: null, streamUrl: null });
    for (const [id, label] of [['audit-type', 'Type'], ['audit-client', 'Client'], ['audit-sub', 'User \\(sub\\)'], ['audit-resource', 'Resource'], ['audit-outcome', 'Outcome'], ['audit-since', 'Since'], ['audit-until', 'Until']]) {
      assert.match(out, new RegExp(`<label for="${id}">${label}</label>`), id);
      assert.match(out, new RegExp(`id="${id}"`), id);
    }
    assert.match(out, /name="type" value="token\.\*"/);
    assert.match(out, /name="client_id" value="a&quot;b"/);
    assert.match(out, /<option value="denied" selected>denied<\/option>/);
    assert.match(out, /<option value="token\.\*"><\/option>/, 'prefixes are suggested');
    assert.match(out, /<button type="submit" formaction="\/console\/audit\/export">Export as JSON lines<\/button>/);
    assert.match(out, /<a href="\/console\/audit" aria-current="page">Audit<\/a>/);
  });

  it('draws the events newest first in a labelled, scrollable, polite live region, and streams only when asked', () => {
    const streamUrl = '/console/audit/stream?type=token.*&cursor=42';
    const out = auditPage(viewer, { form: emptyForm, events: [event, { ...event, seq: 41, type: 'client.registered' }], problem: null, streamUrl });
    assert.match(out, /<div class="table-scroll" tabindex="0" role="region" aria-labelledby="audit-caption" aria-live="polite" aria-relevant="additions">/);
    assert.match(out, new RegExp(`data-stream="/console/audit/stream\\?type=token\\.\\*&amp;cursor=42" data-max-rows="${AUDIT_LIVE_ROWS}"`));
    assert.match(out, /<script src="\/console\/assets\/audit-stream\.js" defer><\/script>/);
    assert.ok(out.indexOf('data-seq="42"') < out.indexOf('data-seq="41"'));
    assert.match(out, /id="audit-live-status" class="live-status" role="status">The 50 newest matching events\. Reload the page to see newer ones\./);

    const closed = auditPage(viewer, { form: { ...emptyForm, until: '2026-12-01' }, events: [], problem: null, streamUrl: null });
    assert.doesNotMatch(closed, /audit-stream\.js|data-stream/);
    assert.match(closed, /<tr class="empty"><td colspan="8">No events match\.<\/td><\/tr>/);
  });

  it('shows a problem instead of events', () => {
    const out = auditPage(viewer, { form: { ...emptyForm, type: 'nope' }, events: [event], problem: 'Unknown event type nope.', streamUrl: null });
    assert.match(out, /<p class="callout" role="alert">Unknown event type nope\.<\/p>/);
    assert.doesNotMatch(out, /<table/);
  });
});

describe('an audit row', () => {
  it('shows time, type, outcome, actor, client, subject, resource and the data, escaped', () => {
    const row = eventRow(event).value;
    assert.equal(
      row,
      '<tr data-seq="42"><td class="time"><time datetime="2026-12-05T04:19:25.123Z">2026-12-05 04:19:25</time></td><td><code>token.issued</code></td><td>success</td>' +
        '<td>client</td><td>client-&lt;1&gt;</td><td>user-1</td><td>https://mcp.example.com/</td>' +
        '<td>grant_type=authorization_code, scopes=tools:read tools:write, refresh_token=true</td></tr>',
    );
    assert.match(eventRow({ ...event, actor: { kind: 'system', id: null }, client_id: null }).value, /<td>system<\/td><td><\/td>/);
    assert.match(eventRow({ ...event, actor: { kind: 'resource', id: 'https://mcp.example.com/' } }).value, /<td>resource https:\/\/mcp\.example\.com\/<\/td>/);
    assert.match(eventRow({ ...event, actor: { kind: 'client', id: 'someone-else' } }).value, /<td>client someone-else<\/td>/);
  });

  it('formats the time in UTC to the second and cuts long data', () => {
    assert.equal(formatEventTime('2026-12-05T04:19:25.123Z'), '2026-12-05 04:19:25');
    assert.equal(formatEventTime('2026-12-05T04:19:25Z'), '2026-12-05 04:19:25');
    const long = summarizeData({ note: 'x'.repeat(500) });
    assert.equal(long.length, 160);
    assert.ok(long.endsWith('…'));
    assert.equal(summarizeData({}), '');
  });
});
