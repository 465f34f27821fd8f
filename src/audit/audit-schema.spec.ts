import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { AUDIT_CATALOGUE, AUDIT_EVENT_TYPES, defaultActor, defaultOutcome, isAuditEventType, scrubSecrets } from './audit-schema.js';

const facts = { clientId: 'client-1', subject: 'user-1', resource: 'https://mcp.example.com/', data: {} };

describe('audit event catalogue', () => {
  it('lists every type once, including rate_limit.exceeded and the CIMD events', () => {
    assert.equal(new Set(AUDIT_EVENT_TYPES).size, AUDIT_EVENT_TYPES.length);
    for (const type of ['rate_limit.exceeded', 'token.introspected', 'login.failed', 'client.metadata_rejected']) assert.ok(isAuditEventType(type), type);
    assert.ok(!isAuditEventType('token.stolen'));
    assert.ok(!isAuditEventType('toString'), 'no prototype keys');
    for (const entry of Object.values(AUDIT_CATALOGUE)) assert.ok(entry.description.length > 10);
  });

  it('derives the actor from the type and its facts', () => {
    assert.deepEqual(defaultActor('login.succeeded', facts, true), { kind: 'user', id: 'user-1' });
    assert.deepEqual(defaultActor('client.registered', facts, true), { kind: 'client', id: 'client-1' });
    assert.deepEqual(defaultActor('admin.resource_created', facts, true), { kind: 'admin', id: 'api' });
    assert.deepEqual(defaultActor('admin.resource_created', facts, false), { kind: 'admin', id: 'cli' });
    assert.deepEqual(defaultActor('token.issued', { ...facts, data: { grant_type: 'mint' } }, true), { kind: 'resource', id: 'https://mcp.example.com/' });
    assert.deepEqual(defaultActor('token.issued', { ...facts, data: { grant_type: 'authorization_code' } }, true), { kind: 'client', id: 'client-1' });
    assert.deepEqual(defaultActor('token.revoked', { ...facts, data: { by: 'resource' } }, true), { kind: 'resource', id: 'https://mcp.example.com/' });
    assert.deepEqual(defaultActor('token.revoked', { ...facts, data: { by: 'client' } }, true), { kind: 'client', id: 'client-1' });
    assert.deepEqual(defaultActor('grant.revoked', { ...facts, data: { reason: 'revoked_by_admin' } }, true), { kind: 'admin', id: 'api' });
    assert.deepEqual(defaultActor('grant.revoked', { ...facts, data: { reason: 'revoked_by_user' } }, true), { kind: 'user', id: 'user-1' });
    assert.deepEqual(defaultActor('consent.withdrawn', facts, true), { kind: 'user', id: 'user-1' });
    assert.deepEqual(defaultActor('grant.revoked', { ...facts, data: { reason: 'refresh_token_reuse' } }, true), { kind: 'system', id: null });
    assert.deepEqual(defaultActor('grant.revoked', { ...facts, data: { reason: 'authorization_code_replayed' } }, true), { kind: 'system', id: null });
  });

  it('derives the outcome from the type', () => {
    assert.equal(defaultOutcome('token.issued'), 'success');
    assert.equal(defaultOutcome('login.failed'), 'failure');
    assert.equal(defaultOutcome('refresh_token.reuse_detected'), 'failure');
    assert.equal(defaultOutcome('authorization_code.replayed'), 'failure');
    assert.equal(defaultOutcome('consent.denied'), 'denied');
  });
});

describe('scrubSecrets', () => {
  it('replaces Gatehouse secrets and JWTs, in strings and in lists, and names the fields', () => {
    const jwt = 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const { data, redacted } = scrubSecrets({
      grant_id: '0f8b6c1e-0000-4000-8000-000000000000',
      jti: 'a5f0c3d2-1111-4111-8111-111111111111',
      note: `leaked gh_cs_${'x'.repeat(43)}`,
      list: ['tools:read', `gh_rat_${'y'.repeat(43)}`],
      access: jwt,
      refresh_token: true,
      kid: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    });
    assert.deepEqual(data, {
      grant_id: '0f8b6c1e-0000-4000-8000-000000000000',
      jti: 'a5f0c3d2-1111-4111-8111-111111111111',
      note: '[redacted]',
      list: ['tools:read', '[redacted]'],
      access: '[redacted]',
      refresh_token: true,
      kid: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    });
    assert.deepEqual(redacted, ['note', 'list', 'access']);
  });

  it('replaces initial access tokens too', () => {
    assert.deepEqual(scrubSecrets({ token: `gh_iat_${'z'.repeat(43)}`, initial_access_token_id: '0f8b6c1e-0000-4000-8000-000000000000' }), {
      data: { token: '[redacted]', initial_access_token_id: '0f8b6c1e-0000-4000-8000-000000000000' },
      redacted: ['token'],
    });
  });

  it('reports nothing when nothing looks secret', () => {
    assert.deepEqual(scrubSecrets({ scopes: ['a', 'b'], url: 'https://app.example.com/client.json' }), { data: { scopes: ['a', 'b'], url: 'https://app.example.com/client.json' }, redacted: null });
  });
});
