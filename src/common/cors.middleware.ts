import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/**
 * Browser-based MCP clients (e.g. MCP Inspector) call metadata, JWKS, registration and token endpoints from
 * another origin. None of them uses cookies, so a wildcard origin without credentials is safe.
 */
export function publicCors(req: Request, res: Response, next: NextFunction): void {
  allowAnyOrigin(res);
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, MCP-Protocol-Version, X-Request-Id');
    res.setHeader('Access-Control-Max-Age', '86400');
    res.status(204).end();
    return;
  }
  next();
}

/** The headers every answer on a public path carries (preflights get more: publicCors), as name, value pairs. */
export const ANY_ORIGIN_HEADERS: readonly string[] = ['Access-Control-Allow-Origin', '*', 'Access-Control-Expose-Headers', 'WWW-Authenticate, X-Request-Id'];

export function allowAnyOrigin(res: ServerResponse): void {
  for (let i = 0; i < ANY_ORIGIN_HEADERS.length; i += 2) res.setHeader(ANY_ORIGIN_HEADERS[i]!, ANY_ORIGIN_HEADERS[i + 1]!);
}

/** Paths that answer cross-origin requests. */
export const PUBLIC_CORS_PATHS: readonly string[] = [
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/.well-known/jwks.json',
  '/register',
  '/register/*path',
  '/token',
  '/revoke',
  '/api/oauth/token',
  '/api/oauth/revoke',
];

/**
 * Whether a request path is one of PUBLIC_CORS_PATHS as Express's router would match it: in any case, with or
 * without one trailing slash (`/TOKEN`, `/token/` reach the token endpoint, so they answer cross-origin callers too).
 */
export function isPublicCorsPath(path: string): boolean {
  const normal = (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase();
  return PUBLIC_CORS_PATHS.some((pattern) => (pattern.endsWith('/*path') ? normal.startsWith(pattern.slice(0, -'*path'.length)) : normal === pattern));
}
