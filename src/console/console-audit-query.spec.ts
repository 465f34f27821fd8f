import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { auditQueryString, exportFileName, parseFormTime, readAuditForm } from './console-audit-query.js';

describe('the audit form', () => {
  it('reads every filter, leaving out empty fields, and a type list with spaces', () => {
    const reading = readAuditForm({ type: 'token.issued, client.*', client_id: ' c1 ', sub: '', resource: 'https://mcp.example.com/', outcome: 'success', since: '2026-12-01', until: '' });
    assert.equal(reading.problem, null);
    assert.deepEqual(reading.selection, {
      filter: { types: ['token.issued', 'client.*'], clientId: 'c1', subject: undefined, resource: 'https://mcp.example.com/', outcome: 'success' },
      since: new Date('2026-12-01T00:00:00Z'),
      until: undefined,
    });
    assert.equal(reading.form.client_id, 'c1');
  });

  it('refuses unknown types, outcomes that do not exist, repeated fields, bad times and an empty range', () => {
    const problem = (query: Record<string, string | string[]>) => readAuditForm(query).problem;
    assert.equal(problem({ type: 'token.stolen' }), 'Unknown event type token.stolen.');
    assert.equal(problem({ type: 'nope.*' }), 'Unknown event type nope.*.');
    assert.equal(problem({ type: 'DROP TABLE' }), 'Type must be event types or prefixes such as admin.*, comma-separated.');
    assert.equal(problem({ outcome: 'maybe' }), 'Outcome must be one of success, failure, denied, active, inactive.');
    assert.equal(problem({ sub: ['a', 'b'] }), 'Give sub once.');
    assert.equal(problem({ client_id: 'a\u0000b' }), 'Client_id must not contain NUL characters.');
    assert.equal(problem({ since: 'yesterday' }), 'Since and until must be dates, or dates and times (UTC unless they name a zone).');
    assert.equal(problem({ since: '2026-12-02', until: '2026-12-01' }), 'Since must be before until.');
    assert.equal(problem({}), null);
  });

  it('reads dates and times as UTC unless they name a zone, and refuses days not in the calendar', () => {
    assert.deepEqual(parseFormTime('2026-12-01T09:30'), new Date('2026-12-01T09:30:00Z'));
    assert.deepEqual(parseFormTime('2026-12-01T09:30:15.5+02:00'), new Date('2026-12-01T07:30:15.5Z'));
    assert.deepEqual(parseFormTime('2026-12-01T09:30:00Z'), new Date('2026-12-01T09:30:00Z'));
    assert.equal(parseFormTime('2026-02-30'), null);
    assert.equal(parseFormTime('2026-12-01T25:00'), null);
    assert.equal(parseFormTime('1764579600'), null);
  });

  it('writes the query string of the fields given, and names the export after its range', () => {
    const form = { type: 'token.*', client_id: '', sub: 'u&1', resource: '', outcome: '', since: '2026-12-01', until: '' };
    assert.equal(auditQueryString(form, ['type', 'client_id', 'sub'], { cursor: '7' }), 'type=token.*&sub=u%261&cursor=7');
    const now = new Date('2026-12-05T04:19:25.123Z');
    assert.equal(exportFileName({ filter: {}, since: new Date('2026-12-01T00:00:00Z') }, now), 'gatehouse-audit-20261201T000000Z-20261205T041925Z.jsonl');
    assert.equal(exportFileName({ filter: {}, until: new Date('2026-12-02T00:00:00Z') }, now), 'gatehouse-audit-start-20261202T000000Z.jsonl');
  });
});
