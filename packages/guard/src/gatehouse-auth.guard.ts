import { HttpException, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { GATEHOUSE_GUARD_OPTIONS, type GatehouseGuardOptions } from './guard.options.js';
import { GATEHOUSE_PUBLIC, GATEHOUSE_SCOPE_RESOLVER, GATEHOUSE_SCOPES, type ScopeResolver } from './metadata.js';
import { bearerChallenge, protectedResourceMetadataUrl, type ChallengeParts } from './challenge.js';
import { AuthorizationServerUnavailable, GatehouseTokenVerifier, TokenRejected, type GatehouseAuth } from './token-verifier.js';

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

interface GuardedRequest {
  method: string;
  body?: unknown;
  headers: Record<string, string | string[] | undefined>;
  gatehouseAuth?: GatehouseAuth;
}

/**
 * Answers per the MCP authorization spec: no token → 401 with `WWW-Authenticate: Bearer resource_metadata=…,
 * scope=…`; a bad token → 401 with `error="invalid_token"`; missing scopes → 403 `insufficient_scope` naming every
 * scope the route needs, so the client can step up. CORS preflights pass untouched. Works on Express and Fastify.
 */
@Injectable()
export class GatehouseAuthGuard implements CanActivate {
  private readonly resourceMetadata: string;

  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: GatehouseTokenVerifier,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(GATEHOUSE_GUARD_OPTIONS) private readonly options: GatehouseGuardOptions,
  ) {
    this.resourceMetadata = protectedResourceMetadataUrl(options.resource);
  }

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
    const res = http.getResponse<unknown>();

    const header = req.headers.authorization;
    const value = Array.isArray(header) ? undefined : header;
    if (!value || !/^Bearer\s/i.test(value)) this.reject(res, 401, { scope: required }, 'invalid_token', 'a bearer token is required');
    const token = BEARER.exec(value!.trim())?.[1];
    if (!token) this.reject(res, 400, { error: 'invalid_request', scope: required }, 'invalid_request', 'malformed Authorization header');

    let auth: GatehouseAuth;
    try {
      // A controller-level and a handler-level decorator both attach this guard: verify once per request.
      auth = req.gatehouseAuth?.token === token ? req.gatehouseAuth : await this.verifier.verify(token!);
    } catch (error) {
      if (error instanceof TokenRejected) {
        this.reject(res, 401, { error: 'invalid_token', errorDescription: error.message, scope: required }, 'invalid_token', error.message);
      }
      if (error instanceof AuthorizationServerUnavailable) {
        throw new HttpException({ error: 'temporarily_unavailable', error_description: error.message }, 503);
      }
      throw error;
    }
    const missing = required.filter((scope) => !auth!.scopes.includes(scope));
    if (missing.length) {
      const description = `this request needs scope ${missing.join(' ')}`;
      this.reject(res, 403, { error: 'insufficient_scope', errorDescription: description, scope: required }, 'insufficient_scope', description);
    }
    req.gatehouseAuth = auth!;
    return true;
  }

  private reject(res: unknown, status: number, challenge: Omit<ChallengeParts, 'resourceMetadata'>, error: string, description: string): never {
    const adapter = this.adapterHost.httpAdapter;
    adapter.setHeader(res, 'WWW-Authenticate', bearerChallenge({ ...challenge, resourceMetadata: this.resourceMetadata }));
    // Appended, not set: the application may expose headers of its own (e.g. Mcp-Session-Id).
    adapter.appendHeader(res, 'Access-Control-Expose-Headers', 'WWW-Authenticate');
    adapter.setHeader(res, 'Cache-Control', 'no-store');
    // A request without any token gets a challenge but no error code (RFC 6750 §3.1).
    const body = status === 401 && !challenge.error ? { error: 'unauthorized', error_description: description } : { error, error_description: description };
    throw new HttpException(body, status);
  }
}
