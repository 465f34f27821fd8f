import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { bearerChallenge, protectedResourceMetadataUrl } from './challenge.js';

describe('protectedResourceMetadataUrl (RFC 9728 §3.1)', () => {
  it('puts the well-known segment between the origin and the resource path', () => {
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com/mcp'), 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
    assert.equal(protectedResourceMetadataUrl('https://example.com/tenants/7/mcp'), 'https://example.com/.well-known/oauth-protected-resource/tenants/7/mcp');
    assert.equal(protectedResourceMetadataUrl('http://127.0.0.1:3001/mcp'), 'http://127.0.0.1:3001/.well-known/oauth-protected-resource/mcp');
  });

  it('uses the bare well-known URL for a resource without a path', () => {
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com'), 'https://mcp.example.com/.well-known/oauth-protected-resource');
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com/'), 'https://mcp.example.com/.well-known/oauth-protected-resource');
  });

  it('drops a trailing slash, a default port, and any query or fragment', () => {
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com/mcp/'), 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com:443/mcp'), 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
    assert.equal(protectedResourceMetadataUrl('https://mcp.example.com/mcp?x=1#f'), 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
  });
});

describe('bearerChallenge (RFC 6750 §3, RFC 9728 §5.1)', () => {
  const resourceMetadata = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';

  it('without an error: only scope and resource_metadata, as for a request that sent no token', () => {
    assert.equal(bearerChallenge({ scope: ['a', 'b'], resourceMetadata }), `Bearer scope="a b", resource_metadata="${resourceMetadata}"`);
  });

  it('with an error: error, error_description, scope, resource_metadata, in that order', () => {
    assert.equal(
      bearerChallenge({ error: 'insufficient_scope', errorDescription: 'this request needs scope b', scope: ['a', 'b'], resourceMetadata }),
      `Bearer error="insufficient_scope", error_description="this request needs scope b", scope="a b", resource_metadata="${resourceMetadata}"`,
    );
  });

  it('leaves out an empty scope list and an empty description', () => {
    assert.equal(bearerChallenge({ scope: [], resourceMetadata }), `Bearer resource_metadata="${resourceMetadata}"`);
    assert.equal(bearerChallenge({ error: 'invalid_request', errorDescription: '', resourceMetadata }), `Bearer error="invalid_request", resource_metadata="${resourceMetadata}"`);
  });

  it('leaves quotes and backslashes out (RFC 6750 §3), so a value can neither end early nor add a parameter', () => {
    const header = bearerChallenge({ error: 'invalid_token', errorDescription: 'bad "kid" \\ here', resourceMetadata });
    assert.equal(header, `Bearer error="invalid_token", error_description="bad kid  here", resource_metadata="${resourceMetadata}"`);
    const injected = bearerChallenge({ errorDescription: 'x", error="insufficient_scope', resourceMetadata });
    assert.equal([...injected.matchAll(/"/g)].length, 4, 'two quoted values, no more');
    assert.doesNotMatch(injected, /error="insufficient_scope"/);
  });

  it('drops characters a header cannot carry: control characters, line breaks, non-ASCII', () => {
    const header = bearerChallenge({ error: 'invalid_token', errorDescription: 'line\r\nWWW-Authenticate: Basic\tcafé ✓', resourceMetadata });
    assert.equal(header, `Bearer error="invalid_token", error_description="lineWWW-Authenticate: Basiccaf ", resource_metadata="${resourceMetadata}"`);
    assert.doesNotMatch(header, /[^\x20-\x7E]/);
  });
});
