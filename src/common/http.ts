import type { Request, Response } from 'express';
import { OAuthError, TooManyRequests } from './oauth-errors.js';

/** Every OAuth response, success or error, must not be cached (RFC 6749 §5.1, §5.2). */
export function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}

export function sendOAuthError(res: Response, error: OAuthError, requestId?: string): void {
  noStore(res);
  // Read by the HTTP metrics when the response finishes (errors by OAuth error code).
  if (res.locals) res.locals.oauthError = error.code;
  if (error.wwwAuthenticate) res.setHeader('WWW-Authenticate', error.wwwAuthenticate);
  if (error instanceof TooManyRequests) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  const body: Record<string, string> = { error: error.code, error_description: error.description };
  if (error.code === 'server_error' && requestId) body.request_id = requestId;
  res.status(error.status).json(body);
}

export function requestIdOf(req: Request): string | undefined {
  return (req as Request & { requestId?: string }).requestId;
}

/** The request path without its query string: query strings can carry codes and must not be logged. */
export function pathOf(req: Request): string {
  return (req.originalUrl ?? req.url).split('?')[0] ?? '/';
}
