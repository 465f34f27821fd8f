import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { isClientIdUrl, parseClientIdUrl, validateMetadataDocument } from './client-metadata-document.js';
import { MetadataDocumentError, type MetadataRejectionReason } from './metadata-document-error.js';

const URL_ID = 'https://app.example.com/oauth/client.json';

function assertRefused(fn: () => unknown, reason: MetadataRejectionReason, message: RegExp, label = ''): void {
  assert.throws(
    fn,
    (error: unknown) => {
      assert.ok(error instanceof MetadataDocumentError, `${label}: expected MetadataDocumentError, got ${String(error)}`);
      assert.equal(error.reason, reason, label);
      assert.match(error.description, message, label);
      return true;
    },
    label,
  );
}

function document(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { client_id: URL_ID, client_name: 'Example', redirect_uris: ['https://app.example.com/callback'], ...overrides };
}

describe('isClientIdUrl', () => {
  it('tells URLs (with any scheme) from registered ids', () => {
    for (const id of [URL_ID, 'http://app.example.com/c', 'HTTPS://x/y', 'ftp://x/y', 'urn:x']) assert.equal(isClientIdUrl(id), true, id);
    for (const id of ['0b0f3c1e-6a4e-4a59-9a7c-2b1f6f1d2c3a', 'no-such-client', '', '1https://x/y', '/https://x']) assert.equal(isClientIdUrl(id), false, id);
  });
});

describe('parseClientIdUrl', () => {
  it('accepts https URLs with a path, a port or a query', () => {
    for (const id of [URL_ID, 'https://app.example.com/c', 'https://app.example.com:8443/c.json', 'https://app.example.com/c?tenant=1', 'https://[2606:4700::1]/c']) {
      assert.equal(parseClientIdUrl(id).href, id);
    }
  });

  it('refuses what the draft forbids, each with its own reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['http://app.example.com/c', /must use https/],
      ['ftp://app.example.com/c', /must use https/],
      ['https://app.example.com/c#x', /must not contain a fragment/],
      ['https://app.example.com/c#', /must not contain a fragment/],
      ['https://user:pw@app.example.com/c', /must not contain credentials/],
      ['https://user@app.example.com/c', /must not contain credentials/],
      ['https://@app.example.com/c', /must not contain credentials/],
      ['https://app.example.com/a/./c', /\. or \.\. path segments/],
      ['https://app.example.com/a/../c', /\. or \.\. path segments/],
      ['https://app.example.com/a/%2e%2E/c', /\. or \.\. path segments/],
      ['https://app.example.com/a/.%2e', /\. or \.\. path segments/],
      ['https://app.example.com/..', /\. or \.\. path segments/],
      ['https://app.example.com', /must have a path/],
      ['https://app.example.com/', /must have a path/],
      ['https://app.example.com/?x=1', /must have a path/],
      ['not a url', /is not a valid URL/],
      [`https://app.example.com/${'a'.repeat(2000)}`, /at most 2000 characters/],
      ['https://app.example.com/c\u0000', /at most 2000 characters/],
    ];
    for (const [id, message] of cases) assertRefused(() => parseClientIdUrl(id), 'invalid_client_id', message, id);
  });

  it('refuses URLs that are not in normalised form, naming the normalised one', () => {
    const cases: Array<[string, string]> = [
      ['https://App.Example.com/c', 'https://app.example.com/c'],
      ['https://app.example.com:443/c', 'https://app.example.com/c'],
      ['https://app.example.com/c d', 'https://app.example.com/c%20d'],
      ['https:\\\\app.example.com\\c', 'https://app.example.com/c'],
      ['https:app.example.com/c', 'https://app.example.com/c'],
    ];
    for (const [id, normalised] of cases) {
      assertRefused(() => parseClientIdUrl(id), 'invalid_client_id', new RegExp(`normalised form \\(${normalised.replace(/[.?/\\]/g, '\\$&')}\\)`), id);
    }
  });
});

