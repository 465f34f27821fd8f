import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { registerDecorator, type ValidationOptions } from 'class-validator';
import { InvalidRequest } from './oauth-errors.js';
import { isLoopbackHost, parseUrl } from './urls.js';

/** The first constraint message, with the full property path (`branding.logo_uri: must be …`). */
export function describeValidationErrors(errors: ValidationError[], parent = ''): string {
  for (const error of errors) {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const message = Object.values(error.constraints ?? {})[0];
    if (message) return message.startsWith(error.property) ? `${parent ? parent + '.' : ''}${message}` : `${path}: ${message}`;
    if (error.children?.length) return describeValidationErrors(error.children, path);
  }
  return 'invalid request body';
}

const ABSENT_BODY_IS_EMPTY = new WeakSet<object>();

/**
 * For a DTO whose fields are all optional, on an action that used to take no body (`POST …/secret`): a request
 * without a body means `{}`. Other DTOs still refuse a missing body.
 */
export function AbsentBodyIsEmpty(): ClassDecorator {
  return (target) => {
    ABSENT_BODY_IS_EMPTY.add(target);
  };
}

/** For Gatehouse's own JSON APIs: unknown fields are an error, and every error names its field. */
class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && (value === undefined || value === null)) {
      if (value === undefined && metadata.metatype && ABSENT_BODY_IS_EMPTY.has(metadata.metatype)) return super.transform({}, metadata);
      throw new InvalidRequest('request body must be a JSON object sent as Content-Type: application/json');
    }
    return super.transform(value, metadata);
  }
}

export const strictValidationPipe = new StrictValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  transform: true,
  exceptionFactory: (errors) => new InvalidRequest(describeValidationErrors(errors)),
});

/** A NUL, or a UTF-16 surrogate without its pair: text PostgreSQL cannot store (in `text` or `jsonb`). */
const UNSTORABLE_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether a string can be stored at all. Input that fails this is the client's error (invalid_request), and no
 * stored value (client id, code, state…) can equal it; passed to the database it would be a 500.
 */
export function isStorableText(value: string): boolean {
  return !UNSTORABLE_TEXT.test(value);
}

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** https, or http on a loopback host (for local development); no fragment, no credentials. */
export function isWebUrl(value: unknown, { allowLoopbackHttp = true } = {}): boolean {
  if (typeof value !== 'string' || value.length > 2000) return false;
  const url = parseUrl(value);
  if (!url || value.includes('#') || url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return allowLoopbackHttp && url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

export function IsWebUrl(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isWebUrl',
      target: target.constructor,
      propertyName,
      options: { message: `${propertyName} must be an https URL (or http on a loopback host) without fragment or credentials`, ...options },
      validator: { validate: (value: unknown) => isWebUrl(value) },
    });
}
