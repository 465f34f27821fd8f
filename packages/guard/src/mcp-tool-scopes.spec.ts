import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mcpToolScopes } from './mcp-tool-scopes.js';

describe('mcpToolScopes', () => {
  const resolve = mcpToolScopes({ list_projects: ['projects:read'], create_project: ['projects:write', 'audit:append'] }, ['projects:read']);
  const request = (body: unknown) => ({ body, method: 'POST', headers: {} });
  const call = (name: unknown, id = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

  it('a single tools/call needs the base scopes plus the tool’s, each once', () => {
    assert.deepEqual(resolve(request(call('create_project'))), ['projects:read', 'projects:write', 'audit:append']);
    assert.deepEqual(resolve(request(call('list_projects'))), ['projects:read'], 'a tool scope already in the base is not repeated');
  });

  it('a batch needs the union of its calls', () => {
    assert.deepEqual(resolve(request([call('list_projects', 1), call('create_project', 2), call('create_project', 3)])), ['projects:read', 'projects:write', 'audit:append']);
    assert.deepEqual(resolve(request([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, call('create_project', 2)])), ['projects:read', 'projects:write', 'audit:append']);
  });

  it('an unknown tool needs only the base scopes (the MCP server answers it with an error)', () => {
    assert.deepEqual(resolve(request(call('drop_database'))), ['projects:read']);
  });

  it('a tool named after an Object.prototype member is an unknown tool, not a crash', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      assert.deepEqual(resolve(request(call(name))), ['projects:read'], name);
    }
  });

  it('messages other than tools/call need only the base scopes', () => {
    for (const method of ['initialize', 'tools/list', 'resources/read', 'prompts/get', 'notifications/initialized', 'ping']) {
      assert.deepEqual(resolve(request({ jsonrpc: '2.0', id: 1, method, params: { name: 'create_project' } })), ['projects:read'], method);
    }
  });

  it('bodies that are not JSON-RPC objects need only the base scopes', () => {
    for (const body of [undefined, null, '', 'tools/call', 42, [], [null, 'x', 7], { method: 'tools/call' }, { method: 'tools/call', params: null }, call(42), call(['create_project'])]) {
      assert.deepEqual(resolve(request(body)), ['projects:read'], JSON.stringify(body));
    }
  });

  it('without base scopes, a non-call message needs none', () => {
    const noBase = mcpToolScopes({ create_project: ['projects:write'] });
    assert.deepEqual(noBase(request({ jsonrpc: '2.0', id: 1, method: 'tools/list' })), []);
    assert.deepEqual(noBase(request(call('create_project'))), ['projects:write']);
  });
});
