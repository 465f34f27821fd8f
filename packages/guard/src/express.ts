/**
 * gatehouse-guard/express — the guard as Express (4 or 5) or Connect middleware, for MCP servers built on the MCP
 * SDK's Streamable HTTP transport without NestJS. Written against `node:http` types only: Express is never imported.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ScopeResolver } from './metadata.js';
import { mcpAuthInfo, type McpAuthInfo } from './mcp-auth-info.js';
import type { GatehouseGuardOptions } from './options.js';
import { PROTECTED_RESOURCE_METADATA_HEADERS, protectedResourceMetadata, protectedResourceMetadataPaths } from './protected-resource-metadata.js';
import { AccessTokenVerifier, type GatehouseAuth } from './token-verifier.js';
import { GatehouseAuthError, sendAuthError, verifyAccessToken } from './verify-access-token.js';

export * from './core.js';

/** What the middleware reads from a request and sets on it. Express's `Request` fits. */
export interface GatehouseRequest extends IncomingMessage {
  /** Express's full path, before any mount point was stripped from `url`. */
  originalUrl?: string;
  /** The parsed JSON body (`express.json()`), which a `ScopeResolver` such as `mcpToolScopes` reads. */
  body?: unknown;
  /** Set once the token passes, in the MCP SDK's `AuthInfo` shape: the transport hands it to tools as `extra.authInfo`. */
  auth?: McpAuthInfo;
  /** Set once the token passes: the caller as NestJS's `@AuthContext()` gives it. */
  gatehouseAuth?: GatehouseAuth;
}

export type NextFunction = (error?: unknown) => void;
export type GatehouseMiddleware = (req: GatehouseRequest, res: ServerResponse, next: NextFunction) => void;

/** Either the guard's options (a verifier is built from them) or a verifier shared with other middleware. */
export type GatehouseVerifierSource = Omit<GatehouseGuardOptions, 'requiredScopes'> | { verifier: AccessTokenVerifier };

export type RequireGatehouseAuthOptions = GatehouseVerifierSource & {
  /**
   * The scopes each request needs: a list, or computed per request — for MCP's single endpoint,
   * `mcpToolScopes({ create_note: ['notes:write'] }, ['notes:read'])`. Default: the verifier's `requiredScopes`.
   */
  requiredScopes?: readonly string[] | ScopeResolver;
};

function verifierOf(source: GatehouseVerifierSource & { requiredScopes?: unknown }): AccessTokenVerifier {
  if ('verifier' in source) return source.verifier;
  const { requiredScopes: _perRequest, ...options } = source;
  return new AccessTokenVerifier(options);
}

/**
 * Lets a request through only with a valid Gatehouse access token for this resource carrying the required scopes
 * (the rules of `verifyAccessToken`), and sets `req.auth` and `req.gatehouseAuth`. Refusals are answered here:
 * 401 with `WWW-Authenticate: Bearer …, resource_metadata="…"` (the start of MCP authorization), 403
 * `insufficient_scope` naming every scope needed (step-up), 400 for a malformed header, 503 when Gatehouse's keys
 * cannot be fetched. CORS preflights pass. Put it after `express.json()` when the scopes come from the body.
 *
 * ```ts
 * app.post('/mcp', requireGatehouseAuth({ issuer, resource, requiredScopes: ['notes:read'] }), mcpHandler);
 * ```
 */
export function requireGatehouseAuth(options: RequireGatehouseAuthOptions): GatehouseMiddleware {
  const verifier = verifierOf(options);
  const scopes = options.requiredScopes;
  const origin = new URL(verifier.resource).origin;
  return (req, res, next) => {
    // A preflight carries no credentials; refusing it would keep browser-based clients from ever sending one.
    if (req.method === 'OPTIONS') return next();
    let required: readonly string[];
    try {
      required = typeof scopes === 'function' ? scopes({ body: req.body, method: req.method ?? 'GET', headers: req.headers }) : (scopes ?? verifier.options.requiredScopes ?? []);
    } catch (error) {
      return next(error);
    }
    const request = { method: req.method ?? 'GET', url: requestUrl(origin, req.originalUrl ?? req.url), dpop: req.headers.dpop };
    verifyAccessToken(req.headers.authorization, { verifier, requiredScopes: required, request }).then(
      (auth) => {
        req.gatehouseAuth = auth;
        req.auth = mcpAuthInfo(auth, verifier.resource);
        next();
      },
      (error: unknown) => {
        if (error instanceof GatehouseAuthError) sendAuthError(res, error);
        else next(error);
      },
    );
  };
}

/**
 * The verified caller of a request `requireGatehouseAuth` let through, typed without augmenting Express's `Request`
 * (as NestJS's `@AuthContext()`). Throws on a request the middleware did not pass: that is a wiring mistake.
 */
export function getGatehouseAuth(req: IncomingMessage): GatehouseAuth {
  const auth = (req as GatehouseRequest).gatehouseAuth;
  if (!auth) throw new Error('getGatehouseAuth() called on a request that requireGatehouseAuth() did not let through');
  return auth;
}

/**
 * Serves the Protected Resource Metadata (RFC 9728) at `/.well-known/oauth-protected-resource` and at the
 * path-suffixed URL the challenges name (`/.well-known/oauth-protected-resource/mcp` for `…/mcp`); other requests
 * go on. Mount it at the application's root: `app.use(serveProtectedResourceMetadata({ issuer, resource }))`.
 */
export function serveProtectedResourceMetadata(source: GatehouseVerifierSource): GatehouseMiddleware {
  const options = 'verifier' in source ? source.verifier.options : source;
  const body = JSON.stringify(protectedResourceMetadata(options));
  const paths = new Set(protectedResourceMetadataPaths(options.resource));
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const path = (req.originalUrl ?? req.url ?? '').split('?')[0] ?? '';
    if (!paths.has(path)) return next();
    res.writeHead(200, PROTECTED_RESOURCE_METADATA_HEADERS);
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** The request's absolute URL on the resource's origin (not the Host header, which a proxy may have rewritten). */
function requestUrl(origin: string, path: string | undefined): string {
  return path?.startsWith('/') ? `${origin}${path}` : `${origin}/`;
}
