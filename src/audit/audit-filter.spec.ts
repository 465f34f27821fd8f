import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { AUDIT_OUTCOMES, matchesAuditFilter, parseAuditFilter } from './audit-filter.js';
import type { AuditEventV1 } from './audit-schema.js';

const event = {
  type: 'token.issued',
  client_id: 'c1',
  subject: 'u1',
  resource: 'https://mcp.example.com/',
  outcome: 'success',
} as AuditEventV1;

describe('audit filters', () => {
  it('lists every outcome the table allows', () => {
    assert.deepEqual(AUDIT_OUTCOMES, ['success', 'failure', 'denied', 'active', 'inactive']);
  });

  it('parses types, prefixes, resource and outcome, and refuses what is unknown', () => {
    assert.deepEqual(parseAuditFilter({ type: 'token.*,client.registered', resource: 'https://r/', outcome: 'denied' }), {
      filter: { types: ['token.*', 'client.registered'], clientId: undefined, subject: undefined, resource: 'https://r/', outcome: 'denied' },
    });
    assert.deepEqual(parseAuditFilter({ outcome: 'ok' }), { problem: 'outcome must be one of success, failure, denied, active, inactive' });
    assert.deepEqual(parseAuditFilter({ type: 'audit.*' }).hasOwnProperty('filter'), true);
    assert.deepEqual(parseAuditFilter({ resource: 'x'.repeat(2001) }), { problem: 'resource must be at most 2000 characters' });
  });

  it('matches an event only when every condition holds', () => {
    const matches = (query: Parameters<typeof parseAuditFilter>[0]) => {
      const parsed = parseAuditFilter(query);
      assert.ok('filter' in parsed);
      return matchesAuditFilter(event, parsed.filter);
    };
    assert.ok(matches({}));
    assert.ok(matches({ type: 'token.*', client_id: 'c1', sub: 'u1', resource: 'https://mcp.example.com/', outcome: 'success' }));
    assert.ok(!matches({ resource: 'https://other.example.com/' }));
    assert.ok(!matches({ outcome: 'failure' }));
    assert.ok(!matches({ type: 'client.*' }));
    assert.ok(!matches({ client_id: 'c2' }));
  });
});
