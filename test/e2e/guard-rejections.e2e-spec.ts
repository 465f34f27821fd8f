import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Body, Controller, Get, HttpCode, HttpException, Module, Post, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { decodeJwt, exportSPKI, SignJWT } from 'jose';
import {
  AuthContext,
  GatehouseAuthGuard,
  GatehouseGuardModule,
  mcpToolScopes,
  Protected,
  Public,
  RequireScopes,
  RequireScopesFor,
  type GatehouseAuth,
  type GatehouseGuardOptions,
} from 'gatehouse-guard';
import { FakeIssuer, signingKey } from '../fakes/fake-issuer.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { registerClient } from '../support/flows.js';
import { freePort } from '../support/net.js';

/**
 * Every way gatehouse-guard refuses a request, on the Express and the Fastify adapters, against a fake issuer (a
 * JWKS on loopback that counts its fetches, keys and tokens made at run time). Each refusal is checked by status
 * and by the exact WWW-Authenticate header an MCP client reads. The revocation check runs against a real Gatehouse.
 */

const COOLDOWN_MS = 200;
const ADAPTERS = ['express', 'fastify'] as const;
type AdapterName = (typeof ADAPTERS)[number];

@Controller('mcp')
@Protected()
class ProbeController {
  @Get('protected')
  guarded(): { ok: true } {
    return { ok: true };
  }

  @Get('needs-b')
  @RequireScopes('b')
  needsB(): { ok: true } {
    return { ok: true };
  }

  @Get('public')
  @Public()
  open(): { open: true } {
    return { open: true };
  }

  /** Echoes the caller (a test probe may send the token back; a real server never would). */
  @Get('me')
  me(@AuthContext() auth: GatehouseAuth): Pick<GatehouseAuth, 'sub' | 'clientId' | 'scopes' | 'token'> & { jti: unknown } {
    return { sub: auth.sub, clientId: auth.clientId, scopes: auth.scopes, token: auth.token, jti: auth.claims.jti };
  }

  /** An MCP-style endpoint: the scopes come from the JSON-RPC body, so this also proves the guard sees the body. */
  @Post('rpc')
  @HttpCode(200)
  @RequireScopesFor(mcpToolScopes({ write_thing: ['b'] }, ['a']))
  rpc(@Body() body: unknown): { received: unknown } {
    return { received: body };
  }
}

@Module({})
class ProbeModule {
  static forRoot(options: GatehouseGuardOptions): DynamicModule {
    return { module: ProbeModule, imports: [GatehouseGuardModule.forRoot(options)], controllers: [ProbeController] };
  }
}

interface Probe {
  app: INestApplication;
  origin: string;
  resource: string;
  prm: string;
}

/** A free loopback port for a probe app, and the resource URL it will have there. */
async function probeAddress(): Promise<{ port: number; resource: string }> {
  const port = await freePort();
  return { port, resource: `http://127.0.0.1:${port}/mcp` };
}

/** The probe app on `port`, its resource being `http://127.0.0.1:<port>/mcp`, with CORS on. */
async function startProbe(adapter: AdapterName, port: number, options: GatehouseGuardOptions): Promise<Probe> {
  const origin = `http://127.0.0.1:${port}`;
  const resource = `${origin}/mcp`;
  assert.equal(options.resource, resource);
  const module = ProbeModule.forRoot(options);
  const app =
    adapter === 'express'
      ? await NestFactory.create(module, new ExpressAdapter(), { logger: false })
      : await NestFactory.create(module, new FastifyAdapter(), { logger: false });
  // The application exposes a header of its own; the guard must add WWW-Authenticate, not replace the list.
  app.enableCors({ exposedHeaders: ['Mcp-Session-Id'] });
  await app.listen(port, '127.0.0.1');
  return { app, origin, resource, prm: `${origin}/.well-known/oauth-protected-resource/mcp` };
}

interface Answer {
  status: number;
  challenge: string | null;
  exposed: string | null;
  cacheControl: string | null;
  body: any;
}

