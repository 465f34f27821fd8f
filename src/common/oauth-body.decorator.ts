import { Injectable, UseInterceptors, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import { noStore, type HttpRequest } from './http.js';
import { createRequestParamDecorator, type BeforeHandler } from './request-steps.js';
import { InvalidRequest } from './oauth-errors.js';
import { isContentType, type ParsedBody } from './body-parser.js';
import { isStorableText } from './validation.js';

const MEDIA_TYPES = {
  form: ['application/x-www-form-urlencoded'],
  json: ['application/json'],
  /** Introspection and revocation: RFC 7662/7009 say form; JSON is accepted too for server-side callers. */
  formOrJson: ['application/x-www-form-urlencoded', 'application/json'],
} as const;

export type OAuthBodyKind = keyof typeof MEDIA_TYPES;

/**
 * The parsed request body, after checking that it came in the media type the endpoint's RFC requires
 * (form-encoded for /token, JSON for /register); anything else is `invalid_request` naming the expected type.
 */
export const OAuthBody = createRequestParamDecorator((req: HttpRequest, kind: OAuthBodyKind): ParsedBody => oauthBody(req, kind));

/** What @OAuthBody(kind) gives a handler. */
export function oauthBody(req: HttpRequest, kind: OAuthBodyKind): ParsedBody {
  if (!isContentType(req, ...MEDIA_TYPES[kind]) || req.body === undefined) {
    throw new InvalidRequest(`request body must be sent as Content-Type: ${MEDIA_TYPES[kind].join(' or ')}`);
  }
  return req.body as ParsedBody;
}

@Injectable()
class NoStoreInterceptor implements NestInterceptor, BeforeHandler {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    this.beforeHandler(context.switchToHttp().getRequest<HttpRequest>(), context.switchToHttp().getResponse<ServerResponse>());
    return next.handle();
  }

  beforeHandler(_req: HttpRequest, res: ServerResponse): void {
    noStore(res);
  }
}

/** OAuth responses carry credentials and must never be cached (RFC 6749 §5.1). On a controller or a handler. */
export function NoStore() {
  return UseInterceptors(NoStoreInterceptor);
}

@Injectable()
class JsonOnlyInterceptor implements NestInterceptor, BeforeHandler {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    this.beforeHandler(context.switchToHttp().getRequest<HttpRequest>());
    return next.handle();
  }

  beforeHandler(req: HttpRequest): void {
    assertJsonOrNoBody(req);
  }
}

/** What @JsonOnly() checks. */
export function assertJsonOrNoBody(req: HttpRequest): void {
  // Requests that carry no body (GET, DELETE, a bare POST action) have no media type to check.
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !isContentType(req, ...MEDIA_TYPES.json)) throw new InvalidRequest(`request body must be sent as Content-Type: ${MEDIA_TYPES.json.join(' or ')}`);
}

/**
 * For JSON APIs whose body is a validated DTO (`@Body()`): any other media type is `invalid_request`. The body
 * parser also parses forms, and a form with the right fields would otherwise pass DTO validation. Interceptors run
 * after guards and before pipes: authentication is still checked first, validation only for JSON.
 */
export function JsonOnly() {
  return UseInterceptors(JsonOnlyInterceptor);
}

/** A single-valued string parameter, or undefined; anything else is `invalid_request`. */
export function stringParam(params: ParsedBody | Record<string, unknown>, name: string, maxLength = 4096): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidRequest(`parameter '${name}' must be given once, as a string`);
  if (value.length > maxLength) throw new InvalidRequest(`parameter '${name}' is longer than ${maxLength} characters`);
  if (!isStorableText(value)) throw new InvalidRequest(`parameter '${name}' contains a NUL character`);
  return value;
}

export function requiredParam(params: ParsedBody | Record<string, unknown>, name: string, maxLength = 4096): string {
  const value = stringParam(params, name, maxLength);
  if (value === undefined || value === '') throw new InvalidRequest(`missing required parameter '${name}'`);
  return value;
}
