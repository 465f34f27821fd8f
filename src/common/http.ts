import { STATUS_CODES, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import encodeUrl from 'encodeurl';
import { OAuthError, TemporarilyUnavailable, TooManyRequests } from './oauth-errors.js';

/**
 * What the services read from a request. Express's Request has all of it, and so does the fast lane's plain
 * IncomingMessage (src/fast-lane/fast-lane.ts): code below the controllers works the same behind either.
 */
export interface HttpRequest {
  readonly method?: string;
  readonly url?: string;
  readonly headers: IncomingHttpHeaders;
  readonly socket: { readonly remoteAddress?: string };
  /** The client address: the peer's, or what a trusted proxy forwarded (TRUSTED_PROXIES). */
  readonly ip?: string;
  /** The parsed body (src/common/body-parser.ts), when the request had one of the parsed media types. */
  body?: unknown;
  requestId?: string;
  /** Who is asking (attachRequestContext, src/common/request-context.middleware.ts): read with contextOf. */
  context?: RequestContext;
}

/**
 * Who is asking, for the audit events a request causes: passed down explicitly (contextOf(req)) to the services
 * that record them. Absent outside any request (the CLI, background jobs).
 */
export interface RequestContext {
  readonly requestId: string;
  /** The client address: the peer's, or what a trusted proxy forwarded (TRUSTED_PROXIES). */
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/** Every OAuth response, success or error, must not be cached (RFC 6749 §5.1, §5.2). */
export function noStore(res: ServerResponse): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}

/** The OAuth error code each errored response carried, for the HTTP metrics (read when the response finishes). */
const errorCodes = new WeakMap<ServerResponse, string>();

export function oauthErrorCodeOf(res: ServerResponse): string | undefined {
  return errorCodes.get(res);
}

export function sendOAuthError(res: ServerResponse, error: OAuthError, requestId?: string): void {
  noStore(res);
  errorCodes.set(res, error.code);
  if (error.wwwAuthenticate) res.setHeader('WWW-Authenticate', error.wwwAuthenticate);
  if (error instanceof TooManyRequests || error instanceof TemporarilyUnavailable) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  const body: Record<string, string> = { error: error.code, error_description: error.description };
  if (error.code === 'server_error' && requestId) body.request_id = requestId;
  sendJson(res, error.status, body);
}

/** A JSON response as Express's res.json() writes it (same Content-Type), without Express. */
export function sendJson(res: ServerResponse, status: number, body: unknown, contentType = 'application/json; charset=utf-8'): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.end(JSON.stringify(body));
}

/**
 * A browser redirect, never cached (the locations carry codes and one-time handles): the Location encoded as
 * Express's res.redirect encodes it, and a one-line text body for whoever reads it.
 */
export function sendRedirect(res: ServerResponse, status: 302 | 303, location: string): void {
  const encoded = encodeUrl(location);
  noStore(res);
  res.statusCode = status;
  res.setHeader('Location', encoded);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(`${STATUS_CODES[status]}. Redirecting to ${encoded}`);
}

export function requestIdOf(req: HttpRequest): string | undefined {
  return req.requestId;
}

export function contextOf(req: HttpRequest): RequestContext | undefined {
  return req.context;
}

/** The request path without its query string: query strings can carry codes and must not be logged. */
export function pathOf(req: { originalUrl?: string; url?: string }): string {
  return (req.originalUrl ?? req.url ?? '/').split('?')[0] ?? '/';
}