async function call(probe: Probe, path: string, init: { token?: string; authorization?: string; method?: string; body?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${probe.origin}${path}`, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const text = await response.text();
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    exposed: response.headers.get('access-control-expose-headers'),
    cacheControl: response.headers.get('cache-control'),
    body: text ? JSON.parse(text) : undefined,
  };
}

/** Asserts a refusal: its status, its exact challenge, that browsers may read the challenge, and that no cache keeps it. */
function assertRefused(answer: Answer, status: number, challenge: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.challenge, challenge);
  assert.deepEqual(answer.exposed?.split(',').map((name) => name.trim()).sort(), ['Mcp-Session-Id', 'WWW-Authenticate']);
  assert.equal(answer.cacheControl, 'no-store');
}

function invalidToken(probe: Probe, description: string, scope = 'a'): string {
  return `Bearer error="invalid_token", error_description="${description}", scope="${scope}", resource_metadata="${probe.prm}"`;
}

/** Long enough for the JWKS cool-down (counted from the last successful fetch) to be over. */
const pastCooldown = () => sleep(COOLDOWN_MS + 150);

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function randomKid(): string {
  return `unknown-${randomBytes(8).toString('hex')}`;
}

for (const adapter of ADAPTERS) {
  describe(`gatehouse-guard refusals on the ${adapter} adapter`, () => {
    let issuer: FakeIssuer;
    let probe: Probe;

    before(async () => {
      const { port, resource } = await probeAddress();
      issuer = await (await FakeIssuer.create(resource)).start();
      probe = await startProbe(adapter, port, {
        issuer: issuer.issuer,
        resource,
        jwksUri: issuer.jwksUri,
        requiredScopes: ['a'],
        scopesSupported: ['a', 'b'],
        resourceName: 'Probe',
        jwks: { cooldownMs: COOLDOWN_MS },
      });
    });
    after(async () => {
      await probe?.app.close();
      await issuer?.stop();
    });

    it('serves Protected Resource Metadata at the path-suffixed and the root well-known URLs, unguarded', async () => {
      for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
        const response = await fetch(`${probe.origin}${path}`);
        assert.equal(response.status, 200, path);
        assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
        assert.equal(response.headers.get('cache-control'), 'public, max-age=300');
        assert.equal(response.headers.get('access-control-allow-origin'), '*');
        assert.deepEqual(await response.json(), {
          resource: probe.resource,
          authorization_servers: [issuer.issuer],
          bearer_methods_supported: ['header'],
          dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA'],
          scopes_supported: ['a', 'b'],
          resource_name: 'Probe',
        });
      }
      assert.equal((await fetch(`${probe.origin}/.well-known/oauth-protected-resource/other`)).status, 404);
    });

    it('no Authorization header: 401 with a challenge naming the scope and the PRM, and no error code', async () => {
      const answer = await call(probe, '/mcp/protected');
      assertRefused(answer, 401, `Bearer scope="a", resource_metadata="${probe.prm}"`);
      assert.equal(answer.body.error, 'unauthorized');
    });

    it('another scheme (Basic): 401 like no token at all', async () => {
      const answer = await call(probe, '/mcp/protected', { authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` });
      assertRefused(answer, 401, `Bearer scope="a", resource_metadata="${probe.prm}"`);
    });

    it('a malformed bearer credential: 400 invalid_request', async () => {
      for (const authorization of ['Bearer not a token', 'Bearer abc,def', 'Bearer "quoted"']) {
        const answer = await call(probe, '/mcp/protected', { authorization });
        assertRefused(answer, 400, `Bearer error="invalid_request", scope="a", resource_metadata="${probe.prm}"`);
        assert.equal(answer.body.error, 'invalid_request', authorization);
      }
    });

    it('a valid token passes, and @AuthContext() gives sub, clientId and scopes', async () => {
      const token = await issuer.sign({ claims: { sub: 'user-42', client_id: 'client-7', scope: 'a b' } });
      assert.deepEqual((await call(probe, '/mcp/protected', { token })).body, { ok: true });
      const me = await call(probe, '/mcp/me', { token });
      assert.equal(me.status, 200);
      assert.equal(me.challenge, null);
      assert.deepEqual(me.body, { sub: 'user-42', clientId: 'client-7', scopes: ['a', 'b'], token, jti: decodeJwt(token).jti });
      assert.equal((await call(probe, '/mcp/needs-b', { token })).status, 200);
    });

    it('@Public() opts a handler out of its controller-level @Protected()', async () => {
      const answer = await call(probe, '/mcp/public');
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, { open: true });
      assert.equal(answer.challenge, null);
    });

    it('a CORS preflight to a protected route is never 401, and the guard itself lets OPTIONS through', async () => {
      const preflight = await fetch(`${probe.origin}/mcp/protected`, {
        method: 'OPTIONS',
        headers: { origin: 'https://inspector.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('www-authenticate'), null);
      assert.ok(preflight.headers.get('access-control-allow-origin'));

      // Behind a CORS layer that lets preflights continue (or on an @All() route), the guard sees OPTIONS itself.
      const guard = probe.app.get(GatehouseAuthGuard, { strict: false });
      const headers = new Map<string, string>();
      // A response both adapters can set and append headers on (Express: set/append; Fastify: header/getHeader).
      const set = (name: string, value: string) => headers.set(name, value);
      const append = (name: string, value: string) => headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
      const response = { set, setHeader: set, header: set, append, getHeader: (name: string) => headers.get(name) };
      const context = (method: string) => new ExecutionContextHost([{ method, headers: {} }, response], ProbeController, ProbeController.prototype.guarded);
      assert.equal(await guard.canActivate(context('OPTIONS')), true);
      assert.equal(headers.size, 0);
      await assert.rejects(guard.canActivate(context('GET')), (error: unknown) => error instanceof HttpException && error.getStatus() === 401);
      assert.equal(headers.get('WWW-Authenticate'), `Bearer scope="a", resource_metadata="${probe.prm}"`);
    });

    it('a bad signature (another key under the published kid): 401 invalid_token', async () => {
      const forger = await signingKey(issuer.key.kid);
      const token = await issuer.sign({ key: forger });
      assertRefused(await call(probe, '/mcp/protected', { token }), 401, invalidToken(probe, 'token signature is invalid'));
    });

    it('a tampered payload under a genuine signature: 401 invalid_token', async () => {
      const [header, , signature] = (await issuer.sign()).split('.');
      const forged = base64url({ iss: issuer.issuer, aud: probe.resource, sub: 'admin', client_id: 'client-1', scope: 'a b', iat: 1, exp: 4_000_000_000 });
      assertRefused(await call(probe, '/mcp/protected', { token: `${header}.${forged}.${signature}` }), 401, invalidToken(probe, 'token signature is invalid'));
    });

    it('alg: none (an unsigned token): 401 invalid_token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = `${base64url({ alg: 'none', typ: 'at+jwt', kid: issuer.key.kid })}.${base64url({ iss: issuer.issuer, aud: probe.resource, sub: 'user-1', client_id: 'client-1', scope: 'a', iat: now, exp: now + 300 })}.`;
      assertRefused(await call(probe, '/mcp/protected', { token }), 401, invalidToken(probe, 'token algorithm is not allowed'));
    });

    it('HS256 signed with the public key as the HMAC secret (algorithm confusion): 401 invalid_token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: issuer.issuer, aud: probe.resource, sub: 'user-1', client_id: 'client-1', scope: 'a', iat: now, exp: now + 300 };
      const secrets = [new TextEncoder().encode(await exportSPKI(issuer.key.publicKey)), new TextEncoder().encode(JSON.stringify(issuer.key.publicJwk))];
      for (const secret of secrets) {
        const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: issuer.key.kid }).sign(secret);
        assertRefused(await call(probe, '/mcp/protected', { token }), 401, invalidToken(probe, 'token algorithm is not allowed'));
      }
    });

    it('typ JWT instead of at+jwt (e.g. an ID token): 401 invalid_token', async () => {
      for (const typ of ['JWT', 'application/jwt']) {
        const token = await issuer.sign({ header: { typ } });
        assertRefused(await call(probe, '/mcp/protected', { token }), 401, invalidToken(probe, 'token is not an access token (typ must be at+jwt)'));
      }
      const untyped = await issuer.sign({ header: { typ: undefined } });
      assertRefused(await call(probe, '/mcp/protected', { token: untyped }), 401, invalidToken(probe, 'token is not an access token (typ must be at+jwt)'));
    });

    it('another issuer: 401 invalid_token', async () => {
      const token = await issuer.sign({ claims: { iss: 'https://evil.example' } });
      assertRefused(await call(probe, '/mcp/protected', { token }), 401, invalidToken(probe, 'token was issued by another authorization server'));
    });

    it('a token for another resource (no passthrough): 401 invalid_token', async () => {
      for (const aud of [`${probe.origin}/other-mcp`, 'https://other.example.com/mcp', [`${probe.origin}/other-mcp`]]) {
        const token = await issuer.sign({ claims: { aud } });
        assertRefused(await call(probe, '/mcp/protected', { token }), 401, invalidToken(probe, 'token was issued for another resource'));
      }
    });

    it('expired (beyond the 5 s tolerance): 401 invalid_token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await issuer.sign({ claims: { iat: now - 600, exp: now - 30 } });
      assertRefused(await call(probe, '/mcp/protected', { token }), 401, invalidToken(probe, 'token has expired'));
    });

    it('not yet valid (nbf beyond the 5 s tolerance): 401 invalid_token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await issuer.sign({ claims: { nbf: now + 60 } });
      assertRefused(await call(probe, '/mcp/protected', { token }), 401, invalidToken(probe, 'token is not yet valid'));
    });

    it('a token without exp, or without client_id: 401 invalid_token', async () => {
      const noExp = await issuer.sign({ claims: { exp: undefined } });
      assertRefused(await call(probe, '/mcp/protected', { token: noExp }), 401, invalidToken(probe, 'token claim exp is invalid'));
      const noClient = await issuer.sign({ claims: { client_id: undefined } });
      assertRefused(await call(probe, '/mcp/protected', { token: noClient }), 401, invalidToken(probe, 'token lacks sub or client_id'));
    });

    it('a missing scope: 403 insufficient_scope naming every scope the route needs', async () => {
      const onlyA = await issuer.sign({ claims: { scope: 'a' } });
      assertRefused(
        await call(probe, '/mcp/needs-b', { token: onlyA }),
        403,
        `Bearer error="insufficient_scope", error_description="this request needs scope b", scope="b", resource_metadata="${probe.prm}"`,
      );
      const onlyB = await issuer.sign({ claims: { scope: 'b' } });
      assertRefused(
        await call(probe, '/mcp/protected', { token: onlyB }),
        403,
        `Bearer error="insufficient_scope", error_description="this request needs scope a", scope="a", resource_metadata="${probe.prm}"`,
      );
      assert.equal((await call(probe, '/mcp/needs-b', { token: onlyB })).status, 200, '@RequireScopes replaces the module defaults');
    });

    it('per-tool scopes from the JSON-RPC body: calling a tool that needs b without it is 403 scope="a b"', async () => {
      const onlyA = await issuer.sign({ claims: { scope: 'a' } });
      const write = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'write_thing', arguments: {} } };
      assertRefused(
        await call(probe, '/mcp/rpc', { method: 'POST', token: onlyA, body: write }),
        403,
        `Bearer error="insufficient_scope", error_description="this request needs scope b", scope="a b", resource_metadata="${probe.prm}"`,
      );
      const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
      assert.deepEqual((await call(probe, '/mcp/rpc', { method: 'POST', token: onlyA, body: list })).body, { received: list });
      const both = await issuer.sign({ claims: { scope: 'a b' } });
      assert.equal((await call(probe, '/mcp/rpc', { method: 'POST', token: both, body: write })).status, 200);
    });

    it('a tools/call naming an Object.prototype member, without a token: 401, not a 500 from the scope resolver', async () => {
      for (const name of ['constructor', '__proto__', 'toString']) {
        const body = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } };
        assertRefused(await call(probe, '/mcp/rpc', { method: 'POST', body }), 401, `Bearer scope="a", resource_metadata="${probe.prm}"`);
      }
    });

    it('an unknown kid makes the guard refetch the JWKS once, and the token passes if its key is now published', async () => {
      const rotated = await signingKey();
      const token = await issuer.sign({ key: rotated });
      await pastCooldown();
      issuer.publish(rotated);
      const before = issuer.fetches;
      assert.equal((await call(probe, '/mcp/protected', { token })).status, 200);
      assert.equal(issuer.fetches - before, 1, 'exactly one refetch');
      // The new key is now known: another token under it needs no fetch.
      assert.equal((await call(probe, '/mcp/protected', { token: await issuer.sign({ key: rotated }) })).status, 200);
      assert.equal(issuer.fetches - before, 1);
    });

    it('an unknown kid that stays unknown: one refetch, then 401 invalid_token', async () => {
      const stranger = await signingKey();
      await pastCooldown();
      const before = issuer.fetches;
      assertRefused(await call(probe, '/mcp/protected', { token: await issuer.sign({ key: stranger }) }), 401, invalidToken(probe, 'token was signed with an unknown key'));
      assert.equal(issuer.fetches - before, 1);
    });

    it('a flood of 20 tokens with random unknown kids: at most one refetch per cool-down', async () => {
      const tokens = await Promise.all(Array.from({ length: 20 }, () => issuer.sign({ header: { kid: randomKid() } })));
      await pastCooldown();
      const before = issuer.fetches;
      const started = performance.now();
      const answers = await Promise.all(tokens.map((token) => call(probe, '/mcp/protected', { token })));
      const elapsed = performance.now() - started;
      for (const answer of answers) assertRefused(answer, 401, invalidToken(probe, 'token was signed with an unknown key'));
      const refetches = issuer.fetchedAt.slice(before);
      assert.ok(refetches.length >= 1, 'the first unknown kid after the cool-down refetches');
      assert.ok(refetches.length <= 1 + Math.floor(elapsed / COOLDOWN_MS), `${refetches.length} refetches in ${elapsed.toFixed(0)} ms`);
      const times = issuer.fetchedAt.slice(before - 1);
      for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= COOLDOWN_MS, 'no two JWKS fetches within one cool-down');
    });

    it('a token seen before is not verified again: it still passes after its key left the JWKS, a new one does not', async () => {
      const retiring = await signingKey();
      await pastCooldown();
      issuer.publish(retiring);
      const seen = await issuer.sign({ key: retiring, claims: { sub: 'cached-user' } });
      assert.equal((await call(probe, '/mcp/me', { token: seen })).status, 200);

      // Withdraw the key, and make the verifier reload its key set (an unknown kid after the cool-down).
      issuer.unpublish(retiring);
      await pastCooldown();
      const before = issuer.fetches;
      assert.equal((await call(probe, '/mcp/protected', { token: await issuer.sign({ header: { kid: randomKid() } }) })).status, 401);
      assert.equal(issuer.fetches - before, 1, 'the verifier now holds a key set without the retired key');

      // Verifying `seen` again would need the retired key: it passes only because it is not verified again.
      const again = await call(probe, '/mcp/me', { token: seen });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.sub, 'cached-user');
      assert.equal(issuer.fetches - before, 1, 'no JWKS fetch for a remembered token');
      const fresh = await issuer.sign({ key: retiring, claims: { sub: 'cached-user' } });
      assertRefused(await call(probe, '/mcp/protected', { token: fresh }), 401, invalidToken(probe, 'token was signed with an unknown key'));
    });

    it('the JWKS unreachable or failing: 503, not 401; tokens under keys already held still pass', async () => {
      try {
        for (const mode of ['reset', 'error', 'not-a-key-set'] as const) {
          issuer.mode = mode;
          await pastCooldown();
          const before = issuer.fetches;
          const answer = await call(probe, '/mcp/protected', { token: await issuer.sign({ header: { kid: randomKid() } }) });
          assert.equal(answer.status, 503, `${mode}: ${JSON.stringify(answer.body)}`);
          assert.equal(answer.body.error, 'temporarily_unavailable');
          assert.equal(answer.challenge, null, 'not a token problem: no challenge');
          assert.equal(issuer.fetches - before, 1, `${mode}: the guard did try the JWKS`);
          assert.equal((await call(probe, '/mcp/protected', { token: await issuer.sign() })).status, 200, `${mode}: the cached key set still verifies`);
        }
      } finally {
        issuer.mode = 'up';
      }
    });
  });
}

