import { after, before, describe, it } from 'node:test';
import { Injectable, type CanActivate } from '@nestjs/common';
import { GUARDS_METADATA } from '@nestjs/common/internal';
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { AuditLog } from '../../src/audit/audit-log.js';
import { FastLane } from '../../src/fast-lane/fast-lane.js';
import { DiscoveryController } from '../../src/discovery/discovery.controller.js';
import { TokensController } from '../../src/tokens/tokens.controller.js';
import { DpopNonces } from '../../src/tokens/dpop-nonce.js';
import { FakeGithub } from '../fakes/fake-github.js';
import { eventually } from '../support/audit.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, basicAuthorization, mintTokens, obtainCode, registerClient, type ObtainedCode, type TestClient, type TestResource } from '../support/flows.js';

/**
 * The fast lane (src/fast-lane/fast-lane.ts) answers /token, /api/oauth/token, /introspect, the metadata documents
 * and the JWKS from node:http, in front of Express and Nest. It must be invisible: every answer the same as the
 * full path's. Each test sends the same request twice to one running Gatehouse: once to its own listening server
 * (the fast lane in front), once to a second loopback server that hands every request straight to the same
 * application's Express instance (Express, Nest's router, guard, interceptors and filter), and compares status,
 * body and every header but those that differ per request (Date, a generated X-Request-Id, RateLimit counters).
 * Then the side effects: audit events (request id, client address, user agent) and the HTTP metrics' route labels.
 *
 * PGlite only: below the controllers both paths run the very same services on the very same connection, so a
 * PostgreSQL run would compare the same code twice.
 */

// ---------------------------------------------------------------------------------------------- two doors, one app

/** One way into the application: a base URL and a keep-alive agent of its own (so Connection answers compare). */
interface Door {
  name: 'fast lane' | 'full path';
  url: string;
  agent: Agent;
}

interface Sent {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body chunked, without Content-Length (the body parser then counts what arrives). */
  chunked?: boolean;
}

interface Answer {
  /** Whether the fast lane took the request (the rest went to Express). */
  fastLane: boolean;
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed body when the Content-Type is JSON. */
  body: any;
}

/**
 * What the fast lane must take: exact method and path, any query string. Everything else (loose paths, HEAD,
 * OPTIONS) goes to Express through its server too; and nothing sent to the full path's server reaches it.
 */
const FAST_ROUTES = new Set([
  'GET /.well-known/oauth-authorization-server',
  'GET /.well-known/jwks.json',
  'POST /token',
  'POST /api/oauth/token',
  'POST /introspect',
  'GET /authorize',
  'POST /api/login/complete',
  'POST /api/consent/complete',
]);

/** Whether the fast lane must take `method path`: FAST_ROUTES, and GET /interaction/:id[/login/return] for ids of the form Gatehouse issues. */
function isFastRoute(method: string, path: string): boolean {
  return FAST_ROUTES.has(`${method} ${path}`) || (method === 'GET' && /^\/interaction\/[A-Za-z0-9_-]+(\/login\/return)?$/.test(path));
}

/** Requests the fast lane has taken so far in this process (FastLane's match finding a route, counted: see the hooks below). */
let fastLaneRequests = 0;
const fastLanePrototype = FastLane.prototype as unknown as { match: (...args: unknown[]) => unknown };
const match = fastLanePrototype.match;
before(() => {
  fastLanePrototype.match = function (this: FastLane, ...args: unknown[]) {
    const route = match.apply(this, args);
    if (route !== undefined) fastLaneRequests++;
    return route;
  };
});
after(() => {
  fastLanePrototype.match = match;
});

async function send(door: Door, sent: Sent): Promise<Answer> {
  const taken = fastLaneRequests;
  const answer = await exchange(door, sent);
  const expected = door.name === 'fast lane' && isFastRoute(sent.method ?? 'GET', sent.path.split('?')[0]!);
  answer.fastLane = fastLaneRequests > taken;
  assert.equal(answer.fastLane, expected, `${sent.method ?? 'GET'} ${sent.path} through the ${door.name}: ${expected ? '' : 'not '}taken by the fast lane`);
  return answer;
}

function exchange(door: Door, sent: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...sent.headers };
    if (sent.body !== undefined) {
      if (sent.chunked) headers['transfer-encoding'] = 'chunked';
      else headers['content-length'] = String(Buffer.byteLength(sent.body));
    }
    let answered = false;
    const req = httpRequest(`${door.url}${sent.path}`, { method: sent.method ?? 'GET', headers, agent: door.agent }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const json = /\bjson\b/.test(res.headers['content-type'] ?? '') && text !== '';
        resolve({ fastLane: false, status: res.statusCode ?? 0, headers: res.headers, text, body: json ? JSON.parse(text) : undefined });
      });
    });
    // An oversized body may still be on its way when the server has answered and closed: only errors before count.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (sent.body === undefined) req.end();
    else if (sent.chunked) {
      // Several chunks, as a streaming client would send them.
      const body = Buffer.from(sent.body);
      for (let at = 0; at < body.length; at += 16 * 1024) req.write(body.subarray(at, at + 16 * 1024));
      req.end();
    } else req.end(sent.body);
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The headers, with what legitimately differs per request replaced by its shape: Date; X-Request-Id when the
 * server made one up (a request that sends one gets it back, and that compares exactly); the RateLimit counters,
 * which two requests on one budget never share; Retry-After's number. Every name stays: a header only one path
 * sends is a difference. Keep-Alive and Connection compare as they are (both servers have the same timeouts).
 */
function comparable(answer: Answer, where: string): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (name === 'date') {
      assert.ok(typeof value === 'string' && !Number.isNaN(Date.parse(value)), `${where}: Date ${value}`);
      out[name] = '<date>';
    } else if (name === 'x-request-id' && typeof value === 'string' && UUID.test(value)) out[name] = '<generated uuid>';
    else if (name === 'ratelimit') {
      assert.match(String(value), /^limit=\d+, remaining=\d+, reset=\d+$/, `${where}: RateLimit`);
      out[name] = String(value).replace(/remaining=\d+, reset=\d+/, 'remaining=#, reset=#');
    } else if (name === 'dpop-nonce') {
      // The nonce of the current time window: the tests that send DPoP proofs check that each one is accepted.
      assert.match(String(value), /^[A-Za-z0-9_-]{43}$/, `${where}: DPoP-Nonce`);
      out[name] = '<dpop nonce>';
    } else if (name === 'retry-after') {
      assert.ok(Number.isInteger(Number(value)) && Number(value) >= 1, `${where}: Retry-After ${value}`);
      out[name] = '<seconds>';
    } else out[name] = value;
  }
  return out;
}

/** Status, every header (see comparable) and the body byte for byte. */
function assertSameAnswer(fast: Answer, full: Answer, what: string): void {
  const where = `${what}\n  fast lane: ${fast.status} ${fast.text.slice(0, 300)}\n  full path: ${full.status} ${full.text.slice(0, 300)}`;
  assert.equal(fast.status, full.status, `${where}\nstatus`);
  assert.deepEqual(comparable(fast, `${what} (fast lane)`), comparable(full, `${what} (full path)`), `${where}\nheaders`);
  assert.equal(fast.text, full.text, `${where}\nbody`);
}

/** The same request through both doors, fast lane first, held to the same answer. */
async function sameThrough(fast: Door, full: Door, sent: Sent, what = `${sent.method ?? 'GET'} ${sent.path}`): Promise<[Answer, Answer]> {
  const [a, b] = [await send(fast, sent), await send(full, sent)];
  assertSameAnswer(a, b, what);
  return [a, b];
}

