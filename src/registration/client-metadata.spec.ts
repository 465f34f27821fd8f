import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { InvalidClientMetadata, InvalidRedirectUri, type OAuthError } from '../common/oauth-errors.js';
import { assertRedirectUri, redirectUriMatches, validateClientMetadata } from './client-metadata.js';

/** Asserts that `fn` throws exactly this OAuth error class, with its RFC error code and a 400 status. */
function assertRejects(fn: () => unknown, errorClass: typeof InvalidRedirectUri | typeof InvalidClientMetadata, label?: string): void {
  const code = errorClass === InvalidRedirectUri ? 'invalid_redirect_uri' : 'invalid_client_metadata';
  assert.throws(
    fn,
    (error: unknown) => {
      assert.ok(error instanceof errorClass, `${label ?? ''} expected ${errorClass.name}, got ${String(error)}`);
      assert.equal((error as OAuthError).code, code, label);
      assert.equal((error as OAuthError).status, 400, label);
      return true;
    },
    label,
  );
}

const REDIRECT = 'https://app.example.com/oauth/callback';

describe('validateClientMetadata', () => {
  it('applies the RFC 7591 §2 defaults: client_secret_basic, [authorization_code], [code]', () => {
    assert.deepEqual(validateClientMetadata({ redirect_uris: [REDIRECT] }), {
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      application_type: 'web',
    });
  });

  it('treats null like an absent field and applies the default', () => {
    const metadata = validateClientMetadata({ redirect_uris: [REDIRECT], token_endpoint_auth_method: null, client_name: null });
    assert.equal(metadata.token_endpoint_auth_method, 'client_secret_basic');
    assert.equal('client_name' in metadata, false);
  });

  it('keeps every understood field and drops unknown ones instead of echoing them', () => {
    const metadata = validateClientMetadata({
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      client_name: 'Example App',
      client_uri: 'https://app.example.com',
      logo_uri: 'https://app.example.com/logo.png',
      tos_uri: 'https://app.example.com/tos',
      policy_uri: 'https://app.example.com/privacy',
      scope: 'tools:read tools:execute',
      contacts: ['ops@example.com'],
      software_id: 'example-app',
      software_version: '1.2.3',
      // Not understood by Gatehouse: must not come back.
      software_statement: 'eyJhbGciOiJub25lIn0.e30.',
      client_secret: 'chosen-by-the-client',
      client_id: 'chosen-by-the-client',
      post_logout_redirect_uris: ['https://app.example.com/bye'],
      x_custom: { nested: true },
    });
    assert.deepEqual(metadata, {
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      application_type: 'web',
      client_name: 'Example App',
      client_uri: 'https://app.example.com',
      logo_uri: 'https://app.example.com/logo.png',
      tos_uri: 'https://app.example.com/tos',
      policy_uri: 'https://app.example.com/privacy',
      scope: 'tools:read tools:execute',
      contacts: ['ops@example.com'],
      software_id: 'example-app',
      software_version: '1.2.3',
    });
  });

  it('removes duplicate redirect URIs and grant types', () => {
    const metadata = validateClientMetadata({
      redirect_uris: [REDIRECT, REDIRECT, 'http://127.0.0.1/cb'],
      grant_types: ['authorization_code', 'refresh_token', 'authorization_code'],
    });
    assert.deepEqual(metadata.redirect_uris, [REDIRECT, 'http://127.0.0.1/cb']);
    assert.deepEqual(metadata.grant_types, ['authorization_code', 'refresh_token']);
  });

  it('rejects missing, empty, malformed or too many redirect URIs with invalid_redirect_uri', () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['missing', {}],
      ['not an array', { redirect_uris: REDIRECT }],
      ['empty', { redirect_uris: [] }],
      ['not a string', { redirect_uris: [42] }],
      ['http on a public host', { redirect_uris: ['http://app.example.com/cb'] }],
      ['javascript:', { redirect_uris: [REDIRECT, 'javascript:alert(1)'] }],
      ['fragment', { redirect_uris: [`${REDIRECT}#x`] }],
      ['21 URIs', { redirect_uris: Array.from({ length: 21 }, (_, i) => `${REDIRECT}/${i}`) }],
    ];
    for (const [label, input] of cases) assertRejects(() => validateClientMetadata(input), InvalidRedirectUri, label);
  });

  it('accepts a machine-to-machine client: client_credentials alone, confidential, with no redirect URIs or response types', () => {
    const metadata = validateClientMetadata({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post' });
    assert.deepEqual(metadata, { redirect_uris: [], token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'], response_types: [], application_type: 'web' });
    assert.deepEqual(validateClientMetadata({ redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'client_credentials'] }).grant_types, ['authorization_code', 'client_credentials']);
    assertRejects(() => validateClientMetadata({ grant_types: ['client_credentials'], redirect_uris: [REDIRECT] }), InvalidRedirectUri, 'redirect URIs without authorization_code');
  });

  it('accepts exactly 20 redirect URIs', () => {
    const uris = Array.from({ length: 20 }, (_, i) => `${REDIRECT}/${i}`);
    assert.equal(validateClientMetadata({ redirect_uris: uris }).redirect_uris.length, 20);
  });

  it('rejects other bad metadata with invalid_client_metadata', () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['unsupported auth method', { token_endpoint_auth_method: 'private_key_jwt' }],
      ['auth method not a string', { token_endpoint_auth_method: ['none'] }],
      ['implicit grant', { grant_types: ['authorization_code', 'implicit'] }],
      ['client_credentials for a public client', { grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'none' }],
      ['client_credentials with refresh_token and no authorization_code', { grant_types: ['client_credentials', 'refresh_token'], redirect_uris: [] }],
      ['client_credentials only, with response types', { grant_types: ['client_credentials'], redirect_uris: [], response_types: ['code'] }],
      ['refresh_token without authorization_code', { grant_types: ['refresh_token'] }],
      ['empty grant_types', { grant_types: [] }],
      ['grant_types not an array', { grant_types: 'authorization_code' }],
      ['token response type', { response_types: ['token'] }],
      ['two response types', { response_types: ['code', 'code'] }],
      ['empty client_name', { client_name: '' }],
      ['client_name too long', { client_name: 'x'.repeat(201) }],
      ['client_name with a control character', { client_name: 'Evil\nApp' }],
      ['client_name not a string', { client_name: 7 }],
      ['http logo_uri on a public host', { logo_uri: 'http://app.example.com/logo.png' }],
      ['javascript client_uri', { client_uri: 'javascript:alert(1)' }],
      ['policy_uri with credentials', { policy_uri: 'https://user:pw@app.example.com/privacy' }],
      ['scope with a quote', { scope: 'tools:read "x' }],
      ['scope not a string', { scope: ['tools:read'] }],
      ['too many contacts', { contacts: Array.from({ length: 11 }, (_, i) => `c${i}@example.com`) }],
      ['empty contact', { contacts: [''] }],
      ['jwks without private_key_jwt', { jwks: { keys: [] } }],
      ['jwks_uri without private_key_jwt', { jwks_uri: 'https://app.example.com/jwks.json' }],
    ];
    for (const [label, extra] of cases) {
      assertRejects(() => validateClientMetadata({ redirect_uris: [REDIRECT], ...extra }), InvalidClientMetadata, label);
    }
  });

  it('checks the redirect URIs before anything else', () => {
    // Both are wrong; the redirect URI error wins, so clients learn about the field RFC 7591 §3.2.2 singles out.
    assertRejects(() => validateClientMetadata({ redirect_uris: ['ftp://x y'], token_endpoint_auth_method: 'bogus' }), InvalidRedirectUri);
  });
});

