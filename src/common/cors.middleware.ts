import { SetMetadata } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
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
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, MCP-Protocol-Version, X-Request-Id, DPoP');
    res.setHeader('Access-Control-Max-Age', '86400');
    res.status(204).end();
    return;
  }
  next();
}

/** The headers every answer on a public path carries (preflights get more: publicCors), as name, value pairs. */
export const ANY_ORIGIN_HEADERS: readonly string[] = ['Access-Control-Allow-Origin', '*', 'Access-Control-Expose-Headers', 'WWW-Authenticate, X-Request-Id, DPoP-Nonce'];

export function allowAnyOrigin(res: ServerResponse): void {
  for (let i = 0; i < ANY_ORIGIN_HEADERS.length; i += 2) res.setHeader(ANY_ORIGIN_HEADERS[i]!, ANY_ORIGIN_HEADERS[i + 1]!);
}

export const PUBLIC_CORS = 'gatehouse:public-cors';

/** The route answers cross-origin callers (publicCors). On a controller or a handler. */
export const PublicCors = () => SetMetadata(PUBLIC_CORS, true);

/** Whether a route was declared public: its handler's @PublicCors, else its controller's. */
export function isPublicCorsRoute(reflector: Reflector, handler: Function, controller: Function): boolean {
  return reflector.getAllAndOverride<boolean | undefined>(PUBLIC_CORS, [handler, controller]) === true;
}

/**
 * Whether a request path is one of the public routes' paths (as Nest registers them: `/register/:clientId`) as
 * Express's router would match it: in any case, with or without one trailing slash (`/TOKEN`, `/token/` reach the
 * token endpoint, so they answer cross-origin callers too). Decided before routing, so that preflights, which no
 * route answers, are decided the same way.
 */
export function publicPathMatcher(paths: readonly string[]): (path: string) => boolean {
  const patterns = paths.map((path) => {
    const source = path
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    return new RegExp(`^${source}/?$`, 'i');
  });
  return (path) => patterns.some((pattern) => pattern.test(path));
}

/** publicCors on the paths `isPublicPath` accepts (publicPathMatcher), for every method: preflights included. */
export function corsForPublicPaths(isPublicPath: (path: string) => boolean) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (isPublicPath(req.path)) publicCors(req, res, next);
    else next();
  };
}
