import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { ClientKind } from '../registration/client.entity.js';
import { applicationHost } from './account.service.js';

function client(kind: ClientKind, metadata: { client_uri?: string; redirect_uris: string[] }, id = 'client-1') {
  return { id, kind, metadata };
}

describe('the host shown for a connected application', () => {
  it('is the metadata document’s host for a client identified by one', () => {
    assert.equal(applicationHost(client('metadata_document', { client_uri: 'https://other.example', redirect_uris: ['http://127.0.0.1/cb'] }, 'https://app.example.com/client.json')), 'app.example.com');
  });

  it('is the registered site of a client an administrator registered', () => {
    assert.equal(applicationHost(client('static', { client_uri: 'https://tools.example.com/about', redirect_uris: ['https://cb.example.net/cb'] })), 'tools.example.com');
  });

  it('is where a dynamic client redirects, not the site it claims', () => {
    assert.equal(applicationHost(client('dynamic', { client_uri: 'https://claude.example.com', redirect_uris: ['https://app.example.org/oauth/cb'] })), 'app.example.org');
    assert.equal(applicationHost(client('dynamic', { client_uri: 'https://claude.example.com', redirect_uris: ['http://127.0.0.1:33418/callback'] })), 'on your computer (127.0.0.1:33418)');
    assert.equal(applicationHost(client('dynamic', { redirect_uris: ['cursor://anysphere.cursor-mcp/oauth/callback'] })), 'cursor://anysphere.cursor-mcp');
  });
});