describe('application_type', () => {
  const withType = (application_type: unknown, redirect_uris: string[]) => validateClientMetadata({ application_type, redirect_uris });

  it('keeps native for loopback http, private-use schemes and claimed https URIs (RFC 8252 §7)', () => {
    const uris = ['http://127.0.0.1:8080/cb', 'http://[::1]/cb', 'http://localhost/cb', 'com.example.app:/oauth', 'cursor://anysphere.cursor/cb', REDIRECT];
    assert.equal(withType('native', uris).application_type, 'native');
  });

  it('keeps web for https redirect URIs and refuses anything else with invalid_redirect_uri', () => {
    assert.equal(withType('web', [REDIRECT, 'https://localhost:8443/cb']).application_type, 'web');
    for (const uri of ['http://127.0.0.1/cb', 'http://localhost:3000/cb', 'http://[::1]/cb', 'com.example.app:/cb', 'cursor://cb']) {
      assertRejects(() => withType('web', [REDIRECT, uri]), InvalidRedirectUri, uri);
    }
  });

  it('infers it when absent or null: native when any redirect URI is not https', () => {
    assert.equal(withType(undefined, [REDIRECT]).application_type, 'web');
    assert.equal(withType(null, [REDIRECT, 'http://127.0.0.1/cb']).application_type, 'native');
    assert.equal(withType(undefined, ['com.example.app:/cb']).application_type, 'native');
  });

  it('refuses other values with invalid_client_metadata', () => {
    for (const value of ['desktop', 'Web', '', 7, ['native'], {}]) assertRejects(() => withType(value, [REDIRECT]), InvalidClientMetadata, JSON.stringify(value));
  });
});

