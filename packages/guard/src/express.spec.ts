import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccessTokenVerifier, getGatehouseAuth, mcpToolScopes, requireGatehouseAuth, serveProtectedResourceMetadata, type GatehouseMiddleware, type GatehouseRequest } from './express.js';
import { Issuer, RESOURCE } from './issuer.spec.support.js';

/**
 * The middleware in a bare node:http server, chained the way Connect chains it: no Express anywhere, which is
 * also what shows the middleware asks nothing of Express's request or response.
 */
function serve(chain: GatehouseMiddleware[], handler: (req: GatehouseRequest, res: ServerResponse) => void): Promise<{ server: Server; origin: string }> {
  const server = createServer((req: GatehouseRequest, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      if (raw) req.body = JSON.parse(raw) as unknown;
      // Stands in for a CORS layer that exposes a header of its own.
      res.setHeader('Access-Control-Expose-Headers', 'Mcp-Session-Id');
      const step = (index: number) => (error?: unknown) => {
        if (error) return void res.writeHead(500).end(String(error));
        const next = chain[index];
        if (next) next(req, res, step(index + 1));
        else handler(req, res);
      };
      step(0)();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

describe('requireGatehouseAuth and serveProtectedResourceMetadata on plain node:http', () => {
  let issuer: Issuer;
  let app: { server: Server; origin: string };
  const prm = `https://notes.example.com/.well-known/oauth-protected-resource/notes`;

  before(async () => {
    issuer = await new Issuer().start();
    const verifier = new AccessTokenVerifier({ issuer: issuer.url, resource: RESOURCE, jwksUri: `${issuer.url}/jwks.json`, scopesSupported: ['notes:read', 'notes:write'] });
    const guard = requireGatehouseAuth({ verifier, requiredScopes: mcpToolScopes({ write_note: ['notes:write'] }, ['notes:read']) });
    app = await serve([serveProtectedResourceMetadata({ verifier }), guard], (req, res) => {
      if (req.method === 'OPTIONS') return void res.writeHead(204).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ auth: { ...req.auth, resource: req.auth?.resource?.href }, sub: getGatehouseAuth(req).sub }));
    });
  });
  after(async () => {
    app.server.closeAllConnections();
    await new Promise<void>((resolve) => app.server.close(() => resolve()));
    await issuer.stop();
  });

  const post = (body: unknown, authorization?: string) =>
    fetch(`${app.origin}/notes`, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body: JSON.stringify(body) });
  const call = (name: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } });

  it('serves the metadata at the path-suffixed and the root well-known URLs, GET and HEAD only', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/notes', '/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/notes?x=1']) {
      const response = await fetch(`${app.origin}${path}`);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('cache-control'), 'public, max-age=300');
      assert.equal(response.headers.get('access-control-allow-origin'), '*');
      assert.deepEqual(await response.json(), { resource: RESOURCE, authorization_servers: [issuer.url], bearer_methods_supported: ['header'], dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA'], scopes_supported: ['notes:read', 'notes:write'] });
    }
    assert.equal((await fetch(`${app.origin}/.well-known/oauth-protected-resource/notes`, { method: 'HEAD' })).status, 200);
    // Anything else goes on to the guard.
    assert.equal((await fetch(`${app.origin}/.well-known/oauth-protected-resource/other`)).status, 401);
    assert.equal((await fetch(`${app.origin}/.well-known/oauth-protected-resource`, { method: 'POST' })).status, 401);
  });

  it('no token: 401, the challenge naming the metadata, exposed next to the headers already exposed, no-store', async () => {
    const response = await post(call('read_note'));
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), `Bearer scope="notes:read", resource_metadata="${prm}"`);
    assert.equal(response.headers.get('access-control-expose-headers'), 'Mcp-Session-Id, WWW-Authenticate');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await response.json(), { error: 'unauthorized', error_description: 'a bearer token is required' });
  });

  it('a valid token: the request goes on with req.auth in the MCP SDK shape and req.gatehouseAuth', async () => {
    const token = await issuer.sign({ sub: 'user-5' });
    const response = await post(call('read_note'), `Bearer ${token}`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { auth: Record<string, unknown>; sub: string };
    assert.equal(body.sub, 'user-5');
    assert.deepEqual(Object.keys(body.auth).sort(), ['clientId', 'expiresAt', 'extra', 'resource', 'scopes', 'token']);
    assert.equal(body.auth.token, token);
    assert.equal(body.auth.resource, RESOURCE);
    assert.deepEqual(body.auth.scopes, ['notes:read']);
    assert.equal((body.auth.extra as { sub: string }).sub, 'user-5');
  });

  it('scopes from the JSON-RPC body: a tool needing notes:write without it is 403 naming both scopes', async () => {
    const response = await post(call('write_note'), `Bearer ${await issuer.sign()}`);
    assert.equal(response.status, 403);
    assert.equal(
      response.headers.get('www-authenticate'),
      `Bearer error="insufficient_scope", error_description="this request needs scope notes:write", scope="notes:read notes:write", resource_metadata="${prm}"`,
    );
    assert.equal((await post(call('write_note'), `Bearer ${await issuer.sign({ scope: 'notes:read notes:write' })}`)).status, 200);
  });

  it('a CORS preflight passes untouched', async () => {
    const response = await fetch(`${app.origin}/notes`, { method: 'OPTIONS' });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('www-authenticate'), null);
  });

  it('builds its own verifier from the options, and a throwing scope resolver goes to next(error), not a refusal', async () => {
    const own = requireGatehouseAuth({
      issuer: issuer.url,
      resource: RESOURCE,
      jwksUri: `${issuer.url}/jwks.json`,
      requiredScopes: () => {
        throw new Error('resolver failed');
      },
    });
    const other = await serve([own], (_req, res) => void res.writeHead(200).end());
    assert.throws(() => getGatehouseAuth(Object.create(null) as GatehouseRequest), /did not let through/);
    try {
      const response = await fetch(`${other.origin}/notes`, { headers: { authorization: `Bearer ${await issuer.sign()}` } });
      assert.equal(response.status, 500);
      assert.equal(await response.text(), 'Error: resolver failed');
    } finally {
      other.server.closeAllConnections();
      await new Promise<void>((resolve) => other.server.close(() => resolve()));
    }
    const fixed = requireGatehouseAuth({ issuer: issuer.url, resource: RESOURCE, jwksUri: `${issuer.url}/jwks.json`, requiredScopes: ['notes:read'] });
    const plain = await serve([fixed], (_req, res) => void res.writeHead(204).end());
    try {
      assert.equal((await fetch(`${plain.origin}/notes`, { headers: { authorization: `Bearer ${await issuer.sign()}` } })).status, 204);
      assert.equal((await fetch(`${plain.origin}/notes`, { headers: { authorization: `Bearer ${await issuer.sign({ scope: 'other' })}` } })).status, 403);
    } finally {
      plain.server.closeAllConnections();
      await new Promise<void>((resolve) => plain.server.close(() => resolve()));
    }
  });
});