describe('gatehouse-guard with the introspection check, against a real Gatehouse', () => {
  let gatehouse: RunningGatehouse;
  const probes = new Map<AdapterName, Probe & { secret: string; clientId: string }>();

  before(async () => {
    gatehouse = await startGatehouse();
    for (const adapter of ADAPTERS) {
      const { port, resource } = await probeAddress();
      const { registration_secret: secret } = await createResource(gatehouse, { name: `Probe on ${adapter}`, resource, scopes: ['a', 'b'], default_scopes: ['a'] });
      const probe = await startProbe(adapter, port, {
        issuer: gatehouse.url,
        resource,
        requiredScopes: ['a'],
        scopesSupported: ['a', 'b'],
        revocation: { mode: 'introspect', registrationSecret: secret, cacheTtlMs: 0 },
      });
      probes.set(adapter, { ...probe, secret, clientId: (await registerClient(gatehouse)).client_id });
    }
  });
  after(async () => {
    for (const probe of probes.values()) await probe.app.close();
    await gatehouse?.close();
  });

  for (const adapter of ADAPTERS) {
    it(`${adapter}: a token revoked at Gatehouse is refused at once: 401 invalid_token "token has been revoked"`, async () => {
      const probe = probes.get(adapter)!;
      const minted = await fetch(`${gatehouse.url}/api/oauth/token/exchange`, {
        method: 'POST',
        headers: { authorization: `Bearer ${probe.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: probe.clientId, subject: 'user-revoked', scopes: ['a'] }),
      });
      assert.equal(minted.status, 200);
      const { access_token: token } = (await minted.json()) as { access_token: string };

      const live = await call(probe, '/mcp/me', { token });
      assert.equal(live.status, 200, JSON.stringify(live.body));
      assert.deepEqual(live.body.scopes, ['a']);

      const revoked = await fetch(`${gatehouse.url}/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${probe.secret}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
      assert.equal(revoked.status, 200);

      assertRefused(await call(probe, '/mcp/me', { token }), 401, invalidToken(probe, 'token has been revoked'));
    });
  }
});