describe('validateMetadataDocument', () => {
  it('returns the metadata as a public client, with RFC 7591 defaults', () => {
    assert.deepEqual(validateMetadataDocument(URL_ID, document()), {
      redirect_uris: ['https://app.example.com/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      application_type: 'web',
      client_name: 'Example',
    });
    assert.equal(validateMetadataDocument(URL_ID, document({ token_endpoint_auth_method: 'none' })).token_endpoint_auth_method, 'none');
  });

  it('keeps understood fields, drops unknown ones, and ignores keys a public client does not use', () => {
    const metadata = validateMetadataDocument(
      URL_ID,
      document({ grant_types: ['authorization_code', 'refresh_token'], client_uri: 'https://app.example.com', jwks_uri: 'https://app.example.com/jwks', x_custom: 1, client_id: URL_ID }),
    );
    assert.deepEqual(metadata.grant_types, ['authorization_code', 'refresh_token']);
    assert.equal(metadata.client_uri, 'https://app.example.com');
    assert.equal('jwks_uri' in metadata || 'x_custom' in metadata || 'client_id' in metadata, false);
  });

  it('refuses a document whose client_id is not exactly the URL', () => {
    for (const clientId of [undefined, null, 42, `${URL_ID}/`, URL_ID.toUpperCase(), 'https://app.example.com:443/oauth/client.json', `${URL_ID} `]) {
      assertRefused(() => validateMetadataDocument(URL_ID, document({ client_id: clientId })), 'invalid_document', /client_id in the document is not exactly the URL/, String(clientId));
    }
  });

  it('refuses anything but a JSON object', () => {
    for (const json of [null, [], [document()], 'text', 42, true]) {
      assertRefused(() => validateMetadataDocument(URL_ID, json), 'invalid_document', /not a JSON object/, JSON.stringify(json));
    }
  });

  it('refuses shared secrets of every kind', () => {
    assertRefused(() => validateMetadataDocument(URL_ID, document({ client_secret: 's' })), 'invalid_document', /client_secret or client_secret_expires_at/);
    assertRefused(() => validateMetadataDocument(URL_ID, document({ client_secret: '' })), 'invalid_document', /client_secret/);
    assertRefused(() => validateMetadataDocument(URL_ID, document({ client_secret_expires_at: 0 })), 'invalid_document', /client_secret_expires_at/);
    for (const method of ['client_secret_basic', 'client_secret_post', 'client_secret_jwt']) {
      assertRefused(() => validateMetadataDocument(URL_ID, document({ token_endpoint_auth_method: method })), 'invalid_document', new RegExp(`${method}, a shared-secret method`), method);
    }
  });

  it('accepts private_key_jwt with jwks_uri or jwks, and refuses other methods', () => {
    const byUri = validateMetadataDocument(URL_ID, document({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://app.example.com/jwks' }));
    assert.equal(byUri.token_endpoint_auth_method, 'private_key_jwt');
    assert.equal(byUri.jwks_uri, 'https://app.example.com/jwks');
    assertRefused(
      () => validateMetadataDocument(URL_ID, document({ token_endpoint_auth_method: 'private_key_jwt' })),
      'invalid_document',
      /private_key_jwt needs exactly one of jwks and jwks_uri/,
    );
    assertRefused(
      () => validateMetadataDocument(URL_ID, document({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } })),
      'invalid_document',
      /private or symmetric key/,
    );
    for (const method of ['tls_client_auth', 7, ['none']]) {
      assertRefused(() => validateMetadataDocument(URL_ID, document({ token_endpoint_auth_method: method })), 'invalid_document', /must be "none" or "private_key_jwt"/, String(method));
    }
  });

  it('keeps application_type, or infers it as registration does', () => {
    assert.equal(validateMetadataDocument(URL_ID, document({ application_type: 'native', redirect_uris: ['http://127.0.0.1/cb'] })).application_type, 'native');
    assert.equal(validateMetadataDocument(URL_ID, document({ redirect_uris: ['http://127.0.0.1/cb'] })).application_type, 'native');
    assert.equal(validateMetadataDocument(URL_ID, document({ application_type: 'web' })).application_type, 'web');
  });

  it('requires client_name and redirect_uris', () => {
    const { client_name: _name, ...noName } = document();
    assertRefused(() => validateMetadataDocument(URL_ID, noName), 'invalid_document', /has no client_name/);
    assertRefused(() => validateMetadataDocument(URL_ID, document({ client_name: null })), 'invalid_document', /has no client_name/);
    const { redirect_uris: _uris, ...noUris } = document();
    assertRefused(() => validateMetadataDocument(URL_ID, noUris), 'invalid_document', /has no redirect_uris/);
  });

  it('applies the registration rules to the rest: redirect URIs, names, grant types', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ redirect_uris: [] }, /redirect_uris must be a non-empty array/],
      [{ redirect_uris: ['http://app.example.com/cb'] }, /http redirect URIs are only allowed on loopback/],
      [{ redirect_uris: ['https://app.example.com/cb#x'] }, /redirect URI must not contain a fragment/],
      [{ client_name: '' }, /client_name must be a string of 1 to 200 printable characters/],
      [{ client_name: 'x\ny' }, /client_name must be a string/],
      [{ grant_types: ['authorization_code', 'implicit'] }, /grant_types may only contain/],
      // Such a client has no secret: it is public, and the client credentials grant is for confidential clients.
      [{ grant_types: ['authorization_code', 'client_credentials'] }, /client_credentials is for confidential clients/],
      [{ response_types: ['token'] }, /response_types must be/],
      [{ application_type: 'web', redirect_uris: ['http://127.0.0.1/cb'] }, /application_type web allows only https redirect URIs/],
      [{ application_type: 'desktop' }, /application_type must be one of web, native/],
    ];
    for (const [overrides, message] of cases) {
      assertRefused(() => validateMetadataDocument(URL_ID, document(overrides)), 'invalid_document', new RegExp(`metadata is invalid: ${message.source}`), JSON.stringify(overrides));
    }
  });
});
