import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import express from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthTokenVerifier } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import { GatehouseGuardModule, Protected, protectedResourceMetadataUrl } from 'gatehouse-guard';
import type { ServerConfig } from './protocol.js';
import { serveChild } from '../child.js';

/**
 * One benchmark server, in a process of its own: `GET /mcp` answering `{ ok: true }`, unguarded (plain), behind
 * gatehouse-guard (with and without its token cache), or behind the MCP SDK's requireBearerAuth with a jose verifier
 * that makes the same checks as the guard. Sends `{ port }` to the orchestrator once it listens.
 */
const config = JSON.parse(process.env.BENCH_SERVER ?? '{}') as ServerConfig;
const REQUIRED_SCOPES = ['a'];
/** The algorithms gatehouse-guard accepts (asymmetric only), so both verifiers check the same things. */
const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA'];

@Controller('mcp')
class PlainController {
  @Get()
  get(): { ok: true } {
    return { ok: true };
  }
}

@Controller('mcp')
@Protected()
class GuardedController {
  @Get()
  get(): { ok: true } {
    return { ok: true };
  }
}

@Module({})
class BenchModule {
  static forVariant(variant: 'plain' | 'guard' | 'guard-uncached'): DynamicModule {
    if (variant === 'plain') return { module: BenchModule, controllers: [PlainController] };
    const guard = GatehouseGuardModule.forRoot({
      issuer: config.issuer,
      resource: config.resource,
      jwksUri: config.jwksUri,
      requiredScopes: REQUIRED_SCOPES,
      scopesSupported: ['a', 'b'],
      ...(variant === 'guard-uncached' ? { cacheMaxEntries: 0 } : {}),
    });
    return { module: BenchModule, imports: [guard], controllers: [GuardedController] };
  }
}

/** What a team would write for requireBearerAuth: the guard's checks, done with jose on every request. */
function joseVerifier(): OAuthTokenVerifier {
  const jwks = createRemoteJWKSet(new URL(config.jwksUri), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  const resource = new URL(config.resource);
  return {
    async verifyAccessToken(token) {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          issuer: config.issuer,
          audience: resource.href,
          typ: 'at+jwt',
          algorithms: ALGORITHMS,
          clockTolerance: 5,
          requiredClaims: ['exp', 'iat', 'sub'],
        }));
      } catch {
        throw new InvalidTokenError('invalid token');
      }
      if (typeof payload.client_id !== 'string' || !payload.sub) throw new InvalidTokenError('token lacks sub or client_id');
      const scopes = (typeof payload.scope === 'string' ? payload.scope : '').split(' ').filter(Boolean);
      return { token, clientId: payload.client_id, scopes, expiresAt: payload.exp, resource, extra: { sub: payload.sub } };
    },
  };
}

async function start(): Promise<number> {
  if (config.variant === 'sdk') {
    const app = express();
    const auth = requireBearerAuth({
      verifier: joseVerifier(),
      requiredScopes: REQUIRED_SCOPES,
      resourceMetadataUrl: protectedResourceMetadataUrl(config.resource),
      expectedResource: new URL(config.resource),
    });
    app.get('/mcp', auth, (_req, res) => {
      res.json({ ok: true });
    });
    const server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    return (server.address() as AddressInfo).port;
  }
  const app = await NestFactory.create(BenchModule.forVariant(config.variant), { logger: false });
  await app.listen(0, '127.0.0.1');
  return (app.getHttpServer().address() as AddressInfo).port;
}

serveChild(start);
