import { HttpException, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { GATEHOUSE_GUARD_OPTIONS, type GatehouseGuardOptions } from './guard.options.js';
import { GATEHOUSE_PUBLIC, GATEHOUSE_SCOPE_RESOLVER, GATEHOUSE_SCOPES, type ScopeResolver } from './metadata.js';
import { GatehouseTokenVerifier } from './gatehouse-token-verifier.js';
import type { GatehouseAuth } from './token-verifier.js';
import { authorize, GatehouseAuthError, requestDpopCheck } from './verify-access-token.js';

interface GuardedRequest {
  method: string;
  url?: string;
  /** Express's full path, before any mount point was stripped from `url`. */
  originalUrl?: string;
  body?: unknown;
  headers: Record<string, string | string[] | undefined>;
  gatehouseAuth?: GatehouseAuth;
}

/**
 * Answers per the MCP authorization spec: no token → 401 with `WWW-Authenticate: Bearer resource_metadata=…,
 * scope=…`; a bad token → 401 with `error="invalid_token"`; missing scopes → 403 `insufficient_scope` naming every
 * scope the route needs, so the client can step up. CORS preflights pass untouched. Works on Express and Fastify.
 * The rules are `verifyAccessToken`'s; this guard only finds the scopes a route needs and renders the refusal.
 */
@Injectable()
export class GatehouseAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: GatehouseTokenVerifier,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(GATEHOUSE_GUARD_OPTIONS) private readonly options: GatehouseGuardOptions,
  ) {
    this.origin = new URL(verifier.resource).origin;
  }

  private readonly origin: string;

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const req = http.getRequest<GuardedRequest>();
    if (req.method === 'OPTIONS') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(GATEHOUSE_PUBLIC, targets)) return true;
    const resolver = this.reflector.getAllAndOverride<ScopeResolver | undefined>(GATEHOUSE_SCOPE_RESOLVER, targets);
    const fixed = this.reflector.getAllAndOverride<string[] | undefined>(GATEHOUSE_SCOPES, targets);
    const required = resolver ? resolver(req) : (fixed ?? this.options.requiredScopes ?? []);

    try {
      // A controller-level and a handler-level decorator both attach this guard: verify once per request.
      const verify = (token: string) => (req.gatehouseAuth?.token === token ? Promise.resolve(req.gatehouseAuth) : this.verifier.verify(token));
      // DPoP (RFC 9449): htu is the request's path on the resource's origin (the guard's public URL); a proof already
      // accepted for this request by the other level's guard is not checked (nor refused as a replay) again.
      const path = req.originalUrl ?? req.url ?? '/';
      const request = { method: req.method, url: `${this.origin}${path.startsWith('/') ? path : '/'}`, dpop: req.headers.dpop };
      const check = requestDpopCheck(this.verifier, request);
      const checkProof = (token: string, jkt: string) => (req.gatehouseAuth?.token === token ? Promise.resolve() : check(token, jkt));
      req.gatehouseAuth = await authorize(req.headers.authorization, required, this.verifier.resourceMetadataUrl, verify, checkProof);
      return true;
    } catch (error) {
      if (error instanceof GatehouseAuthError) this.reject(http.getResponse<unknown>(), error);
      throw error;
    }
  }

  private reject(res: unknown, error: GatehouseAuthError): never {
    const adapter = this.adapterHost.httpAdapter;
    for (const [name, value] of Object.entries(error.headers)) {
      // Appended, not set: the application may expose headers of its own (e.g. Mcp-Session-Id).
      if (name === 'Access-Control-Expose-Headers') adapter.appendHeader(res, name, value);
      else adapter.setHeader(res, name, value);
    }
    throw new HttpException(error.body, error.status);
  }
}