describe('assertRedirectUri', () => {
  it('accepts https, loopback http and private-use schemes', () => {
    for (const uri of [
      'https://app.example.com/cb',
      'https://app.example.com:8443/cb?tenant=1',
      'http://localhost/cb',
      'http://localhost:8080/cb',
      'http://LOCALHOST:8080/cb',
      'http://127.0.0.1/cb',
      'http://127.0.0.1:33418/callback',
      'http://[::1]/cb',
      'http://[::1]:9000/cb',
      'cursor://anysphere.cursor-retrieval/oauth/callback',
      'com.example.app:/oauth2redirect',
    ]) {
      assert.doesNotThrow(() => assertRedirectUri(uri), uri);
    }
  });

  it('rejects http on anything but a loopback host', () => {
    for (const uri of [
      'http://app.example.com/cb',
      'http://localhost.example.com/cb',
      'http://127.0.0.1.nip.io/cb',
      'http://10.0.0.1/cb',
      'http://0.0.0.0/cb',
    ]) {
      assertRejects(() => assertRedirectUri(uri), InvalidRedirectUri, uri);
    }
  });

  it('rejects schemes that execute, read locally or name another protocol, whatever their case', () => {
    for (const uri of [
      'javascript:alert(1)',
      'JavaScript:alert(document.cookie)',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      'vbscript:msgbox(1)',
      'blob:https://app.example.com/uuid',
      'about:blank',
      'view-source:https://app.example.com/',
      'ws://127.0.0.1:8080/cb',
      'wss://app.example.com/cb',
      'ftp://app.example.com/cb',
      'mailto:someone@example.com',
    ]) {
      assertRejects(() => assertRedirectUri(uri), InvalidRedirectUri, uri);
    }
  });

  it('rejects fragments, even an empty one', () => {
    for (const uri of ['https://app.example.com/cb#section', 'https://app.example.com/cb#', 'com.example.app:/cb#x', 'http://127.0.0.1:8080/cb#']) {
      assertRejects(() => assertRedirectUri(uri), InvalidRedirectUri, uri);
    }
  });

  it('rejects credentials in the URI', () => {
    for (const uri of ['https://user:pw@app.example.com/cb', 'https://user@app.example.com/cb', 'http://user@127.0.0.1/cb', 'myapp://user:pw@host/cb']) {
      assertRejects(() => assertRedirectUri(uri), InvalidRedirectUri, uri);
    }
  });

  it('rejects values that are not absolute URIs or are too long', () => {
    for (const value of ['', '/relative/cb', 'not a uri', 42, null, undefined, { href: REDIRECT }, `https://app.example.com/${'a'.repeat(2000)}`]) {
      assertRejects(() => assertRedirectUri(value), InvalidRedirectUri, String(value));
    }
  });
});