// ---------------------------------------------------------------------------------------------- metrics and audit

/** The value of one series on GET /metrics (0 when it has not been written yet). Labels in the order prom-client prints them. */
async function metric(gatehouse: RunningGatehouse, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${gatehouse.url}/metrics`)).text();
  const series = `${name}{${Object.entries(labels).map(([key, value]) => `${key}="${value}"`).join(',')}} `;
  const line = text.split('\n').find((candidate) => candidate.startsWith(series));
  return line === undefined ? 0 : Number(line.slice(series.length));
}

interface AuditRecord {
  type: string;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  client_id: string | null;
}

/** The audit events a request wrote (found by the X-Request-Id it was answered with), written-behind ones included. */
async function eventsOf(gatehouse: RunningGatehouse, answer: Answer): Promise<AuditRecord[]> {
  await gatehouse.app.get(AuditLog).flushObservations();
  const requestId = answer.headers['x-request-id'];
  assert.ok(typeof requestId === 'string' && requestId !== '', 'the answer names its request id');
  return (await gatehouse.db.query('SELECT type, request_id, ip, user_agent, client_id FROM audit_events WHERE request_id = $1 ORDER BY seq', [requestId])) as AuditRecord[];
}

// ---------------------------------------------------------------------------------------------- requests

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_TYPE = { 'content-type': 'application/json' };

function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

/** Starts a second server on loopback that hands every request to the application's Express instance: the full path. */
/**
 * Both ways into `gatehouse`: its own server (the fast lane in front of Express) and a second server that hands
 * every request straight to Express and Nest, with the same connection handling so that Connection and Keep-Alive
 * compare too. `close` ends the second and both agents.
 */
async function doorsInto(gatehouse: RunningGatehouse): Promise<{ fast: Door; full: Door; close(): Promise<void> }> {
  const express = gatehouse.app.getHttpAdapter().getInstance() as RequestListener;
  const server = createServer(express);
  const own = gatehouse.app.getHttpServer() as Server;
  server.keepAliveTimeout = own.keepAliveTimeout;
  server.headersTimeout = own.headersTimeout;
  server.requestTimeout = own.requestTimeout;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fast: Door = { name: 'fast lane', url: gatehouse.url, agent: new Agent({ keepAlive: true }) };
  const full: Door = { name: 'full path', url: `http://127.0.0.1:${port}`, agent: new Agent({ keepAlive: true }) };
  const close = async () => {
    fast.agent.destroy();
    full.agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { fast, full, close };
}

// ---------------------------------------------------------------------------------------------- the tests

describe('fast lane (pglite): the same answers, audit and metrics as Express and Nest', () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;
  let fast: Door;
  let full: Door;
  let closeDoors: (() => Promise<void>) | undefined;
  let resource: TestResource;
  /** Confidential, client_secret_basic: refreshes and introspects. */
  let basicClient: TestClient;
  /** Public (`none`): authorization codes. */
  let publicClient: TestClient;

  /** The same request through both doors, fast lane first. */
  async function both(sent: Sent): Promise<[Answer, Answer]> {
    return [await send(fast, sent), await send(full, sent)];
  }

  const assertSame = (sent: Sent, what?: string) => sameThrough(fast, full, sent, what);

  /** A refresh token for basicClient, fresh each time (each is single-use). */
  async function refreshToken(): Promise<string> {
    return (await mintTokens(gatehouse, resource, { client_id: basicClient.client_id, subject: 'fast-lane-user', scopes: ['tools:read'] })).refreshToken;
  }

  function refreshRequest(token: string, extra: { path?: string; headers?: Record<string, string> } = {}): Sent {
    return {
      method: 'POST',
      path: extra.path ?? '/token',
      headers: { ...FORM, authorization: basicAuthorization(basicClient.client_id, basicClient.client_secret!), ...extra.headers },
      body: form({ grant_type: 'refresh_token', refresh_token: token }),
    };
  }

  function introspectRequest(token: string, extra: { json?: boolean; headers?: Record<string, string> } = {}): Sent {
    return {
      method: 'POST',
      path: '/introspect',
      headers: { ...(extra.json ? JSON_TYPE : FORM), authorization: basicAuthorization(resource.id, resource.registration_secret), ...extra.headers },
      body: extra.json ? JSON.stringify({ token }) : form({ token }),
    };
  }

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({
      github,
      env: {
        TRUSTED_PROXIES: 'loopback',
        // Limits on, so the RateLimit headers are part of every comparison; budgets no test here comes near.
        RATE_LIMIT_TOKEN: '10000/1m',
        RATE_LIMIT_INTROSPECT: '10000/1m',
        RATE_LIMIT_DISCOVERY: '10000/1m',
        RATE_LIMIT_REGISTER: '1000/1m',
        RATE_LIMIT_MINT: '10000/1m',
      },
    });
    ({ fast, full, close: closeDoors } = await doorsInto(gatehouse));
    resource = await createResource(gatehouse, { resource: 'https://mcp.example.test/mcp', scopes: ['tools:read', 'tools:execute'], default_scopes: ['tools:read'] });
    basicClient = await registerClient(gatehouse, { client_name: 'Basic', token_endpoint_auth_method: 'client_secret_basic' });
    publicClient = await registerClient(gatehouse, { client_name: 'Public' });
  });

  after(async () => {
    await closeDoors?.();
    await gatehouse?.close();
    await github?.stop();
  });

  it('serves the metadata documents and the JWKS byte for byte as the full path does, with query strings and from other origins', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/jwks.json']) {
      const [answer] = await assertSame({ path });
      assert.equal(answer.status, 200, path);
      assert.match(String(answer.headers['cache-control']), /^public, max-age=\d+$/, path);
      assert.equal(answer.headers['access-control-allow-origin'], '*', path);
      assert.equal(Number(answer.headers['content-length']), Buffer.byteLength(answer.text), `${path}: Content-Length`);
      await assertSame({ path: `${path}?x=1&y=%20` });
      await assertSame({ path, headers: { origin: 'https://inspector.example.test', 'x-request-id': 'probe-documents.1' } });
    }
    const [jwks] = await assertSame({ path: '/.well-known/jwks.json?x=1' });
    assert.equal(jwks.headers['content-type'], 'application/jwk-set+json; charset=utf-8');
    assert.equal(jwks.headers['cache-control'], 'public, max-age=300');
    const [metadata] = await both({ path: '/.well-known/oauth-authorization-server' });
    assert.equal(metadata.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(metadata.body.issuer, gatehouse.config.issuer);
    // A new resource changes scopes_supported: both paths serve the new document (no stale cached bytes).
    await createResource(gatehouse, { resource: 'https://other.example.test/mcp', scopes: ['files:write'] });
    const [changed] = await assertSame({ path: '/.well-known/oauth-authorization-server' });
    assert.ok(changed.body.scopes_supported.includes('files:write'), changed.text);
    // So does a key rotation change the JWKS on both (the fast lane keeps serialised documents by object).
    const rotation = await gatehouse.admin('POST', '/admin/keys/rotate');
    assert.ok(rotation.status < 300, JSON.stringify(rotation.body));
    const [rotated] = await assertSame({ path: '/.well-known/jwks.json' });
    assert.notEqual(rotated.text, jwks.text, 'the rotated key set is served');
  });

  it('answers a refresh_token grant, at /token and /api/oauth/token, with the same headers and the same kind of token', async () => {
    const jwks = createLocalJWKSet((await send(fast, { path: '/.well-known/jwks.json' })).body as JSONWebKeySet);
    for (const path of ['/token', '/api/oauth/token']) {
      const [first, second] = [await refreshToken(), await refreshToken()];
      const a = await send(fast, refreshRequest(first, { path }));
      const b = await send(full, refreshRequest(second, { path }));
      await assertSameTokenResponse(a, b, `refresh_token at ${path}`, jwks);
    }
  });

  it('answers an authorization_code exchange with the same headers and the same kind of token', async () => {
    const jwks = createLocalJWKSet((await send(fast, { path: '/.well-known/jwks.json' })).body as JSONWebKeySet);
    const exchange = (code: ObtainedCode): Sent => ({
      method: 'POST',
      path: '/token',
      headers: { ...FORM, origin: 'https://inspector.example.test' },
      body: form({ grant_type: 'authorization_code', client_id: publicClient.client_id, code: code.code, code_verifier: code.verifier, redirect_uri: code.redirectUri }),
    });
    const first = await obtainCode(gatehouse, { client: publicClient, resource: resource.resource });
    const second = await obtainCode(gatehouse, { client: publicClient, resource: resource.resource, browser: first.browser });
    const a = await send(fast, exchange(first));
    const b = await send(full, exchange(second));
    await assertSameTokenResponse(a, b, 'authorization_code at /token', jwks);
    assert.ok(a.body.refresh_token && b.body.refresh_token, 'both come with a refresh token');
    // Replaying either code is the same invalid_grant (and revokes what each code made).
    const [replayedFast, replayedFull] = [await send(fast, exchange(first)), await send(full, exchange(second))];
    assertSameAnswer(replayedFast, replayedFull, 'replayed code');
    assert.equal(replayedFast.body.error, 'invalid_grant');
  });

  async function assertSameTokenResponse(a: Answer, b: Answer, what: string, jwks: ReturnType<typeof createLocalJWKSet>): Promise<void> {
    const where = `${what}: fast lane ${a.status} ${a.body?.error ?? Object.keys(a.body ?? {}).join(',')}, full path ${b.status} ${b.body?.error ?? Object.keys(b.body ?? {}).join(',')}`;
    assert.equal(a.status, 200, where);
    assert.equal(b.status, 200, where);
    // Every header the same but the body's length, which follows the tokens (checked against each body instead).
    const headers = (answer: Answer) => ({ ...comparable(answer, what), 'content-length': '<length>' });
    assert.deepEqual(headers(a), headers(b), `${where}: headers`);
    for (const answer of [a, b]) {
      assert.equal(Number(answer.headers['content-length']), Buffer.byteLength(answer.text), `${what}: Content-Length`);
      assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8', what);
      assert.equal(answer.headers['cache-control'], 'no-store', what);
      assert.equal(answer.headers.pragma, 'no-cache', what);
    }
    assert.deepEqual(Object.keys(a.body).sort(), Object.keys(b.body).sort(), `${where}: members`);
    for (const member of ['token_type', 'expires_in', 'scope']) assert.deepEqual(a.body[member], b.body[member], `${where}: ${member}`);
    for (const answer of [a, b]) {
      const token = answer.body.access_token as string;
      assert.deepEqual({ alg: decodeProtectedHeader(token).alg, typ: decodeProtectedHeader(token).typ }, { alg: 'ES256', typ: 'at+jwt' }, what);
      const { payload } = await jwtVerify(token, jwks, { issuer: gatehouse.config.issuer, audience: resource.resource, typ: 'at+jwt', algorithms: ['ES256'] });
      assert.equal(typeof payload.client_id, 'string', what);
    }
  }

  it('answers introspection, active and inactive, form and JSON, with identical bodies', async () => {
    const minted = await mintTokens(gatehouse, resource, { client_id: basicClient.client_id, subject: 'fast-lane-user', scopes: ['tools:read'] });
    for (const json of [false, true]) {
      const [active] = await assertSame(introspectRequest(minted.accessToken, { json }), `active access token (${json ? 'JSON' : 'form'})`);
      assert.equal(active.status, 200);
      assert.equal(active.body.active, true, active.text);
      assert.equal(active.headers['cache-control'], 'no-store');
      assert.equal(active.headers.pragma, 'no-cache');
      assert.equal(active.headers['access-control-allow-origin'], undefined, '/introspect is not a cross-origin endpoint');
      const [refresh] = await assertSame(introspectRequest(minted.refreshToken, { json }), `active refresh token (${json ? 'JSON' : 'form'})`);
      assert.equal(refresh.body.active, true, refresh.text);
      const [inactive] = await assertSame(introspectRequest('not-a-token-at-all', { json }), `inactive (${json ? 'JSON' : 'form'})`);
      assert.equal(inactive.text, '{"active":false}');
    }
    // As a confidential client, with the token's owner calling: the same answers too.
    const asClient: Sent = {
      method: 'POST',
      path: '/introspect',
      headers: { ...FORM, authorization: basicAuthorization(basicClient.client_id, basicClient.client_secret!) },
      body: form({ token: minted.accessToken, token_type_hint: 'access_token' }),
    };
    assert.equal((await assertSame(asClient, 'introspection by the client'))[0].body.active, true);
  });

  it('answers every error the same: status, body and all headers, WWW-Authenticate included', async () => {
    const basic = basicAuthorization(basicClient.client_id, basicClient.client_secret!);
    const wrongSecret = basicAuthorization(basicClient.client_id, 'not-the-secret');
    const cases: Array<{ what: string; sent: Sent; status: number; error: string; challenge?: boolean }> = [
      { what: 'JSON to /token', sent: { method: 'POST', path: '/token', headers: JSON_TYPE, body: '{"grant_type":"refresh_token"}' }, status: 400, error: 'invalid_request' },
      { what: 'text/plain to /token', sent: { method: 'POST', path: '/token', headers: { 'content-type': 'text/plain' }, body: 'grant_type=refresh_token' }, status: 400, error: 'invalid_request' },
      { what: 'no body at /token', sent: { method: 'POST', path: '/token' }, status: 400, error: 'invalid_request' },
      { what: 'missing grant_type', sent: { method: 'POST', path: '/token', headers: FORM, body: form({ refresh_token: 'x' }) }, status: 400, error: 'invalid_request' },
      { what: 'empty form', sent: { method: 'POST', path: '/token', headers: FORM, body: '' }, status: 400, error: 'invalid_request' },
      { what: 'duplicated parameter', sent: { method: 'POST', path: '/token', headers: FORM, body: 'grant_type=refresh_token&grant_type=refresh_token' }, status: 400, error: 'invalid_request' },
      { what: 'NUL in the form', sent: { method: 'POST', path: '/token', headers: FORM, body: 'grant_type=refresh%00token' }, status: 400, error: 'invalid_request' },
      { what: 'unsupported grant_type', sent: { method: 'POST', path: '/token', headers: FORM, body: form({ grant_type: 'password', username: 'u', password: 'p' }) }, status: 400, error: 'unsupported_grant_type' },
      { what: 'a query string on /token', sent: { method: 'POST', path: '/token?grant_type=refresh_token&x=1', headers: FORM, body: form({ grant_type: 'password' }) }, status: 400, error: 'unsupported_grant_type' },
      { what: 'unsupported grant_type at /api/oauth/token', sent: { method: 'POST', path: '/api/oauth/token', headers: FORM, body: form({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code' }) }, status: 400, error: 'unsupported_grant_type' },
      { what: 'unknown refresh token', sent: { method: 'POST', path: '/token', headers: { ...FORM, authorization: basic }, body: form({ grant_type: 'refresh_token', refresh_token: 'gh_rt_unknown' }) }, status: 400, error: 'invalid_grant' },
      { what: 'wrong client secret (client_secret_basic)', sent: { method: 'POST', path: '/token', headers: { ...FORM, authorization: wrongSecret }, body: form({ grant_type: 'refresh_token', refresh_token: 'x' }) }, status: 401, error: 'invalid_client', challenge: true },
      { what: 'malformed Basic credentials', sent: { method: 'POST', path: '/token', headers: { ...FORM, authorization: 'Basic !!!' }, body: form({ grant_type: 'refresh_token', refresh_token: 'x' }) }, status: 401, error: 'invalid_client', challenge: true },
      { what: 'unknown client (client_secret_post)', sent: { method: 'POST', path: '/token', headers: FORM, body: form({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'no-such-client', client_secret: 's' }) }, status: 401, error: 'invalid_client' },
      { what: 'error from another origin', sent: { method: 'POST', path: '/token', headers: { ...FORM, origin: 'https://inspector.example.test' }, body: form({ grant_type: 'password' }) }, status: 400, error: 'unsupported_grant_type' },
      { what: 'malformed JSON to /introspect', sent: { method: 'POST', path: '/introspect', headers: { ...JSON_TYPE, authorization: basic }, body: '{"token":' }, status: 400, error: 'invalid_request' },
      { what: 'a JSON array to /introspect', sent: { method: 'POST', path: '/introspect', headers: { ...JSON_TYPE, authorization: basic }, body: '["token"]' }, status: 400, error: 'invalid_request' },
      { what: 'text/plain to /introspect', sent: { method: 'POST', path: '/introspect', headers: { 'content-type': 'text/plain', authorization: basic }, body: 'token=x' }, status: 400, error: 'invalid_request' },
      { what: 'missing token at /introspect', sent: { method: 'POST', path: '/introspect', headers: { ...FORM, authorization: basic }, body: form({ token_type_hint: 'access_token' }) }, status: 400, error: 'invalid_request' },
      { what: 'public client at /introspect', sent: { method: 'POST', path: '/introspect', headers: FORM, body: form({ token: 'x', client_id: publicClient.client_id }) }, status: 401, error: 'invalid_client' },
      { what: 'no credentials at /introspect', sent: { method: 'POST', path: '/introspect', headers: FORM, body: form({ token: 'x' }) }, status: 401, error: 'invalid_client' },
      { what: 'wrong resource secret at /introspect', sent: { method: 'POST', path: '/introspect', headers: { ...FORM, authorization: basicAuthorization(resource.id, 'wrong') }, body: form({ token: 'x' }) }, status: 401, error: 'invalid_client', challenge: true },
      { what: 'unknown bearer at /introspect', sent: { method: 'POST', path: '/introspect', headers: { ...FORM, authorization: 'Bearer not-a-registration-secret' }, body: form({ token: 'x' }) }, status: 401, error: 'invalid_token', challenge: true },
    ];
    for (const { what, sent, status, error, challenge } of cases) {
      for (const requestId of [undefined, 'probe-error.1']) {
        const withId = requestId ? { ...sent, headers: { ...sent.headers, 'x-request-id': requestId } } : sent;
        const [answer] = await assertSame(withId, what);
        const where = `${what}: ${answer.status} ${answer.text}`;
        assert.equal(answer.status, status, where);
        assert.equal(answer.body?.error, error, where);
        assert.equal(typeof answer.body?.error_description, 'string', where);
        assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8', where);
        assert.equal(answer.headers['cache-control'], 'no-store', where);
        assert.equal(answer.headers.pragma, 'no-cache', where);
        assert.equal(Number(answer.headers['content-length']), Buffer.byteLength(answer.text), `${where}: Content-Length`);
        if (challenge) assert.ok(answer.headers['www-authenticate'], `${where}: WWW-Authenticate`);
        if (requestId) assert.equal(answer.headers['x-request-id'], requestId, where);
        if (sent.path !== '/introspect') assert.equal(answer.headers['access-control-allow-origin'], '*', where);
      }
    }
  });

  it('refuses oversized bodies with the same 413, whether the length was declared or the body came chunked', async () => {
    const limit = gatehouse.config.maxBodyBytes;
    const big = form({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(limit) });
    for (const path of ['/token', '/introspect']) {
      for (const chunked of [false, true]) {
        const [answer] = await assertSame({ method: 'POST', path, headers: FORM, body: big, chunked }, `oversized body at ${path} (${chunked ? 'chunked' : 'declared'})`);
        assert.equal(answer.status, 413, answer.text);
        assert.equal(answer.body.error, 'request_too_large');
        assert.equal(answer.headers.connection, 'close', 'the rest of the body is not read');
      }
      // Just under the limit is parsed, and then refused for what it says.
      const fits = form({ grant_type: 'password', padding: 'x'.repeat(limit - 200) });
      await assertSame({ method: 'POST', path, headers: FORM, body: fits }, `a body just under the limit at ${path}`);
    }
  });

  it('leaves loose paths, HEAD and OPTIONS to Express, which answers them as the full path does', async () => {
    const unsupported: Sent = { method: 'POST', headers: { ...FORM, 'x-request-id': 'probe-loose.1' }, body: form({ grant_type: 'password', token: 'x' }), path: '' };
    for (const [path, exact] of [['/token/', '/token'], ['/TOKEN', '/token'], ['/Token?x=1', '/token'], ['/api/oauth/token/', '/api/oauth/token'], ['/introspect/', '/introspect'], ['/INTROSPECT', '/introspect']] as const) {
      const [answer] = await assertSame({ ...unsupported, path });
      // Answered by the same endpoint, exactly as the exact path is through the fast lane: CORS included.
      const [reference] = await both({ ...unsupported, path: exact });
      assertSameAnswer(answer, reference, `${path} as ${exact}`);
      assert.equal(answer.status, exact === '/introspect' ? 401 : 400, `${path}: ${answer.text}`);
    }
    for (const path of ['/.well-known/jwks.json/', '/.well-known/JWKS.json', '/.well-known/oauth-authorization-server/']) {
      const [answer] = await assertSame({ path });
      const [exact] = await both({ path: path.replace(/\/$/, '').replace('JWKS', 'jwks') });
      assertSameAnswer(answer, exact, `${path} as the exact path`);
    }

    // HEAD of a document: the GET's headers, no body.
    for (const path of ['/.well-known/jwks.json', '/.well-known/oauth-authorization-server']) {
      const [head] = await assertSame({ method: 'HEAD', path });
      const [get] = await both({ path });
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
      assert.deepEqual(comparable(head, `HEAD ${path}`), comparable(get, `GET ${path}`), `HEAD ${path} has the GET's headers`);
    }
    const [headToken] = await assertSame({ method: 'HEAD', path: '/token' });
    assert.equal(headToken.status, 404);
    const [getToken] = await assertSame({ method: 'GET', path: '/token' });
    assert.equal(getToken.body.error, 'not_found');

    // A CORS preflight gets the preflight headers and no body, through the fast lane's server as through Express,
    // on the paths of every @PublicCors route.
    const publicPaths = ['/token', '/api/oauth/token', '/.well-known/jwks.json', '/.well-known/oauth-authorization-server'];
    for (const path of [...publicPaths, '/token/', '/TOKEN', '/register', '/register/some-client', '/revoke', '/api/oauth/revoke']) {
      const [preflight] = await assertSame({
        method: 'OPTIONS',
        path,
        headers: { origin: 'https://inspector.example.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, mcp-protocol-version' },
      });
      assert.equal(preflight.status, 204, path);
      assert.equal(preflight.headers['access-control-allow-origin'], '*', path);
      assert.match(String(preflight.headers['access-control-allow-methods']), /POST/, path);
      assert.match(String(preflight.headers['access-control-allow-headers']), /Content-Type/, path);
      assert.equal(preflight.headers['access-control-max-age'], '86400', path);
    }
    for (const path of ['/introspect', '/authorize', '/api/login/complete', '/register/a/b']) {
      const [preflight] = await assertSame({ method: 'OPTIONS', path, headers: { origin: 'https://inspector.example.test', 'access-control-request-method': 'POST' } });
      assert.equal(preflight.headers['access-control-allow-origin'], undefined, `${path} answers no cross-origin preflight`);
    }
  });

  it('records the same request id, client address and user agent in token.refreshed and token.introspected on both paths', async () => {
    const headers = { 'user-agent': 'FastLaneProbe/1.0 (parity)' };
    const refreshed: Record<string, AuditRecord> = {};
    const introspected: Record<string, AuditRecord> = {};
    for (const door of [fast, full]) {
      const minted = await mintTokens(gatehouse, resource, { client_id: basicClient.client_id, subject: 'fast-lane-user', scopes: ['tools:read'] });
      const refresh = await send(door, refreshRequest(minted.refreshToken, { headers }));
      assert.equal(refresh.status, 200, refresh.text);
      const events = await eventsOf(gatehouse, refresh);
      assert.deepEqual(events.map((event) => event.type), ['token.refreshed'], door.name);
      refreshed[door.name] = events[0]!;
      const inspected = await send(door, introspectRequest(refresh.body.access_token, { headers: { ...headers, 'x-request-id': `probe-introspect.${door.name === 'fast lane' ? 'fast' : 'full'}` } }));
      assert.equal(inspected.body?.active, true, inspected.text);
      const observed = await eventsOf(gatehouse, inspected);
      assert.deepEqual(observed.map((event) => event.type), ['token.introspected'], door.name);
      introspected[door.name] = observed[0]!;
      assert.equal(refreshed[door.name]!.request_id, refresh.headers['x-request-id']);
      assert.equal(introspected[door.name]!.request_id, inspected.headers['x-request-id']);
    }
    const who = (event: AuditRecord) => ({ type: event.type, ip: event.ip, user_agent: event.user_agent, client_id: event.client_id });
    assert.deepEqual(who(refreshed['fast lane']!), who(refreshed['full path']!));
    assert.deepEqual(who(introspected['fast lane']!), who(introspected['full path']!));
    assert.match(refreshed['fast lane']!.ip ?? '', /127\.0\.0\.1$/);
    assert.equal(refreshed['fast lane']!.user_agent, 'FastLaneProbe/1.0 (parity)');
    assert.equal(introspected['fast lane']!.request_id, 'probe-introspect.fast');
  });

  it('believes X-Forwarded-For from a trusted loopback proxy the same way on both paths', async () => {
    const recorded: Record<string, Array<string | null>> = {};
    for (const door of [fast, full]) {
      recorded[door.name] = [];
      for (const forwarded of ['198.51.100.23', '203.0.113.9, 198.51.100.24', '2001:db8::7']) {
        const headers = { 'x-forwarded-for': forwarded };
        const minted = await mintTokens(gatehouse, resource, { client_id: basicClient.client_id, subject: 'fast-lane-user', scopes: ['tools:read'] });
        const refresh = await send(door, refreshRequest(minted.refreshToken, { headers }));
        assert.equal(refresh.status, 200, refresh.text);
        const inspected = await send(door, introspectRequest(minted.accessToken, { headers }));
        assert.equal(inspected.status, 200, inspected.text);
        for (const answer of [refresh, inspected]) recorded[door.name]!.push(...(await eventsOf(gatehouse, answer)).map((event) => event.ip));
      }
    }
    assert.deepEqual(recorded['fast lane'], ['198.51.100.23', '198.51.100.23', '198.51.100.24', '198.51.100.24', '2001:db8::7', '2001:db8::7']);
    assert.deepEqual(recorded['fast lane'], recorded['full path']);
  });

  it('labels latency and OAuth errors with the same route on both paths', async () => {
    type Series = [name: string, read: () => Promise<number>];
    const latency = (method: string, route: string, status: number): Series => [
      `latency{${method} ${route} ${status}}`,
      () => metric(gatehouse, 'gatehouse_http_request_duration_seconds_count', { method, route, status: String(status) }),
    ];
    const oauthError = (error: string, route: string): Series => [`oauth_errors{${error} ${route}}`, () => metric(gatehouse, 'gatehouse_oauth_errors_total', { error, route })];
    /** Sends `sent` through `door` and waits until each of these series has moved by one (metrics land on 'finish'). */
    async function counted(door: Door, sent: Sent, ...series: Series[]): Promise<void> {
      const before = await Promise.all(series.map(([, read]) => read()));
      await send(door, sent);
      await eventually(async () => {
        const now = await Promise.all(series.map(([, read]) => read()));
        return now.every((value, i) => value === before[i]! + 1) ? true : undefined;
      }, `${sent.method ?? 'GET'} ${sent.path} through the ${door.name} counted once under ${series.map(([name]) => name).join(' and ')}`, 3000);
    }
    const minted = await mintTokens(gatehouse, resource, { client_id: basicClient.client_id, subject: 'fast-lane-user', scopes: ['tools:read'] });
    const unsupported: Sent = { method: 'POST', path: '/token', headers: FORM, body: form({ grant_type: 'password' }) };
    const wrongSecret = refreshRequest('x', { headers: { authorization: basicAuthorization(basicClient.client_id, 'wrong') } });
    const publicCaller: Sent = { method: 'POST', path: '/introspect', headers: FORM, body: form({ token: 'x', client_id: publicClient.client_id }) };
    const malformed: Sent = { method: 'POST', path: '/introspect', headers: JSON_TYPE, body: '{"token":' };
    const duplicated: Sent = { method: 'POST', path: '/token', headers: FORM, body: 'grant_type=a&grant_type=b' };
    for (const door of [fast, full]) {
      await counted(door, { path: '/.well-known/jwks.json' }, latency('GET', '/.well-known/jwks.json', 200));
      await counted(door, { path: '/.well-known/oauth-authorization-server?x=1' }, latency('GET', '/.well-known/oauth-authorization-server', 200));
      await counted(door, refreshRequest(await refreshToken()), latency('POST', '/token', 200));
      await counted(door, refreshRequest(await refreshToken(), { path: '/api/oauth/token' }), latency('POST', '/api/oauth/token', 200));
      await counted(door, introspectRequest(minted.accessToken), latency('POST', '/introspect', 200));
      await counted(door, unsupported, latency('POST', '/token', 400), oauthError('unsupported_grant_type', '/token'));
      await counted(door, wrongSecret, latency('POST', '/token', 401), oauthError('invalid_client', '/token'));
      await counted(door, publicCaller, latency('POST', '/introspect', 401), oauthError('invalid_client', '/introspect'));
      // Refused by the body parser, which on the full path runs before the router knows a route: `unmatched` either way.
      await counted(door, malformed, latency('POST', 'unmatched', 400), oauthError('invalid_request', 'unmatched'));
      await counted(door, duplicated, latency('POST', 'unmatched', 400), oauthError('invalid_request', 'unmatched'));
    }
  });
});

describe('fast lane (pglite) with tiny rate limits', () => {
  let gatehouse: RunningGatehouse;
  let fast: Door;
  let full: Door;
  let closeDoors: (() => Promise<void>) | undefined;
  let resource: TestResource;
  let client: TestClient;

  before(async () => {
    gatehouse = await startGatehouse({ env: { RATE_LIMIT_TOKEN: '2/1m', RATE_LIMIT_DISCOVERY: '2/1m', RATE_LIMIT_INTROSPECT: '2/1m', RATE_LIMIT_MINT: '1000/1m' } });
    ({ fast, full, close: closeDoors } = await doorsInto(gatehouse));
    resource = await createResource(gatehouse, { resource: 'https://limited.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
    client = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic' });
  });

  after(async () => {
    await closeDoors?.();
    await gatehouse?.close();
  });

  /** Both doors spend one budget (one application, one tracker): the first answer of each pair from the fast lane. */
  async function spendAndRefuse(sent: Sent, what: string, allowed: number): Promise<void> {
    const answers: Answer[] = [];
    for (let i = 0; i < allowed; i++) answers.push(await send(i % 2 === 0 ? fast : full, sent));
    for (let i = 0; i + 1 < answers.length; i += 2) assertSameAnswer(answers[i]!, answers[i + 1]!, `${what}: within the budget`);
    for (const answer of answers) {
      assert.notEqual(answer.status, 429, `${what}: within the budget`);
      assert.equal(answer.headers['ratelimit-policy'], '2;w=60', what);
    }
    assert.match(String(answers.at(-1)!.headers.ratelimit), /^limit=2, remaining=0, reset=\d+$/, `${what}: one budget across both doors`);
    for (let round = 0; round < 2; round++) {
      const [a, b] = [await send(fast, sent), await send(full, sent)];
      assertSameAnswer(a, b, `${what}: over the budget`);
      assert.equal(a.status, 429, a.text);
      assert.equal(a.body.error, 'too_many_requests');
      assert.match(a.body.error_description, /rate limit exceeded; retry after \d+ s/);
      assert.equal(a.headers['cache-control'], 'no-store');
      assert.equal(a.headers.pragma, 'no-cache');
      assert.ok(a.headers['retry-after'], 'Retry-After');
      assert.match(String(a.headers.ratelimit), /^limit=2, remaining=0, reset=\d+$/);
      assert.equal(a.headers['ratelimit-policy'], '2;w=60');
    }
  }

  it('spends one budget on both paths and refuses over it with the same 429, Retry-After and RateLimit headers', async () => {
    await spendAndRefuse({ path: '/.well-known/jwks.json?x=1', headers: { origin: 'https://inspector.example.test' } }, 'JWKS', 2);
    assert.equal((await send(fast, { path: '/.well-known/oauth-authorization-server' })).status, 429, 'the metadata is in the same discovery budget');
    assert.equal((await send(full, { path: '/.well-known/oauth-authorization-server' })).status, 429, 'on both paths');

    const refresh: Sent = { method: 'POST', path: '/token', headers: { ...FORM, authorization: basicAuthorization(client.client_id, client.client_secret!) }, body: form({ grant_type: 'refresh_token', refresh_token: 'gh_rt_unknown' }) };
    await spendAndRefuse(refresh, 'refresh at /token', 2);
    const alias = await send(fast, { ...refresh, path: '/api/oauth/token' });
    assert.equal(alias.status, 429, '/api/oauth/token spends the same token budget');

    const introspection: Sent = { method: 'POST', path: '/introspect', headers: { ...FORM, authorization: `Bearer ${resource.registration_secret}` }, body: form({ token: 'x' }) };
    await spendAndRefuse(introspection, 'introspection', 2);

    const events = await eventually(async () => {
      await gatehouse.app.get(AuditLog).flushObservations();
      const rows = (await gatehouse.db.query(`SELECT data->>'policy' AS policy FROM audit_events WHERE type = 'rate_limit.exceeded' ORDER BY seq`)) as Array<{ policy: string }>;
      return rows.length >= 3 ? rows : undefined;
    }, 'rate_limit.exceeded for each policy');
    assert.deepEqual(events.map((row) => row.policy), ['discovery', 'token', 'introspect'], 'one event per blocked tracker, whichever path refused');
  });
});

describe('fast lane (pglite) with no trusted proxy', () => {
  let gatehouse: RunningGatehouse;
  let fast: Door;
  let full: Door;
  let closeDoors: (() => Promise<void>) | undefined;
  let resource: TestResource;
  let client: TestClient;

  before(async () => {
    gatehouse = await startGatehouse();
    ({ fast, full, close: closeDoors } = await doorsInto(gatehouse));
    resource = await createResource(gatehouse, { resource: 'https://proxied.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
    client = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic' });
  });

  after(async () => {
    await closeDoors?.();
    await gatehouse?.close();
  });

  it('ignores X-Forwarded-For from an untrusted peer on both paths', async () => {
    const recorded: Array<string | null> = [];
    for (const door of [fast, full]) {
      const minted = await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'proxy-user' });
      const inspected = await send(door, {
        method: 'POST',
        path: '/introspect',
        headers: { ...FORM, authorization: basicAuthorization(client.client_id, client.client_secret!), 'x-forwarded-for': '198.51.100.99' },
        body: form({ token: minted.accessToken }),
      });
      assert.equal(inspected.status, 200, inspected.text);
      recorded.push(...(await eventsOf(gatehouse, inspected)).map((event) => event.ip));
    }
    assert.equal(recorded.length, 2);
    assert.equal(recorded[0], recorded[1]);
    assert.match(recorded[0] ?? '', /127\.0\.0\.1$/, 'the peer, not the forwarded address');
  });
});

describe('fast lane (pglite) with DPoP nonces required', () => {
  let gatehouse: RunningGatehouse;
  let fast: Door;
  let full: Door;
  let closeDoors: (() => Promise<void>) | undefined;
  let resource: TestResource;
  let client: TestClient;

  before(async () => {
    gatehouse = await startGatehouse({ env: { DPOP_NONCE: 'required' } });
    ({ fast, full, close: closeDoors } = await doorsInto(gatehouse));
    resource = await createResource(gatehouse, { resource: 'https://nonces.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
    client = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_basic' });
  });

  after(async () => {
    await closeDoors?.();
    await gatehouse?.close();
  });

  /** A DPoP proof for POST /token at this Gatehouse, with a fresh jti, and the nonce when given. */
  async function proof(nonce?: string): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    return new SignJWT({ htm: 'POST', htu: `${gatehouse.url}/token`, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ...(nonce === undefined ? {} : { nonce }) })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
      .sign(privateKey);
  }

  function refresh(token: string, dpop: string): Sent {
    return {
      method: 'POST',
      path: '/token',
      headers: { ...FORM, origin: 'https://inspector.example.test', authorization: basicAuthorization(client.client_id, client.client_secret!), dpop },
      body: form({ grant_type: 'refresh_token', refresh_token: token }),
    };
  }

  it('answers use_dpop_nonce and a successful exchange with the same headers, DPoP-Nonce included, on both paths', async () => {
    const nonces = gatehouse.app.get(DpopNonces);
    const [refused] = await sameThrough(fast, full, refresh('gh_rt_unknown', await proof()), 'a proof without a nonce');
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'use_dpop_nonce');
    assert.ok(nonces.accepts(String(refused.headers['dpop-nonce'])), 'a current nonce');
    assert.match(String(refused.headers['access-control-expose-headers']), /DPoP-Nonce/);

    const answers: Answer[] = [];
    for (const door of [fast, full]) {
      const { refreshToken } = await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'nonce-user', scopes: ['tools:read'] });
      answers.push(await send(door, refresh(refreshToken, await proof(String(refused.headers['dpop-nonce'])))));
    }
    const [a, b] = answers as [Answer, Answer];
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    const headers = (answer: Answer) => ({ ...comparable(answer, 'refresh with a nonce'), 'content-length': '<length>' });
    assert.deepEqual(headers(a), headers(b));
    for (const answer of [a, b]) assert.ok(nonces.accepts(String(answer.headers['dpop-nonce'])), 'a fresh nonce on success');
  });
});

describe('fast lane (pglite) with no discovery budget: cached documents answered at once', () => {
  let gatehouse: RunningGatehouse;
  let fast: Door;
  let full: Door;
  let closeDoors: (() => Promise<void>) | undefined;

  before(async () => {
    // Without a budget to spend and with the document cached, the fast lane answers synchronously (no request
    // context, no promise): a path of its own, held to the same answers here.
    gatehouse = await startGatehouse({ env: { RATE_LIMIT_DISCOVERY: 'off' } });
    ({ fast, full, close: closeDoors } = await doorsInto(gatehouse));
    await createResource(gatehouse, { resource: 'https://documents.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
  });

  after(async () => {
    await closeDoors?.();
    await gatehouse?.close();
  });

  it('serves the documents as the full path does, counts them under their routes, and follows a change of scopes', async () => {
    const discovery = gatehouse.app.get(DiscoveryController, { strict: false });
    const latency = (route: string) => metric(gatehouse, 'gatehouse_http_request_duration_seconds_count', { method: 'GET', route, status: '200' });
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/jwks.json']) {
      // The first read of a cold cache waits for it; the next ones are answered from it at once.
      await send(fast, { path });
      assert.ok(!(discovery.metadata() instanceof Promise), 'the scopes are cached, so the metadata document is at hand');
      const counted = await latency(path);
      const variants: Array<Record<string, string>> = [{}, { origin: 'https://inspector.example.test', 'x-request-id': 'probe-sync.1' }];
      for (const headers of variants) {
        const [answer, reference] = [await send(fast, { path: `${path}?x=1`, headers }), await send(full, { path: `${path}?x=1`, headers })];
        assertSameAnswer(answer, reference, `GET ${path} (synchronous)`);
        assert.equal(answer.status, 200);
        assert.equal(answer.headers['access-control-allow-origin'], '*');
        assert.ok(answer.headers['x-request-id'], 'every answer names its request id');
        assert.equal(answer.headers.ratelimit, undefined, 'no budget, no RateLimit header');
      }
      await eventually(async () => ((await latency(path)) === counted + 4 ? true : undefined), `${path}: counted once per request on both paths`, 3000);
    }
    // A new resource's scopes reach the synchronous path too: the cache forgets the union, the next read waits for it.
    await createResource(gatehouse, { resource: 'https://documents.example.test/other', scopes: ['files:write'] });
    await send(fast, { path: '/.well-known/oauth-authorization-server' });
    const [changed, reference] = [await send(fast, { path: '/.well-known/oauth-authorization-server' }), await send(full, { path: '/.well-known/oauth-authorization-server' })];
    assertSameAnswer(changed, reference, 'metadata after a new resource');
    assert.ok(changed.body.scopes_supported.includes('files:write'), changed.text);
  });
});

describe('fast lane (pglite): the authorization steps — /authorize, the interaction page, the product completions', () => {
  let gatehouse: RunningGatehouse;
  let fast: Door;
  let full: Door;
  let closeDoors: (() => Promise<void>) | undefined;
  let resource: TestResource;
  let client: TestClient;
  const PRODUCT = 'https://product.example.test';

  before(async () => {
    gatehouse = await startGatehouse({ env: { RATE_LIMIT_AUTHORIZE: '10000/1m', RATE_LIMIT_LOGIN_COMPLETE: '10000/1m' } });
    ({ fast, full, close: closeDoors } = await doorsInto(gatehouse));
    resource = await createResource(gatehouse, { resource: 'https://mcp.example.test/steps', scopes: ['tools:read', 'tools:execute'], default_scopes: ['tools:read'] });
    const patched = await gatehouse.admin('PATCH', `/admin/resources/${resource.id}`, { login_method: 'external', login_uri: `${PRODUCT}/login`, consent_uri: `${PRODUCT}/consent` });
    assert.equal(patched.status, 200);
    client = await registerClient(gatehouse, { client_name: 'Steps' });
  });
  after(async () => {
    await closeDoors?.();
    await gatehouse?.close();
  });

  /** What differs between two flows by design (ids, handles, codes, cookie values and times), replaced by its name. */
  function normalised(answer: Answer, secrets: string[]): { status: number; headers: Record<string, string | string[] | undefined>; text: string } {
    const mask = (text: string) => secrets.reduce((out, secret, i) => (secret ? out.split(secret).join(`<secret ${i}>`) : out), text);
    const headers = comparable(answer, 'step');
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      const masked = Array.isArray(value) ? value.map(mask) : mask(value);
      headers[name] = Array.isArray(masked) ? masked.map((cookie) => cookie.replace(/Expires=[^;]+/, 'Expires=<time>')) : masked;
    }
    headers['content-length'] = '<length>';
    return { status: answer.status, headers, text: mask(answer.text) };
  }

  /** Values of `name` in `url`'s query (or '' when absent). */
  const param = (url: string, name: string) => new URL(url, gatehouse.url).searchParams.get(name) ?? '';

  /** One whole flow through `door`, every answer kept, with the values that are this flow's own. */
  async function flow(door: Door, beforeConsent: (interactionId: string) => Promise<void> = async () => {}): Promise<{ steps: Answer[]; secrets: string[] }> {
    const built = authorizationUrl(gatehouse.url, { client, resource: resource.resource, scope: 'tools:read tools:execute', state: 'same-state', params: { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGF0jAw-cM' } });
    const authorize = await send(door, { path: built.url.slice(gatehouse.url.length), headers: { 'user-agent': 'steps' } });
    // The browser goes straight to the product's login page; its interaction is the path its cookie is bound to.
    const loginHandle = param(String(authorize.headers.location), 'external_auth_id');
    const interactionPath = /Path=(\/interaction\/[A-Za-z0-9_-]+)/.exec(String(authorize.headers['set-cookie']?.[0] ?? ''))?.[1] ?? '';
    const cookie = String(authorize.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
    // A new user each flow: one who consented before would not be sent to the consent page.
    const user = `user-${randomUUID()}`;
    const bearer = { ...JSON_TYPE, authorization: `Bearer ${resource.registration_secret}` };
    const login = await send(door, { method: 'POST', path: '/api/login/complete', headers: bearer, body: JSON.stringify({ external_auth_id: loginHandle, user: { id: user } }) });
    const returnPath = String(login.body?.redirect_uri ?? '').slice(gatehouse.url.length);
    const loginReturn = await send(door, { path: returnPath, headers: { cookie } });
    const consentHandle = param(String(loginReturn.headers.location), 'interaction_id');
    await beforeConsent(interactionPath.split('/').pop()!);
    const consent = await send(door, {
      method: 'POST',
      path: '/api/consent/complete',
      headers: bearer,
      body: JSON.stringify({ interaction_id: consentHandle, user_id: user, decision: 'approve' }),
    });
    const code = param(String(consent.body?.redirect_uri ?? ''), 'code');
    const ticket = param(returnPath, 'ticket');
    return {
      steps: [authorize, login, loginReturn, consent],
      secrets: [interactionPath.split('/').pop()!, cookie.split('=')[1]!, loginHandle, user, consentHandle, code, ticket],
    };
  }

  it('takes a whole flow through the same steps with the same answers, but for each flow’s own ids, handles and code', async () => {
    const a = await flow(fast);
    const b = await flow(full);
    const names = ['authorize', 'login complete', 'login return', 'consent complete'];
    names.forEach((name, i) => assert.deepEqual(normalised(a.steps[i]!, a.secrets), normalised(b.steps[i]!, b.secrets), name));
    const [authorize, login, loginReturn, consent] = a.steps as [Answer, Answer, Answer, Answer];
    assert.equal(authorize.status, 302);
    assert.match(String(authorize.headers['set-cookie']), /^gatehouse_interaction=[^;]+; Max-Age=\d+; Path=\/interaction\/[A-Za-z0-9_-]+; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
    assert.equal(authorize.headers['cache-control'], 'no-store');
    assert.ok(String(authorize.headers.location).startsWith(`${PRODUCT}/login?`), String(authorize.headers.location));
    assert.equal(login.status, 200);
    assert.equal(login.headers['cache-control'], 'no-store');
    assert.match(String(login.body.redirect_uri), /\/login\/return\?ticket=[A-Za-z0-9_-]{43}$/);
    assert.equal(loginReturn.status, 302);
    assert.ok(String(loginReturn.headers.location).startsWith(`${PRODUCT}/consent?`), `the login counts, and the browser goes on to consent: ${String(loginReturn.headers.location)}`);
    assert.equal(consent.status, 200);
    assert.ok(param(String(consent.body.redirect_uri), 'code'), 'the client gets a code');
    assert.equal(param(String(consent.body.redirect_uri), 'state'), 'same-state');
    // The audit trail of each completion: the same events, with the request's id and client address.
    for (const step of [login, consent]) {
      const [onFast, onFull] = [await eventsOf(gatehouse, step), await eventsOf(gatehouse, b.steps[a.steps.indexOf(step)]!)];
      assert.deepEqual(onFast.map((event) => [event.type, event.ip]), onFull.map((event) => [event.type, event.ip]));
      assert.ok(onFast.length > 0, 'the completion is audited');
    }
  });

  it('answers a consent completion whose interaction expired while its handle lives with the same invalid_grant JSON, not a page', async () => {
    const expire = async (id: string) => {
      await gatehouse.db.query(`UPDATE interactions SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    };
    const a = await flow(fast, expire);
    const b = await flow(full, expire);
    const [onFast, onFull] = [a.steps[3]!, b.steps[3]!];
    assertSameAnswer(onFast, onFull, 'consent completion of an expired interaction');
    assert.equal(onFast.status, 400);
    assert.equal(onFast.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(onFast.body.error, 'invalid_grant');
  });

  it('answers the steps’ errors the same: error pages, error redirects, 401s with their challenge, validation and media-type refusals', async () => {
    const valid = authorizationUrl(gatehouse.url, { client, resource: resource.resource, state: 's1', params: { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGF0jAw-cM' } });
    const path = (url: string) => url.slice(gatehouse.url.length);
    const bearer = { ...JSON_TYPE, authorization: `Bearer ${resource.registration_secret}` };
    const cases: Sent[] = [
      { path: '/authorize' },
      { path: '/authorize?client_id=nobody&response_type=code' },
      { path: path(valid.url).replace('code_challenge_method=S256', 'code_challenge_method=plain') },
      { path: path(valid.url).replace(/&scope=[^&]*/, '') + '&scope=tools%3Aadmin' },
      { path: `${path(valid.url)}&client_id=twice` },
      { path: `/interaction/${'A'.repeat(32)}` },
      { path: '/interaction/short' },
      { method: 'POST', path: '/api/login/complete', headers: JSON_TYPE, body: JSON.stringify({ external_auth_id: 'x', user: { id: 'u' } }) },
      { method: 'POST', path: '/api/login/complete', headers: { ...JSON_TYPE, authorization: 'Bearer wrong' }, body: '{}' },
      { method: 'POST', path: '/api/login/complete', headers: { ...bearer, 'content-type': 'application/x-www-form-urlencoded' }, body: 'external_auth_id=x' },
      { method: 'POST', path: '/api/login/complete', headers: bearer, body: JSON.stringify({ external_auth_id: 'x', user: { id: 'u' }, extra: 1 }) },
      { method: 'POST', path: '/api/login/complete', headers: bearer, body: JSON.stringify({ external_auth_id: 'x', user: { id: 'u' } }) },
      { method: 'POST', path: '/api/consent/complete', headers: bearer, body: JSON.stringify({ interaction_id: 'x', user_id: 'u', decision: 'maybe' }) },
      { method: 'POST', path: '/api/consent/complete', headers: bearer, body: JSON.stringify({ interaction_id: 'x', user_id: 'u', decision: 'approve' }) },
      { method: 'POST', path: '/api/consent/complete', headers: bearer, body: '{"interaction_id":' },
      { method: 'POST', path: '/api/consent/complete', headers: bearer },
    ];
    const statuses: number[] = [];
    for (const sent of cases) statuses.push((await sameThrough(fast, full, sent))[0].status);
    // Each kind of answer is among them: pages, redirects to the client, 400s and 401s.
    for (const status of [302, 400, 401]) assert.ok(statuses.includes(status), `a ${status} among ${statuses.join(' ')}`);
    const [page] = await sameThrough(fast, full, { path: `/interaction/${'A'.repeat(32)}` });
    assert.match(String(page.headers['content-type']), /^text\/html; charset=utf-8$/);
    assert.ok(page.headers['content-security-policy'], 'the page security headers');
  });

  it('labels the steps’ latency with the routes Nest registers, on both paths', async () => {
    const count = (method: string, route: string, status: number) =>
      metric(gatehouse, 'gatehouse_http_request_duration_seconds_count', { method, route, status: String(status) });
    const series: Array<[string, string, number]> = [
      ['GET', '/authorize', 302],
      ['POST', '/api/login/complete', 200],
      ['GET', '/interaction/:id/login/return', 302],
      ['POST', '/api/consent/complete', 200],
    ];
    const before = await Promise.all(series.map(([method, route, status]) => count(method, route, status)));
    await flow(fast);
    await flow(full);
    await eventually(async () => {
      const now = await Promise.all(series.map(([method, route, status]) => count(method, route, status)));
      // Two flows, one through each door: each step once per flow.
      return now.every((value, i) => value === before[i]! + 2) ? true : undefined;
    }, 'each step counted under its route on both paths', 3000);
  });
});

/** A guard the fast lane has no way to run: it is not a BeforeHandler. */
@Injectable()
class AuditorsOnlyGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

describe('fast lane (pglite): a fast route with a guard it cannot run', () => {
  it('stops the application at boot, naming the controller, the handler and the guard', async () => {
    // As if `@UseGuards(AuditorsOnlyGuard)` had been added to TokensController.token.
    const handler = TokensController.prototype.token;
    const guards: unknown = Reflect.getMetadata(GUARDS_METADATA, handler);
    Reflect.defineMetadata(GUARDS_METADATA, [AuditorsOnlyGuard], handler);
    try {
      await assert.rejects(startGatehouse(), { name: 'FastPathRefused', message: 'TokensController.token: @UseGuards(AuditorsOnlyGuard) is not honoured by the fast path' });
    } finally {
      if (guards === undefined) Reflect.deleteMetadata(GUARDS_METADATA, handler);
      else Reflect.defineMetadata(GUARDS_METADATA, guards, handler);
    }
  });
});
