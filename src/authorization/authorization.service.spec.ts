import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { InvalidScope } from '../common/oauth-errors.js';
import { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { requestedScopes } from './authorization.service.js';

function resource(scopes: string[], defaultScopes: string[]): ResourceServerEntity {
  return Object.assign(new ResourceServerEntity(), {
    id: '00000000-0000-4000-8000-000000000001',
    name: 'Test MCP server',
    resource: 'https://mcp.example.com/mcp',
    scopes,
    defaultScopes,
  });
}

function assertInvalidScope(fn: () => unknown, label: string): void {
  assert.throws(fn, (error: unknown) => error instanceof InvalidScope && error.code === 'invalid_scope' && error.status === 400, label);
}

describe('requestedScopes', () => {
  const mcp = resource(['tools:read', 'tools:execute', 'admin'], ['tools:read']);

  it('uses the resource’s default scopes when none are asked for', () => {
    for (const scope of [undefined, '', '   ']) {
      assert.deepEqual(requestedScopes(scope, mcp), ['tools:read'], JSON.stringify(scope));
    }
  });

  it('returns a copy of the defaults, not the entity’s own array', () => {
    const scopes = requestedScopes(undefined, mcp);
    scopes.push('admin');
    assert.deepEqual(mcp.defaultScopes, ['tools:read']);
  });

  it('returns the asked scopes, once each, ignoring extra spaces', () => {
    assert.deepEqual(requestedScopes('tools:execute', mcp), ['tools:execute']);
    assert.deepEqual(requestedScopes('tools:read  tools:execute tools:read ', mcp), ['tools:read', 'tools:execute']);
  });

  it('rejects a scope the resource does not define, with invalid_scope', () => {
    assertInvalidScope(() => requestedScopes('tools:delete', mcp), 'unknown');
    assertInvalidScope(() => requestedScopes('tools:read tools:delete', mcp), 'one known, one unknown');
    assertInvalidScope(() => requestedScopes('TOOLS:READ', mcp), 'scopes are case-sensitive');
  });

  it('rejects malformed scope tokens', () => {
    assertInvalidScope(() => requestedScopes('tools:read "admin"', mcp), 'quote');
    assertInvalidScope(() => requestedScopes('tools\\read', mcp), 'backslash');
    assertInvalidScope(() => requestedScopes('tools:read\tadmin', mcp), 'tab');
  });

  it('rejects a request with no scope when the resource has no default scopes', () => {
    const noDefaults = resource(['tools:read'], []);
    assertInvalidScope(() => requestedScopes(undefined, noDefaults), 'undefined');
    assertInvalidScope(() => requestedScopes(' ', noDefaults), 'blank');
    assert.deepEqual(requestedScopes('tools:read', noDefaults), ['tools:read']);
  });
});
