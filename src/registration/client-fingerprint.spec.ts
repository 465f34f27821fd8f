import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { canonicalJson, metadataFingerprint } from './client-fingerprint.js';
import { validateClientMetadata } from './client-metadata.js';

describe('canonicalJson', () => {
  it('sorts keys at every level, keeps array order, and drops undefined members', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, 1], c: 'x' }, e: undefined }), '{"a":{"c":"x","d":[3,1]},"b":1}');
    assert.equal(canonicalJson({ a: { c: 'x', d: [3, 1] }, b: 1 }), canonicalJson({ b: 1, a: { d: [3, 1], c: 'x' } }));
    assert.notEqual(canonicalJson([1, 3]), canonicalJson([3, 1]));
  });

  it('serialises scalars and null as JSON does', () => {
    assert.equal(canonicalJson(null), 'null');
    assert.equal(canonicalJson('a"b'), '"a\\"b"');
    assert.equal(canonicalJson([undefined, true, 1.5]), '[null,true,1.5]');
  });
});

describe('metadataFingerprint', () => {
  const base = { client_name: 'Editor', redirect_uris: ['http://127.0.0.1:7777/cb'], token_endpoint_auth_method: 'none' };

  it('is the same for the same validated metadata however it was written', () => {
    const a = metadataFingerprint(validateClientMetadata(base));
    const reordered = metadataFingerprint(validateClientMetadata({ token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:7777/cb'], client_name: 'Editor' }));
    // Defaults made explicit and unknown fields make no difference: only the validated metadata counts.
    const explicit = metadataFingerprint(validateClientMetadata({ ...base, grant_types: ['authorization_code'], response_types: ['code'], unknown_field: 1 }));
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.equal(reordered, a);
    assert.equal(explicit, a);
  });

  it('differs when any metadata differs', () => {
    const a = metadataFingerprint(validateClientMetadata(base));
    assert.notEqual(metadataFingerprint(validateClientMetadata({ ...base, client_name: 'Editor 2' })), a);
    assert.notEqual(metadataFingerprint(validateClientMetadata({ ...base, redirect_uris: ['http://127.0.0.1:7778/cb'] })), a);
    assert.notEqual(metadataFingerprint(validateClientMetadata({ ...base, token_endpoint_auth_method: 'client_secret_post' })), a);
    assert.notEqual(metadataFingerprint(validateClientMetadata({ ...base, software_version: '1.0.1' })), a);
  });
});
