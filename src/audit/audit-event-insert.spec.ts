import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { params, sql } from '../database/sql.js';
import { APPEND_LOCK, appendedEvents, appendValues, auditedStatement, ChangeColumn, eventValues, type NewAuditEvent } from './audit-event-insert.js';

const event = (data: NewAuditEvent['data'] = {}): NewAuditEvent => ({
  type: 'token.refreshed',
  time: new Date(0),
  actor: { kind: 'client', id: 'c' },
  clientId: 'c',
  subject: null,
  resource: null,
  scopes: null,
  ip: null,
  userAgent: null,
  requestId: 'r',
  outcome: 'success',
  data,
});

describe('auditedStatement', () => {
  const p = params<{ id: string }>();
  const audited = auditedStatement('test_audited', sql`WITH done AS (SELECT ${p.id}::text AS user_id, ARRAY['a'] AS scopes)`, {
    gate: 'done',
    events: [{ subject: new ChangeColumn('user_id'), data: { scopes: new ChangeColumn('scopes') } }],
    row: () => null,
  });

  it('writes the values the change computes from its gate row, in the statement’s text', () => {
    const { text } = audited.statement;
    assert.match(text, /appending AS \(SELECT pg_advisory_xact_lock_shared\(\$\d+\) FROM done\)/);
    assert.match(text, /change\.user_id::text/, 'the subject');
    assert.match(text, /change\.scopes::text\[\]/, 'the scopes follow data.scopes');
    assert.match(text, /jsonb_build_object\('scopes', change\.scopes\)/);
    assert.match(text, /SELECT appended\.\*, to_jsonb\(change\) AS change FROM appended, done AS change$/);
  });

  it('binds every known value by name, and none the change computes', () => {
    const values = eventValues([event({ jti: 'j' })], audited.events, ['subject']) as unknown as Record<string, unknown>;
    assert.equal(values.audit_lock, APPEND_LOCK);
    assert.equal(values.event1_data, JSON.stringify({ jti: 'j' }));
    assert.equal(values.event1_actor_source, 'subject');
    assert.ok(!('event1_subject' in values) && !('event1_scopes' in values));
    assert.equal(audited.statement.values({ id: 'u', ...eventValues([event()], audited.events) }).length, audited.statement.order.length);
  });

  it('refuses events that do not match the statement’s', () => {
    assert.throws(() => eventValues([event(), event()], audited.events), /2 events for a statement that writes 1/);
    assert.throws(() => auditedStatement('no_events', sql`WITH done AS (SELECT 1)`, { gate: 'done', events: [], row: () => null }), /needs an event/);
  });
});

describe('appendedEvents', () => {
  it('pairs the seqs drawn, in ascending order, with the events in the order given, whatever order the rows come in', () => {
    const given = [event({ n: 1 }), { ...event({ n: 2 }), type: 'grant.revoked' as const }];
    const written = appendedEvents(appendValues(given), [
      { seq: '12', id: 'id-b' },
      { seq: '9', id: 'id-a' },
    ]);
    assert.deepEqual(
      written.map(({ seq, id, type, data }) => ({ seq, id, type, data })),
      [
        { seq: 9, id: 'id-a', type: 'token.refreshed', data: { n: 1 } },
        { seq: 12, id: 'id-b', type: 'grant.revoked', data: { n: 2 } },
      ],
    );
    assert.equal(written[0]!.time, '1970-01-01T00:00:00.000Z');
    assert.notEqual(written[0]!.data, given[0]!.data, 'objects of their own: what reaches the sinks is not the recorder’s');
  });

  it('refuses rows that do not match the events', () => {
    assert.throws(() => appendedEvents(appendValues([event()]), []), /1 events appended, 0 rows returned/);
  });
});
