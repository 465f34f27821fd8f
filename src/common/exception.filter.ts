import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { BrowserError, InvalidClient, OAuthError, TemporarilyUnavailable } from './oauth-errors.js';
import { isDatabaseUnavailable } from './database-unavailable.js';
import type { ServerResponse } from 'node:http';
import { brandHeader, GATEHOUSE_BRAND, html, page, sendPage, type PageBrand } from './html.js';
import { pathOf, requestIdOf, sendOAuthError, type HttpRequest } from './http.js';

/** What a request that met an unreachable database tells its caller to wait: about one PostgreSQL restart. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * The one place errors become responses. OAuth errors render as RFC 6749 JSON; browser errors as an HTML page;
 * Nest's own HttpExceptions (unknown route, wrong method) map to an OAuth-shaped body; a database that cannot be
 * reached becomes 503 `temporarily_unavailable` with Retry-After; anything else is a bug and becomes `server_error`
 * carrying only the request id, with the details in the log.
 */
@Catch()
export class GatehouseExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendError(http.getRequest<Request>(), http.getResponse<Response>(), exception, this.logger);
  }
}

/** Answers `exception` as the filter does: a browser error as its page, anything else as an OAuth error. The fast lane uses it too. */
export function sendError(req: HttpRequest & { originalUrl?: string }, res: ServerResponse, exception: unknown, logger: Pick<Logger, 'error' | 'warn'>): void {
  if (res.headersSent) return;
  if (exception instanceof BrowserError) return sendPage(res, exception.status, errorPage(exception.title, exception.detail, exception.brand));
  sendOAuthError(res, oauthErrorFor(exception, req, logger), requestIdOf(req));
}

/**
 * The OAuth error an API request answers with when `exception` escapes its handler. Anything unexpected is a bug:
 * logged here with the request id, answered as `server_error`. The filter and the fast lane both use this.
 */
export function oauthErrorFor(exception: unknown, req: HttpRequest & { originalUrl?: string }, logger: Pick<Logger, 'error' | 'warn'>): OAuthError {
  if (exception instanceof OAuthError) return exception;
  // The client expired or was deleted while this request for it was in flight: what any later request gets.
  if (referencesVanishedClient(exception)) return new InvalidClient('the client no longer exists (it expired or was deleted); register again');
  if (exception instanceof HttpException && exception.getStatus() < 500) return fromHttpException(exception);
  const requestId = requestIdOf(req);
  if (isDatabaseUnavailable(exception)) {
    // Not a bug, and during an outage every request says it: one line each, without a stack.
    const reason = exception instanceof Error ? exception.message : String(exception);
    logger.warn({ msg: 'database unavailable', request_id: requestId, method: req.method, path: pathOf(req), reason });
    return new TemporarilyUnavailable(`the database is unavailable; retry after ${DATABASE_RETRY_AFTER_SECONDS} s`, DATABASE_RETRY_AFTER_SECONDS);
  }
  logger.error({ msg: 'unhandled error', request_id: requestId, method: req.method, path: pathOf(req) }, exception);
  return new OAuthError('server_error', `unexpected error; quote request id ${requestId ?? 'unknown'}`);
}

/** A foreign-key violation on a `client_id` column (PostgreSQL and PGlite alike report code 23503 and the constraint). */
export function referencesVanishedClient(exception: unknown): boolean {
  if (typeof exception !== 'object' || exception === null) return false;
  const { driverError } = exception as { driverError?: unknown };
  const source = (typeof driverError === 'object' && driverError !== null ? driverError : exception) as { code?: unknown; constraint?: unknown };
  return source.code === '23503' && typeof source.constraint === 'string' && source.constraint.endsWith('_client_id_fkey');
}

function fromHttpException(exception: HttpException): OAuthError {
  const status = exception.getStatus();
  if (status === 404) return new OAuthError('not_found', 'no such endpoint or resource');
  if (status === 405) return new OAuthError('method_not_allowed', 'method not allowed');
  if (status === 413) return new OAuthError('request_too_large', 'request body too large');
  const response = exception.getResponse();
  const message = typeof response === 'object' && response !== null && 'message' in response ? (response as { message: unknown }).message : exception.message;
  return new OAuthError('invalid_request', Array.isArray(message) ? message.join('; ') : String(message));
}

/** A browser error as a page, framed as the consent page is: the resource server's brand where known, else Gatehouse's. */
export function errorPage(title: string, detail: string, brand: PageBrand = GATEHOUSE_BRAND): string {
  return page(
    title,
    html`<div class="card" role="alert">
  ${brandHeader(brand)}
  <h1>${title}</h1>
  <p>${detail}</p>
  <p class="muted">You can close this window and try again from the application you came from.</p>
</div>`,
  );
}