describe('redirectUriMatches', () => {
  it('matches a registered URI exactly', () => {
    assert.equal(redirectUriMatches([REDIRECT], REDIRECT), true);
    assert.equal(redirectUriMatches(['com.example.app:/cb'], 'com.example.app:/cb'), true);
    assert.equal(redirectUriMatches(['https://a.example.com/cb', REDIRECT], REDIRECT), true);
  });

  it('does not normalise non-loopback URIs: trailing slash, case, query and port all count', () => {
    assert.equal(redirectUriMatches([REDIRECT], `${REDIRECT}/`), false);
    assert.equal(redirectUriMatches([REDIRECT], REDIRECT.replace('callback', 'Callback')), false);
    assert.equal(redirectUriMatches([REDIRECT], `${REDIRECT}?extra=1`), false);
    assert.equal(redirectUriMatches(['https://app.example.com/cb'], 'https://app.example.com:8443/cb'), false);
    assert.equal(redirectUriMatches(['https://app.example.com:8443/cb'], 'https://app.example.com:9443/cb'), false);
    assert.equal(redirectUriMatches(['com.example.app:/cb'], 'com.example.app:/cb2'), false);
    assert.equal(redirectUriMatches([], REDIRECT), false);
  });

  it('lets a loopback http URI use any port (RFC 8252 §7.3)', () => {
    assert.equal(redirectUriMatches(['http://127.0.0.1/callback'], 'http://127.0.0.1:49152/callback'), true);
    assert.equal(redirectUriMatches(['http://127.0.0.1:3000/callback'], 'http://127.0.0.1:4000/callback'), true);
    assert.equal(redirectUriMatches(['http://127.0.0.1:3000/callback'], 'http://127.0.0.1/callback'), true);
    assert.equal(redirectUriMatches(['http://localhost/cb'], 'http://localhost:8080/cb'), true);
    assert.equal(redirectUriMatches(['http://[::1]/cb'], 'http://[::1]:8080/cb'), true);
    assert.equal(redirectUriMatches(['http://127.0.0.1/cb?app=1'], 'http://127.0.0.1:5000/cb?app=1'), true);
  });

  it('still requires the same host, path and query on loopback', () => {
    assert.equal(redirectUriMatches(['http://127.0.0.1/callback'], 'http://127.0.0.1:5000/other'), false);
    assert.equal(redirectUriMatches(['http://127.0.0.1/callback'], 'http://127.0.0.1:5000/callback/'), false);
    assert.equal(redirectUriMatches(['http://127.0.0.1/callback'], 'http://127.0.0.1:5000/callback/../callback2'), false);
    assert.equal(redirectUriMatches(['http://127.0.0.1/cb?app=1'], 'http://127.0.0.1:5000/cb?app=2'), false);
    assert.equal(redirectUriMatches(['http://127.0.0.1/cb'], 'http://127.0.0.1:5000/cb?injected=1'), false);
  });

  it('treats localhost, 127.0.0.1 and [::1] as different hosts', () => {
    assert.equal(redirectUriMatches(['http://localhost/cb'], 'http://127.0.0.1:5000/cb'), false);
    assert.equal(redirectUriMatches(['http://127.0.0.1/cb'], 'http://localhost:5000/cb'), false);
    assert.equal(redirectUriMatches(['http://127.0.0.1/cb'], 'http://[::1]:5000/cb'), false);
    assert.equal(redirectUriMatches(['http://127.0.0.1/cb'], 'http://127.0.0.2:5000/cb'), false);
  });

  it('gives the port exception only to http, and not to credentials smuggled into the authority', () => {
    assert.equal(redirectUriMatches(['https://localhost/cb'], 'https://localhost:8443/cb'), false);
    assert.equal(redirectUriMatches(['http://127.0.0.1/cb'], 'http://user@127.0.0.1:5000/cb'), false);
    assert.equal(redirectUriMatches(['http://127.0.0.1/cb'], 'http://127.0.0.1:5000@evil.example/cb'), false);
    assert.equal(redirectUriMatches(['http://127.0.0.1/cb'], 'not a uri'), false);
  });
});
