import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeGithub } from '../fakes/fake-github.js';
import { clientDocument, FakeClientMetadataHost, FakeDns, fakeDnsWithSystemFallback, TEST_DOMAIN } from '../fakes/client-metadata-host.js';
import {
  assertErrorPage,
  assertOAuthError,
  auditEvents,
  authorizationUrl,
  databaseCounts,
  exchangeCode,
  obtainCode,
  pkce,
  reachConsentPage,
  tokenRequest,
  type DatabaseCounts,
} from '../support/flows.js';
import { createResource, MemoryLogger, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { escapeHtml } from '../../src/common/html.js';
import { postgresUnavailable } from '../support/postgres.js';
import { freePort } from '../support/net.js';

/**
 * Client metadata documents that Gatehouse must refuse, and the fetcher's defences. Every refusal is a page at
 * /authorize (never a redirect: nothing about the client can be trusted yet) and `invalid_client` at /token, both
 * the same whatever the reason (only the operator learns it: audited as `client.metadata_rejected` and logged, under
 * the request id the answer names), and writes no client. DNS is faked (FakeDns) so that
 * names can resolve to 10.0.0.1 or 169.254.169.254 without real DNS; documents come from a real https host on
 * loopback (FakeClientMetadataHost).
 */

const REDIRECT_URI = 'http://127.0.0.1:33419/callback';

interface Refusal {
  /** The precise reason's sentence: in the audit event and the warning logged, never in an answer to the caller. */
  description: RegExp;
  reason: string;
  /** Fields the `client.metadata_rejected` events must carry besides the reason. */
  audit?: Record<string, unknown>;
}

/** Keeps the arguments of every warning apart from the other lines, so tests can find one by its request id. */
class WarningLogger extends MemoryLogger {
  readonly warnings: unknown[][] = [];
  override warn(...args: unknown[]): void {
    this.warnings.push(args);
    super.warn(...args);
  }
}

/** Every Gatehouse in this file logs here; lines are told apart by request id. */
const logs = new WarningLogger();

/** The warning logged for the refusal of request `requestId`'s document. */
function rejectionWarning(requestId: string): Record<string, unknown> | undefined {
  for (const [fields] of logs.warnings) {
    if (typeof fields !== 'object' || fields === null) continue;
    const record = fields as Record<string, unknown>;
    if (record.msg === 'client metadata document rejected' && record.request_id === requestId) return record;
  }
  return undefined;
}

/** The text every refusal shows in the browser, whatever its reason: only the URL and the request id vary. */
function refusalPageText(clientId: string, requestId: string): string {
  return `The application identifies itself with the client metadata document ${clientId}, which this server could not use. If you develop this application, the server's operator can find the reason in its log under request id ${requestId}.`;
}

/** /token's (and /introspect's, /revoke's) error_description for every refusal. */
function refusalTokenDescription(requestId: string): string {
  return `client metadata document rejected; the server's operator can find the reason in its log under request id ${requestId}`;
}

function authorize(gatehouse: RunningGatehouse, clientId: string, redirectUri = REDIRECT_URI): Promise<Response> {
  const { url } = authorizationUrl(gatehouse.url, { client: { client_id: clientId, redirect_uris: [redirectUri] } });
  return fetch(url, { redirect: 'manual' });
}

/** A token request as a public client would make it; the client is resolved before the code is even looked at. */
function tokenAs(gatehouse: RunningGatehouse, clientId: string) {
  return tokenRequest(gatehouse, { client: { client_id: clientId, token_endpoint_auth_method: 'none' } }, { grant_type: 'authorization_code', code: 'no-such-code', code_verifier: pkce().verifier });
}

async function metadataDocumentRows(gatehouse: RunningGatehouse): Promise<number> {
  const rows = (await gatehouse.db.query(`SELECT count(*)::int AS n FROM clients WHERE kind = 'metadata_document'`)) as Array<{ n: number }>;
  return rows[0]?.n ?? 0;
}

interface RejectionEvent {
  request_id: string | null;
  data: Record<string, unknown>;
}

async function rejectionEvents(gatehouse: RunningGatehouse): Promise<RejectionEvent[]> {
  return (await gatehouse.db.query(`SELECT request_id, data FROM audit_events WHERE type = 'client.metadata_rejected' ORDER BY seq`)) as RejectionEvent[];
}

function changed(before: DatabaseCounts, delta: Record<string, number>): DatabaseCounts {
  const out = { ...before };
  for (const [key, by] of Object.entries(delta)) out[key] = (out[key] ?? 0) + by;
  return out;
}

/**
 * Asserts the full refusal at both endpoints: the generic page and the generic `invalid_client`, each naming its
 * request id and not the reason; one `client.metadata_rejected` event and one warning per attempt, under that id,
 * with the expected reason and description; and no other write at all (no client, no interaction).
 */
async function assertRefused(gatehouse: RunningGatehouse, clientId: string, expected: Refusal): Promise<void> {
  const label = clientId;
  const before = await databaseCounts(gatehouse);
  const rejectedBefore = (await rejectionEvents(gatehouse)).length;

  const response = await authorize(gatehouse, clientId);
  const pageId = response.headers.get('x-request-id') ?? '';
  const body = await assertErrorPage(response, 400, label);
  assert.match(body, /Application not accepted/, label);
  assert.ok(body.includes(escapeHtml(refusalPageText(clientId, pageId))), `${label}: the generic text, naming request id ${pageId}`);
  assert.doesNotMatch(body, expected.description, `${label}: the page does not say why`);

  const token = await tokenAs(gatehouse, clientId);
  const tokenId = token.headers.get('x-request-id') ?? '';
  assertOAuthError(token, 401, 'invalid_client', label);
  assert.equal(token.body.error_description, refusalTokenDescription(tokenId), label);

  assert.deepEqual(await databaseCounts(gatehouse), changed(before, { audit_events: 2 }), `${label}: only the two rejection events were written`);
  assert.equal((await gatehouse.db.query('SELECT id FROM clients WHERE id = $1', [clientId])).length, 0, `${label}: no client row`);
  const rejected = (await rejectionEvents(gatehouse)).slice(rejectedBefore);
  assert.deepEqual(rejected.map((event) => event.request_id), [pageId, tokenId], `${label}: one event under each request id`);
  for (const event of rejected) {
    assert.equal(event.data.reason, expected.reason, label);
    assert.match(String(event.data.description), expected.description, `${label}: the audit event says why`);
    for (const [key, value] of Object.entries(expected.audit ?? {})) assert.equal(event.data[key], value, `${label}: audit ${key}`);
  }
  for (const requestId of [pageId, tokenId]) {
    const warning = rejectionWarning(requestId);
    assert.ok(warning, `${label}: a warning logged under request id ${requestId}`);
    assert.equal(warning.reason, expected.reason, label);
    assert.match(String(warning.description), expected.description, `${label}: the log says why`);
    for (const [key, value] of Object.entries(expected.audit ?? {})) assert.equal(warning[key], value, `${label}: logged ${key}`);
  }
}

describe('client metadata documents: refusals and cache (loopback allowed, as in development)', () => {
  let github: FakeGithub;
  let host: FakeClientMetadataHost;
  let dns: FakeDns;
  let gatehouse: RunningGatehouse;

  before(async () => {
    github = await new FakeGithub().start();
    host = await new FakeClientMetadataHost().start();
    dns = fakeDnsWithSystemFallback();
    gatehouse = await startGatehouse({ github, env: host.env, hostResolver: dns.resolver, logger: logs });
    await createResource(gatehouse, { resource: 'https://mcp.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
  });

  after(async () => {
    await gatehouse?.close();
    await host?.stop();
    await github?.stop();
  });

  /** Serves a document at `path` built from the valid default with `overrides`, and returns its URL. */
  function serve(path: string, overrides: Record<string, unknown> = {}, headers: Record<string, string> = {}): string {
    const url = host.url(path);
    host.serveDocument(path, clientDocument(url, overrides), { headers });
    return url;
  }

  describe('client_id URLs that are refused before anything is fetched', () => {
    const cases: Array<[string, (port: number) => string, RegExp]> = [
      ['an http URL', (port) => `http://localhost:${port}/doc.json`, /the client_id URL must use https/],
      ['a URL with a fragment', (port) => `https://localhost:${port}/doc.json#client`, /must not contain a fragment/],
      ['a URL with an empty fragment', (port) => `https://localhost:${port}/doc.json#`, /must not contain a fragment/],
      ['a URL with credentials', (port) => `https://user:secret@localhost:${port}/doc.json`, /must not contain credentials/],
      ['a URL with a .. segment', (port) => `https://localhost:${port}/a/../doc.json`, /must not contain \. or \.\. path segments/],
      ['a URL with an encoded . segment', (port) => `https://localhost:${port}/a/%2e/doc.json`, /must not contain \. or \.\. path segments/],
      ['a URL without a path', (port) => `https://localhost:${port}/`, /must have a path/],
      ['a URL not in normalised form', (port) => `https://LOCALHOST:${port}/doc.json`, /must be written in normalised form/],
      ['another scheme', () => 'ftp://localhost/doc.json', /must use https/],
    ];
    for (const [label, clientId, message] of cases) {
      it(`refuses ${label}`, async () => {
        const requests = host.requests.length;
        await assertRefused(gatehouse, clientId(host.port), { description: message, reason: 'invalid_client_id' });
        assert.equal(host.requests.length, requests, 'nothing was fetched');
      });
    }
  });

  describe('documents that are refused', () => {
    it('refuses a document whose client_id is not the URL it came from', async () => {
      const url = host.url('/mismatch.json');
      host.serveDocument('/mismatch.json', clientDocument(host.url('/other.json')));
      await assertRefused(gatehouse, url, { description: /the client_id in the document is not exactly the URL it was fetched from/, reason: 'invalid_document' });
      assert.equal(host.count('/mismatch.json'), 2, 'fetched at /authorize and again at /token: a refusal is never cached');
    });

    it('refuses a document without redirect_uris', async () => {
      const url = host.url('/no-redirects.json');
      const { redirect_uris: _omitted, ...document } = clientDocument(url);
      host.serveDocument('/no-redirects.json', document);
      await assertRefused(gatehouse, url, { description: /the document has no redirect_uris/, reason: 'invalid_document' });
    });

    it('refuses a document without client_name', async () => {
      const url = host.url('/no-name.json');
      const { client_name: _omitted, ...document } = clientDocument(url);
      host.serveDocument('/no-name.json', document);
      await assertRefused(gatehouse, url, { description: /the document has no client_name/, reason: 'invalid_document' });
    });

    it('refuses a document that carries a client_secret or client_secret_expires_at', async () => {
      await assertRefused(gatehouse, serve('/secret.json', { client_secret: 'chosen-by-the-client' }), { description: /contains client_secret or client_secret_expires_at/, reason: 'invalid_document' });
      await assertRefused(gatehouse, serve('/secret-expiry.json', { client_secret_expires_at: 0 }), { description: /cannot carry a shared secret/, reason: 'invalid_document' });
    });

    it('refuses shared-secret authentication methods, and private_key_jwt without keys', async () => {
      for (const method of ['client_secret_basic', 'client_secret_post', 'client_secret_jwt']) {
        await assertRefused(gatehouse, serve(`/method-${method}.json`, { token_endpoint_auth_method: method }), { description: new RegExp(`asks for ${method}, a shared-secret method`), reason: 'invalid_document' });
      }
      await assertRefused(gatehouse, serve('/pkjwt.json', { token_endpoint_auth_method: 'private_key_jwt' }), {
        description: /private_key_jwt needs exactly one of jwks and jwks_uri/,
        reason: 'invalid_document',
      });
    });

    it('refuses a document whose metadata is invalid (an unsafe redirect URI)', async () => {
      await assertRefused(gatehouse, serve('/js-redirect.json', { redirect_uris: ['javascript:alert(1)'] }), { description: /metadata is invalid: redirect URI scheme javascript: is not allowed/, reason: 'invalid_document' });
    });

    it('refuses a body that is not a JSON object, not JSON, or not served as JSON', async () => {
      host.serve('/array.json', { body: [clientDocument(host.url('/array.json'))] });
      await assertRefused(gatehouse, host.url('/array.json'), { description: /the document is not a JSON object/, reason: 'invalid_document' });
      host.serve('/broken.json', { body: '{"client_id": ' });
      await assertRefused(gatehouse, host.url('/broken.json'), { description: /the document is not valid JSON/, reason: 'invalid_json' });
      host.serve('/page.json', { headers: { 'content-type': 'text/html' }, body: clientDocument(host.url('/page.json')) });
      await assertRefused(gatehouse, host.url('/page.json'), { description: /the document is not served as JSON/, reason: 'content_type' });
    });

    it('refuses a URL that does not answer 200', async () => {
      await assertRefused(gatehouse, host.url('/missing.json'), { description: /the document URL answered HTTP 404, not 200/, reason: 'http_status' });
    });

    it('refuses a document over 5 kB, whether or not the host announces its length', async () => {
      const padding = 'x'.repeat(5200);
      host.serveDocument('/large.json', clientDocument(host.url('/large.json'), { software_version: padding.slice(0, 150), x_padding: padding }));
      await assertRefused(gatehouse, host.url('/large.json'), { description: /the document is larger than 5120 bytes/, reason: 'too_large' });
      host.serveDocument('/large-chunked.json', clientDocument(host.url('/large-chunked.json'), { x_padding: padding }), { chunked: true });
      await assertRefused(gatehouse, host.url('/large-chunked.json'), { description: /the document is larger than 5120 bytes/, reason: 'too_large' });
    });

    it('accepts a document just under the cap', async () => {
      const url = host.url('/almost-large.json');
      const base = JSON.stringify(clientDocument(url, { x_padding: '' }));
      host.serveDocument('/almost-large.json', clientDocument(url, { x_padding: 'x'.repeat(5120 - Buffer.byteLength(base)) }));
      const response = await authorize(gatehouse, url);
      assert.equal(response.status, 302, await response.text());
    });

    it('does not follow redirects: not to a private address, and not anywhere else', async () => {
      host.redirect('/to-metadata-service.json', 'https://10.0.0.1/latest/meta-data/');
      await assertRefused(gatehouse, host.url('/to-metadata-service.json'), { description: /answered with a redirect \(HTTP 302\); redirects are not followed/, reason: 'redirect' });
      host.redirect('/moved.json', serve('/moved-target.json'), 307);
      await assertRefused(gatehouse, host.url('/moved.json'), { description: /redirect \(HTTP 307\)/, reason: 'redirect' });
      assert.equal(host.count('/moved-target.json'), 0, 'the redirect target was never requested');
    });
  });

  describe('addresses', () => {
    it('refuses a name that resolves to a private address even with loopback allowed: the switch admits loopback only', async () => {
      dns.map(`private.${TEST_DOMAIN}`, '10.0.0.1');
      const requests = host.requests.length;
      await assertRefused(gatehouse, host.url('/doc.json', `private.${TEST_DOMAIN}`), {
        description: /the host private\.gatehouse\.test resolves to a private address; client metadata documents are only fetched from public addresses/,
        reason: 'address_not_allowed',
        audit: { address: '10.0.0.1', range: '10.0.0.0/8' },
      });
      assert.equal(host.requests.length, requests);
      // What an internal name resolves to is for the audit log, not for whoever probes with it.
      const page = await (await authorize(gatehouse, host.url('/doc.json', `private.${TEST_DOMAIN}`))).text();
      assert.ok(!page.includes('10.0.0.1') && !page.includes('10.0.0.0/8'), 'the page does not reveal the address');
      const token = await tokenAs(gatehouse, host.url('/doc.json', `private.${TEST_DOMAIN}`));
      assert.ok(!token.text.includes('10.0.0.1'), 'nor does /token');
    });

    it('refuses a name when any of its addresses is refused', async () => {
      dns.map(`mixed.${TEST_DOMAIN}`, '127.0.0.1', '169.254.169.254');
      await assertRefused(gatehouse, host.url('/doc.json', `mixed.${TEST_DOMAIN}`), { description: /resolves to a link-local address/, reason: 'address_not_allowed', audit: { address: '169.254.169.254' } });
    });

    it('connects to the address it vetted, without asking DNS again, and keeps the URL’s name for TLS and Host', async () => {
      const name = `pinned.${TEST_DOMAIN}`;
      dns.map(name, '127.0.0.1');
      const path = '/pinned.json';
      const url = host.url(path, name);
      host.serveDocument(path, clientDocument(url));
      const response = await authorize(gatehouse, url);
      assert.equal(response.status, 302, await response.text());
      // The name only exists in FakeDns: a connection that resolved it again itself would have failed.
      assert.equal(dns.lookupsOf(name), 1);
      const seen = host.requests.filter((request) => request.path === path);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]?.host, `${name}:${host.port}`, 'Host header');
      assert.equal(seen[0]?.servername, name, 'TLS SNI');
      assert.equal(seen[0]?.accept, 'application/json');
    });
  });

  describe('the rest of the request', () => {
    it('shows a page for a redirect_uri that is not in the document, and records no client', async () => {
      const url = serve('/redirect-check.json');
      const before = await databaseCounts(gatehouse);
      const body = await assertErrorPage(await authorize(gatehouse, url, 'https://attacker.example/callback'), 400);
      assert.match(body, /Invalid redirect/);
      assert.match(body, /not one of the redirect_uris in the application&#39;s client metadata document/);
      assert.deepEqual(await databaseCounts(gatehouse), before, 'a valid document is recorded only with a valid request');
      assert.equal((await gatehouse.db.query('SELECT id FROM clients WHERE id = $1', [url])).length, 0);
    });

    it('refuses secret-based client authentication for a URL client at /token without fetching', async () => {
      const url = serve('/secret-auth.json');
      const requests = host.count('/secret-auth.json');
      const client = { client_id: url, client_secret: 'guess', token_endpoint_auth_method: 'client_secret_post' as const };
      const response = await tokenRequest(gatehouse, { client }, { grant_type: 'authorization_code', code: 'x', code_verifier: pkce().verifier });
      assertOAuthError(response, 401, 'invalid_client');
      assert.match(response.body.error_description, /metadata document URL has no secret: authenticate with none/);
      const basic = await tokenRequest(gatehouse, { client: { ...client, token_endpoint_auth_method: 'client_secret_basic' } }, { grant_type: 'authorization_code', code: 'x', code_verifier: pkce().verifier });
      assertOAuthError(basic, 401, 'invalid_client');
      assert.match(basic.headers.get('www-authenticate') ?? '', /^Basic /);
      assert.equal(host.count('/secret-auth.json'), requests);
    });

    it('keeps metadata-document clients out of RFC 7592 client configuration', async () => {
      const url = serve('/configuration.json');
      assert.equal((await authorize(gatehouse, url)).status, 302);
      const kinds = (await gatehouse.db.query('SELECT kind FROM clients WHERE id = $1', [url])) as Array<{ kind: string }>;
      assert.deepEqual(kinds, [{ kind: 'metadata_document' }]);
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const response = await fetch(`${gatehouse.url}/register/${encodeURIComponent(url)}`, {
          method,
          headers: { authorization: 'Bearer anything', ...(method === 'PUT' ? { 'content-type': 'application/json' } : {}) },
          body: method === 'PUT' ? JSON.stringify(clientDocument(url)) : undefined,
        });
        assert.equal(response.status, 401, method);
        assert.equal(((await response.json()) as { error: string }).error, 'invalid_token');
      }
      assert.equal((await gatehouse.db.query('SELECT id FROM clients WHERE id = $1', [url])).length, 1, 'still there');
    });

    it('lists a recorded metadata-document client in the admin API with its cache expiry', async () => {
      const url = serve('/listed.json');
      assert.equal((await authorize(gatehouse, url)).status, 302);
      const { status, body } = await gatehouse.admin('GET', '/admin/clients');
      assert.equal(status, 200);
      const listed = (body as Array<Record<string, unknown>>).find((client) => client.client_id === url);
      assert.ok(listed, 'listed');
      assert.equal(listed.kind, 'metadata_document');
      assert.equal(listed.client_name, 'Metadata Document Client');
      assert.equal(typeof listed.metadata_expires_at, 'string');
      assert.equal('client_secret' in listed || 'registration_client_uri' in listed || 'client_secret_expires_at' in listed, false);
    });
  });

  describe('consent page', () => {
    it('names the document host and the redirect host, escapes what the document says, and warns only when every redirect is local', async () => {
      const hostile = '<script>alert(1)</script> "Claude" & co';
      const url = serve('/consent/hosted.json', { client_name: hostile, redirect_uris: ['https://app.example.com/oauth/callback'] });
      const consent = await reachConsentPage(gatehouse, { client: { client_id: url, redirect_uris: ['https://app.example.com/oauth/callback'] } });
      const html = consent.page.html;
      assert.ok(!html.includes('<script>'), 'the document’s client_name is escaped');
      assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &quot;Claude&quot; &amp; co'));
      assert.ok(html.includes(`identified by <strong>localhost:${host.port}</strong>`), 'the document host, prominently');
      assert.ok(html.includes(`<code>${url}</code>`), 'the document URL');
      assert.ok(html.includes('sent to <strong>app.example.com</strong>'), 'the redirect host, prominently');
      assert.ok(!html.includes('runs on your computer'), 'a hosted redirect gets no local-app warning');
      const signIn = consent.browser.pages[0];
      assert.ok(signIn?.html.includes(`(identified by <strong>localhost:${host.port}</strong>)`), 'the sign-in page names the host too');

      const local = serve('/consent/local.json', { client_name: 'Local tool', redirect_uris: [REDIRECT_URI, 'cursor://anysphere.cursor-retrieval/oauth/callback'] });
      const localConsent = await reachConsentPage(gatehouse, { client: { client_id: local, redirect_uris: [REDIRECT_URI] }, browser: consent.browser });
      assert.match(localConsent.page.html, /<strong>This application runs on your computer\.<\/strong> The authorization is handed to a program on this device, not to localhost:\d+\. Approve only if you started Local tool yourself just now\./);

      const mixed = serve('/consent/mixed.json', { client_name: 'Mixed', redirect_uris: [REDIRECT_URI, 'https://app.example.com/oauth/callback'] });
      const mixedConsent = await reachConsentPage(gatehouse, { client: { client_id: mixed, redirect_uris: [REDIRECT_URI] }, browser: consent.browser });
      assert.ok(!mixedConsent.page.html.includes('runs on your computer'), 'not every redirect is local');
    });
  });

  describe('cache', () => {
    it('uses a fetched document for its lifetime: two authorizations within it make one fetch', async () => {
      const url = serve('/cache/ttl.json', {}, { 'cache-control': 'public, max-age=3600' });
      for (let i = 0; i < 2; i++) assert.equal((await authorize(gatehouse, url)).status, 302);
      assert.equal(host.count('/cache/ttl.json'), 1);
      const fetched = (await auditEvents(gatehouse, 'client.metadata_fetched')).filter((event) => event.client_id === url);
      assert.equal(fetched.length, 1);
      const rows = (await gatehouse.db.query('SELECT metadata_expires_at FROM clients WHERE id = $1', [url])) as Array<{ metadata_expires_at: Date }>;
      const ttl = (new Date(rows[0]!.metadata_expires_at).getTime() - Date.now()) / 1000;
      assert.ok(ttl > 3500 && ttl <= 3600, `max-age=3600 honoured: ${ttl}`);
    });

    it('fetches again once the lifetime is over, and replaces the recorded metadata with the new document', async () => {
      const path = '/cache/renamed.json';
      const url = serve(path, { client_name: 'Before' });
      assert.equal((await authorize(gatehouse, url)).status, 302);
      serve(path, { client_name: 'After' });
      assert.equal((await authorize(gatehouse, url)).status, 302);
      assert.equal(host.count(path), 1, 'still fresh: not fetched');
      await gatehouse.db.query(`UPDATE clients SET metadata_expires_at = now() - interval '1 second' WHERE id = $1`, [url]);
      assert.equal((await authorize(gatehouse, url)).status, 302);
      assert.equal(host.count(path), 2, 'expired: fetched again');
      const rows = (await gatehouse.db.query('SELECT metadata FROM clients WHERE id = $1', [url])) as Array<{ metadata: { client_name: string } }>;
      assert.equal(rows[0]?.metadata.client_name, 'After');
      assert.equal((await auditEvents(gatehouse, 'client.metadata_fetched')).filter((event) => event.client_id === url).length, 2);
    });

    it('clamps cache lifetimes to the configured bounds: no-store and tiny max-age to 5 minutes, huge ones to 24 hours', async () => {
      const cases: Array<[string, string, number]> = [
        ['/cache/no-store.json', 'no-store', 300],
        ['/cache/short.json', 'max-age=10', 300],
        ['/cache/long.json', 'max-age=31536000', 86400],
      ];
      for (const [path, cacheControl, expected] of cases) {
        const url = serve(path, {}, { 'cache-control': cacheControl });
        assert.equal((await authorize(gatehouse, url)).status, 302);
        const rows = (await gatehouse.db.query('SELECT metadata_expires_at FROM clients WHERE id = $1', [url])) as Array<{ metadata_expires_at: Date }>;
        const ttl = (new Date(rows[0]!.metadata_expires_at).getTime() - Date.now()) / 1000;
        assert.ok(ttl > expected - 60 && ttl <= expected, `${cacheControl}: ${ttl}`);
      }
    });

    it('never caches an invalid document: it is fetched again next time, and used once it is fixed', async () => {
      const path = '/cache/invalid-then-fixed.json';
      const url = host.url(path);
      host.serveDocument(path, clientDocument('https://someone-else.example/client.json'), { headers: { 'cache-control': 'max-age=3600' } });
      for (let i = 0; i < 2; i++) await assertErrorPage(await authorize(gatehouse, url), 400);
      assert.equal(host.count(path), 2);
      host.serveDocument(path, clientDocument(url));
      assert.equal((await authorize(gatehouse, url)).status, 302);
      assert.equal(host.count(path), 3);
    });

    it('never caches a failed fetch either', async () => {
      const path = '/cache/flaky.json';
      const url = host.url(path);
      host.serve(path, { status: 503, body: '{}' });
      await assertErrorPage(await authorize(gatehouse, url), 400);
      serve(path);
      assert.equal((await authorize(gatehouse, url)).status, 302);
      assert.equal(host.count(path), 2);
    });

    it('shares one fetch between concurrent authorizations, and records the client and the event once', async () => {
      const path = '/cache/concurrent.json';
      const url = host.url(path);
      host.serveDocument(path, clientDocument(url), { delayMs: 500 });
      const interactions = await gatehouse.count('interactions');
      const responses = await Promise.all(Array.from({ length: 5 }, () => authorize(gatehouse, url)));
      assert.deepEqual(responses.map((response) => response.status), [302, 302, 302, 302, 302]);
      assert.equal(host.count(path), 1);
      assert.equal(await gatehouse.count('interactions'), interactions + 5);
      assert.equal((await gatehouse.db.query('SELECT id FROM clients WHERE id = $1', [url])).length, 1);
      assert.equal((await auditEvents(gatehouse, 'client.metadata_fetched')).filter((event) => event.client_id === url).length, 1);
    });

    it('refreshes an expired document at /token and completes the exchange with it', async () => {
      const path = '/cache/token.json';
      const url = serve(path);
      const client = { client_id: url, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' as const };
      const obtained = await obtainCode(gatehouse, { client });
      assert.equal(host.count(path), 1);
      await gatehouse.db.query(`UPDATE clients SET metadata_expires_at = now() - interval '1 second' WHERE id = $1`, [url]);
      const tokens = await exchangeCode(gatehouse, { client }, obtained);
      assert.equal(tokens.status, 200, tokens.text);
      assert.ok(tokens.body.refresh_token);
      assert.equal(host.count(path), 2, 'the expired document was fetched again at /token');
      const rows = (await gatehouse.db.query('SELECT metadata_expires_at FROM clients WHERE id = $1', [url])) as Array<{ metadata_expires_at: Date }>;
      assert.ok(new Date(rows[0]!.metadata_expires_at).getTime() > Date.now(), 'and recorded again');
      assert.equal((await auditEvents(gatehouse, 'client.metadata_fetched')).filter((event) => event.client_id === url).length, 2);
    });
  });
});

describe('client metadata documents: addresses refused with the loopback switch off (production default)', () => {
  let host: FakeClientMetadataHost;
  let dns: FakeDns;
  let gatehouse: RunningGatehouse;

  before(async () => {
    host = await new FakeClientMetadataHost().start();
    dns = new FakeDns();
    // Trust the test certificate, but leave CIMD_ALLOW_LOOPBACK off.
    gatehouse = await startGatehouse({ env: { CIMD_EXTRA_CA_FILE: host.certFile, CIMD_DENIED_HOSTS: `*.denied.${TEST_DOMAIN}` }, hostResolver: dns.resolver, logger: logs });
    await createResource(gatehouse, { resource: 'https://mcp.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
  });

  after(async () => {
    await gatehouse?.close();
    await host?.stop();
  });

  const addresses: Array<[string, string, string]> = [
    ['127.0.0.1', 'a loopback address', '127.0.0.0/8'],
    ['10.0.0.1', 'a private address', '10.0.0.0/8'],
    ['169.254.169.254', 'a link-local address', '169.254.0.0/16'],
    ['::1', 'a loopback address', '::1/128'],
    ['::ffff:127.0.0.1', 'a loopback address', '127.0.0.0/8 (IPv4-mapped 127.0.0.1)'],
    ['::ffff:a9fe:a9fe', 'a link-local address', '169.254.0.0/16 (IPv4-mapped 169.254.169.254)'],
    ['64:ff9b::a00:1', 'a private address', '10.0.0.0/8 (NAT64 10.0.0.1)'],
    ['100.64.0.1', 'a carrier-grade NAT address', '100.64.0.0/10'],
    ['192.168.1.1', 'a private address', '192.168.0.0/16'],
    ['172.16.0.1', 'a private address', '172.16.0.0/12'],
    ['0.0.0.0', 'an unspecified address', '0.0.0.0/8'],
    ['fd00::1', 'a private address', 'fc00::/7'],
    ['fe80::1', 'a link-local address', 'fe80::/10'],
  ];
  addresses.forEach(([address, description, range], index) => {
    it(`refuses a host resolving to ${address}, and never connects`, async () => {
      const name = `host${index}.${TEST_DOMAIN}`;
      dns.map(name, address);
      const requests = host.requests.length;
      await assertRefused(gatehouse, host.url('/doc.json', name), {
        description: new RegExp(`the host ${name.replace(/\./g, '\\.')} resolves to ${description}; client metadata documents are only fetched from public addresses`),
        reason: 'address_not_allowed',
        audit: { address, range },
      });
      assert.equal(host.requests.length, requests, 'no connection was made');
    });
  });

  it('refuses IP literals in special ranges without asking DNS', async () => {
    const lookups = dns.lookups.length;
    await assertRefused(gatehouse, `https://127.0.0.1:${host.port}/doc.json`, { description: /the host 127\.0\.0\.1 resolves to a loopback address/, reason: 'address_not_allowed' });
    await assertRefused(gatehouse, `https://[::ffff:7f00:1]:${host.port}/doc.json`, { description: /the host ::ffff:7f00:1 resolves to a loopback address/, reason: 'address_not_allowed', audit: { address: '::ffff:7f00:1' } });
    await assertRefused(gatehouse, 'https://169.254.169.254/latest/meta-data/', { description: /a link-local address/, reason: 'address_not_allowed' });
    assert.equal(dns.lookups.length, lookups);
    assert.equal(host.requests.length, 0);
  });

  it('refuses denied hosts before resolving them, trailing dot or not', async () => {
    const lookups = dns.lookups.length;
    await assertRefused(gatehouse, `https://app.denied.${TEST_DOMAIN}/doc.json`, { description: /does not fetch client metadata documents from app\.denied/, reason: 'host_not_allowed' });
    await assertRefused(gatehouse, `https://app.denied.${TEST_DOMAIN}./doc.json`, { description: /does not fetch client metadata documents from app\.denied/, reason: 'host_not_allowed' });
    assert.equal(dns.lookups.length, lookups);
  });

  it('refuses a name that does not resolve', async () => {
    await assertRefused(gatehouse, `https://nowhere.${TEST_DOMAIN}/doc.json`, { description: /the host nowhere\.gatehouse\.test could not be resolved/, reason: 'dns_failed' });
  });
});

describe('client metadata documents: slow hosts time out (CIMD_FETCH_TIMEOUT_MS=300)', () => {
  let host: FakeClientMetadataHost;
  let dns: FakeDns;
  let gatehouse: RunningGatehouse;

  before(async () => {
    host = await new FakeClientMetadataHost().start();
    dns = fakeDnsWithSystemFallback();
    gatehouse = await startGatehouse({ env: { ...host.env, CIMD_FETCH_TIMEOUT_MS: '300' }, hostResolver: dns.resolver, logger: logs });
    await createResource(gatehouse, { resource: 'https://mcp.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
  });

  after(async () => {
    await gatehouse?.close();
    await host?.stop();
  });

  it('gives up on a server that answers too slowly', async () => {
    const url = host.url('/slow.json');
    host.serveDocument('/slow.json', clientDocument(url), { delayMs: 3000 });
    const started = Date.now();
    await assertRefused(gatehouse, url, { description: /the document was not received within 300 ms/, reason: 'timeout' });
    assert.ok(Date.now() - started < 2500, `both requests were cut short: ${Date.now() - started} ms`);
  });

  it('gives up on DNS that never answers', async () => {
    const name = `hanging.${TEST_DOMAIN}`;
    dns.hang(name);
    await assertRefused(gatehouse, host.url('/doc.json', name), { description: /not received within 300 ms/, reason: 'timeout' });
  });
});

describe('client metadata documents: one answer whatever the reason (nothing to probe the network with)', () => {
  let host: FakeClientMetadataHost;
  let dns: FakeDns;
  let notTls: Server;
  let gatehouse: RunningGatehouse;

  before(async () => {
    host = await new FakeClientMetadataHost().start();
    // No fallback: a name the test did not map does not resolve.
    dns = new FakeDns();
    // An open port that does not speak TLS, beside a closed one: a port scan would tell them apart.
    notTls = createHttpServer((_req, res) => res.end('plain http'));
    await new Promise<void>((resolve) => notTls.listen(0, '127.0.0.1', resolve));
    // A deadline long enough for every other probe to fail on its own even on a busy machine, short enough to wait for.
    gatehouse = await startGatehouse({ env: { ...host.env, CIMD_FETCH_TIMEOUT_MS: '1500', CIMD_DENIED_HOSTS: `*.denied.${TEST_DOMAIN}` }, hostResolver: dns.resolver, logger: logs });
    await createResource(gatehouse, { resource: 'https://mcp.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
  });

  after(async () => {
    await gatehouse?.close();
    notTls?.closeAllConnections();
    await new Promise<void>((resolve) => (notTls ? notTls.close(() => resolve()) : resolve()));
    await host?.stop();
  });

  /**
   * The headers of an answer, less what differs between any two requests, whatever the reason: Date, the request
   * id, the length (checked against the body, see answer), and the rate limiter's count of requests and seconds left.
   */
  function comparableHeaders(response: Response): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of response.headers) {
      if (['date', 'x-request-id', 'content-length'].includes(name)) continue;
      out[name] = name === 'ratelimit' ? value.replace(/remaining=\d+/, 'remaining={n}').replace(/reset=\d+/, 'reset={s}') : value;
    }
    return out;
  }

  interface Answer {
    status: number;
    headers: Record<string, string>;
    /** The body with the request id (and, on the page, the client_id URL the caller sent) replaced by placeholders. */
    body: string;
    requestId: string;
  }

  /** An answer, its body normalised; its Content-Length checked against the body actually sent. */
  async function answer(response: Response, clientId: string | null): Promise<Answer> {
    const text = await response.text();
    const requestId = response.headers.get('x-request-id') ?? '';
    assert.ok(requestId, 'every answer names its request id');
    assert.equal(response.headers.get('content-length'), String(Buffer.byteLength(text)));
    let body = text.replaceAll(requestId, '{request id}');
    if (clientId !== null) body = body.replaceAll(escapeHtml(clientId), '{client_id}');
    return { status: response.status, headers: comparableHeaders(response), body, requestId };
  }

  it('answers /authorize, /token and /revoke byte for byte the same for every reason; only the audit event and the log tell them apart', async () => {
    const closedPort = await freePort();
    const notTlsPort = (notTls.address() as AddressInfo).port;
    dns.map(`private.${TEST_DOMAIN}`, '10.0.0.1');
    dns.map(`metadata.${TEST_DOMAIN}`, '169.254.169.254');
    dns.map(`app.${TEST_DOMAIN}`, '127.0.0.1');
    dns.hang(`hanging.${TEST_DOMAIN}`);
    host.serve('/broken.json', { body: '{"client_id": ' });
    host.serveDocument('/someone-else.json', clientDocument('https://someone-else.example/client.json'));
    host.serveDocument('/slow.json', clientDocument(host.url('/slow.json', `app.${TEST_DOMAIN}`)), { delayMs: 6000 });
    const probes: Array<[label: string, clientId: string, reason: string]> = [
      ['a name that does not resolve', host.url('/doc.json', `nowhere.${TEST_DOMAIN}`), 'dns_failed'],
      ['a name that resolves to a private address', host.url('/doc.json', `private.${TEST_DOMAIN}`), 'address_not_allowed'],
      ['a name that resolves to the cloud metadata address', host.url('/doc.json', `metadata.${TEST_DOMAIN}`), 'address_not_allowed'],
      ['a closed port', `https://app.${TEST_DOMAIN}:${closedPort}/doc.json`, 'unreachable'],
      ['an open port that does not speak TLS', `https://app.${TEST_DOMAIN}:${notTlsPort}/doc.json`, 'unreachable'],
      ['DNS that never answers', host.url('/doc.json', `hanging.${TEST_DOMAIN}`), 'timeout'],
      ['a host that answers too slowly', host.url('/slow.json', `app.${TEST_DOMAIN}`), 'timeout'],
      ['a path that answers 404', host.url('/missing.json', `app.${TEST_DOMAIN}`), 'http_status'],
      ['a body that is not JSON', host.url('/broken.json', `app.${TEST_DOMAIN}`), 'invalid_json'],
      ['a document for another client_id', host.url('/someone-else.json', `app.${TEST_DOMAIN}`), 'invalid_document'],
      ['a denied host', `https://app.denied.${TEST_DOMAIN}/doc.json`, 'host_not_allowed'],
      ['an http URL', `http://app.${TEST_DOMAIN}/doc.json`, 'invalid_client_id'],
    ];

    const pages: Answer[] = [];
    const tokens: Answer[] = [];
    const revocations: Answer[] = [];
    for (const [, clientId] of probes) {
      const { url } = authorizationUrl(gatehouse.url, { client: { client_id: clientId, redirect_uris: [REDIRECT_URI] } });
      pages.push(await answer(await fetch(url, { redirect: 'manual' }), clientId));
      const form = { client_id: clientId, grant_type: 'authorization_code', code: 'no-such-code', code_verifier: pkce().verifier };
      tokens.push(await answer(await fetch(`${gatehouse.url}/token`, { method: 'POST', body: new URLSearchParams(form) }), null));
      revocations.push(await answer(await fetch(`${gatehouse.url}/revoke`, { method: 'POST', body: new URLSearchParams({ client_id: clientId, token: 'anything' }) }), null));
    }

    const [page, token, revocation] = [pages[0]!, tokens[0]!, revocations[0]!];
    assert.equal(page.status, 400);
    assert.equal(page.body.includes(escapeHtml(refusalPageText('{client_id}', '{request id}'))), true, page.body);
    assert.equal(token.status, 401);
    assert.deepEqual(JSON.parse(token.body), { error: 'invalid_client', error_description: refusalTokenDescription('{request id}') });
    assert.equal(token.headers['cache-control'], 'no-store');
    assert.deepEqual([revocation.status, revocation.body], [token.status, token.body], '/revoke (the Express path) says what /token (the fast lane) says');
    probes.forEach(([label], index) => {
      assert.deepEqual({ ...pages[index]!, requestId: '' }, { ...page, requestId: '' }, `${label}: the page`);
      assert.deepEqual({ ...tokens[index]!, requestId: '' }, { ...token, requestId: '' }, `${label}: /token`);
      assert.deepEqual({ ...revocations[index]!, requestId: '' }, { ...revocation, requestId: '' }, `${label}: /revoke`);
    });

    // The operator reads the reason under the id each answer named: in the audit event and in the log.
    const events = await rejectionEvents(gatehouse);
    probes.forEach(([label, , reason], index) => {
      for (const { requestId } of [pages[index]!, tokens[index]!, revocations[index]!]) {
        const event = events.find((candidate) => candidate.request_id === requestId);
        assert.equal(event?.data.reason, reason, `${label}: audited under ${requestId}`);
        assert.equal(rejectionWarning(requestId)?.reason, reason, `${label}: logged under ${requestId}`);
      }
    });
    const addresses = events.filter((event) => event.data.reason === 'address_not_allowed').map((event) => event.data.address);
    assert.deepEqual([...new Set(addresses)].sort(), ['10.0.0.1', '169.254.169.254'], 'the audit event names the address');
  });
});

describe('client metadata documents switched off (CIMD_ENABLED=false)', () => {
  let host: FakeClientMetadataHost;
  let gatehouse: RunningGatehouse;

  before(async () => {
    host = await new FakeClientMetadataHost().start();
    gatehouse = await startGatehouse({ env: { ...host.env, CIMD_ENABLED: 'false' } });
    await createResource(gatehouse, { resource: 'https://mcp.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
  });

  after(async () => {
    await gatehouse?.close();
    await host?.stop();
  });

  it('does not advertise support, and treats a URL client_id as an unknown client without fetching it', async () => {
    const metadata = (await (await fetch(`${gatehouse.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.equal(metadata.client_id_metadata_document_supported, false);
    const url = host.url('/doc.json');
    host.serveDocument('/doc.json', clientDocument(url));
    const before = await databaseCounts(gatehouse);
    assert.match(await assertErrorPage(await authorize(gatehouse, url), 400), /Unknown application/);
    assertOAuthError(await tokenAs(gatehouse, url), 401, 'invalid_client');
    assert.equal(host.requests.length, 0);
    assert.deepEqual(await databaseCounts(gatehouse), before);
    assert.equal(await metadataDocumentRows(gatehouse), 0);
  });
});

describe('client metadata documents: the recorded document is the cache every instance shares (postgres)', { skip: postgresUnavailable() }, () => {
  let host: FakeClientMetadataHost;
  let first: RunningGatehouse;
  let second: RunningGatehouse | undefined;

  before(async () => {
    host = await new FakeClientMetadataHost().start();
    first = await startGatehouse({ database: 'postgres', env: host.env });
    await createResource(first, { resource: 'https://mcp.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
  });

  after(async () => {
    await second?.close();
    await first?.close();
    await host?.stop();
  });

  it('a second instance (or a restarted one) uses a document another fetched, until it expires', async () => {
    const path = '/shared.json';
    const url = host.url(path);
    host.serveDocument(path, clientDocument(url), { headers: { 'cache-control': 'max-age=3600' } });
    assert.equal((await authorize(first, url)).status, 302);
    assert.equal(host.count(path), 1);

    // Another process on the same database, with nothing in memory: as after a restart, or behind a load balancer.
    assert.equal(first.config.database.kind, 'postgres');
    const databaseUrl = first.config.database.kind === 'postgres' ? first.config.database.url : '';
    second = await startGatehouse({ env: { ...host.env, DATABASE_URL: databaseUrl, ENCRYPTION_KEY: first.config.encryptionKey!.toString('hex') } });
    assert.equal((await authorize(second, url)).status, 302);
    assert.equal(host.count(path), 1, 'not fetched again');

    await second.db.query(`UPDATE clients SET metadata_expires_at = now() - interval '1 second' WHERE id = $1`, [url]);
    assert.equal((await authorize(second, url)).status, 302);
    assert.equal(host.count(path), 2, 'fetched once the recorded copy expired');
    assert.equal((await authorize(first, url)).status, 302);
    assert.equal(host.count(path), 2, 'and that fetch serves the first instance too');
  });
});
