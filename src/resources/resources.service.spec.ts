import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { sha256 } from '../common/crypto.js';
import type { ResourceServerEntity } from './resource-server.entity.js';
import { canonicalResource, isUuid, secretMatches } from './resources.service.js';

describe('canonicalResource', () => {
  it('adds the trailing slash to a bare origin', () => {
    assert.equal(canonicalResource('https://mcp.example.com'), 'https://mcp.example.com/');
    assert.equal(canonicalResource('http://127.0.0.1:8080'), 'http://127.0.0.1:8080/');
  });

  it('lower-cases scheme and host but keeps the path as it is', () => {
    assert.equal(canonicalResource('HTTPS://MCP.Example.COM/Tools/MCP'), 'https://mcp.example.com/Tools/MCP');
  });

  it('drops the default port and keeps any other', () => {
    assert.equal(canonicalResource('https://mcp.example.com:443/mcp'), 'https://mcp.example.com/mcp');
    assert.equal(canonicalResource('http://mcp.example.com:80/mcp'), 'http://mcp.example.com/mcp');
    assert.equal(canonicalResource('https://mcp.example.com:8443/mcp'), 'https://mcp.example.com:8443/mcp');
  });

  it('leaves a path without a trailing slash alone, and keeps the query', () => {
    assert.equal(canonicalResource('https://mcp.example.com/mcp'), 'https://mcp.example.com/mcp');
    assert.notEqual(canonicalResource('https://mcp.example.com/mcp'), canonicalResource('https://mcp.example.com/mcp/'));
    assert.equal(canonicalResource('https://mcp.example.com/mcp?tenant=a'), 'https://mcp.example.com/mcp?tenant=a');
  });

  it('gives equivalent spellings the same canonical form', () => {
    const forms = ['https://mcp.example.com', 'https://MCP.example.com/', 'https://mcp.example.com:443', 'HTTPS://mcp.EXAMPLE.com:443/'].map(canonicalResource);
    assert.deepEqual(new Set(forms), new Set(['https://mcp.example.com/']));
  });

  it('rejects fragments (RFC 8707 §2), even an empty one', () => {
    assert.equal(canonicalResource('https://mcp.example.com/mcp#tools'), null);
    assert.equal(canonicalResource('https://mcp.example.com/#'), null);
    assert.equal(canonicalResource('https://mcp.example.com#'), null);
  });

  it('rejects values that are not absolute URIs', () => {
    for (const value of ['', 'mcp.example.com', '/mcp', 'not a url']) {
      assert.equal(canonicalResource(value), null, value);
    }
  });
});

describe('isUuid', () => {
  it('accepts UUIDs in either case and nothing else', () => {
    assert.equal(isUuid('3f2b8c1e-9a4d-4e5f-8a6b-7c8d9e0f1a2b'), true);
    assert.equal(isUuid('3F2B8C1E-9A4D-4E5F-8A6B-7C8D9E0F1A2B'), true);
    for (const value of ['', '3f2b8c1e9a4d4e5f8a6b7c8d9e0f1a2b', '3f2b8c1e-9a4d-4e5f-8a6b-7c8d9e0f1a2', "' OR 1=1 --", '3f2b8c1e-9a4d-4e5f-8a6b-7c8d9e0f1a2b\n']) {
      assert.equal(isUuid(value), false, JSON.stringify(value));
    }
  });
});

describe('secretMatches', () => {
  const now = new Date('2026-01-02T00:00:00Z');
  const current = sha256('gh_rs_current');
  const previous = sha256('gh_rs_previous');
  const resource = (previousHash: string | null, expiresAt: Date | null) =>
    ({ registrationSecretHash: current, previousRegistrationSecretHash: previousHash, previousRegistrationSecretExpiresAt: expiresAt }) as ResourceServerEntity;

  it('accepts the current secret, with or without a previous one', () => {
    assert.equal(secretMatches(resource(null, null), current, now), true);
    assert.equal(secretMatches(resource(previous, new Date(now.getTime() - 1000)), current, now), true);
  });

  it('accepts the previous secret only before its expiry', () => {
    assert.equal(secretMatches(resource(previous, new Date(now.getTime() + 1000)), previous, now), true);
    assert.equal(secretMatches(resource(previous, now), previous, now), false, 'expired at that instant');
    assert.equal(secretMatches(resource(previous, new Date(now.getTime() - 1000)), previous, now), false);
  });

  it('refuses any other digest, and never matches an absent previous secret', () => {
    assert.equal(secretMatches(resource(previous, new Date(now.getTime() + 1000)), sha256('gh_rs_other'), now), false);
    assert.equal(secretMatches(resource(null, null), '', now), false);
    assert.equal(secretMatches(resource(null, null), previous, now), false);
  });
});
