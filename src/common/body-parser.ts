import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidRequest, OAuthError, RequestTooLarge } from './oauth-errors.js';
import { requestIdOf, sendOAuthError, type HttpRequest } from './http.js';
import { isStorableText } from './validation.js';

/** A parsed form or JSON body. Form values are strings; duplicates are rejected (RFC 6749 §3.1). */
export type ParsedBody = Record<string, unknown>;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Express's Request or the fast lane's IncomingMessage: the body is read from the stream and left on `body`. */
type BodyRequest = IncomingMessage & HttpRequest;

/**
 * Reads and parses request bodies with a hard size cap. Replaces Nest's body-parser so that malformed JSON,
 * oversized bodies and duplicated form parameters get OAuth-shaped errors instead of framework HTML.
 * Bodies of other content types are left unread; endpoints reject them with a precise message.
 */
export function bodyParser(maxBytes: number) {
  return (req: BodyRequest, res: ServerResponse, next: () => void): void => {
    req.body = undefined;
    if (!BODY_METHODS.has(req.method ?? '')) return next();
    const kind = bodyKind(req);
    if (kind === null) {
      req.resume();
      return next();
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBytes) return reject(req, res, new RequestTooLarge(maxBytes));

    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > maxBytes) {
        failed = true;
        reject(req, res, new RequestTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {
      failed = true;
    });
    req.on('end', () => {
      if (failed) return;
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        req.body = kind === 'json' ? parseJson(text) : parseForm(text);
        next();
      } catch (error) {
        reject(req, res, error instanceof OAuthError ? error : new InvalidRequest('malformed request body'));
      }
    });
  };
}

function reject(req: BodyRequest, res: ServerResponse, error: OAuthError): void {
  if (res.headersSent) return;
  // Close the connection on oversized bodies so the rest is never read.
  if (error instanceof RequestTooLarge) res.setHeader('Connection', 'close');
  sendOAuthError(res, error, requestIdOf(req));
  req.resume();
}

function bodyKind(req: HttpRequest): 'json' | 'form' | null {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  return null;
}

function parseJson(text: string): ParsedBody {
  if (text.trim() === '') throw new InvalidRequest('request body is empty; expected a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidRequest('request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRequest('request body must be a JSON object');
  }
  assertStorableJson(value);
  return value as ParsedBody;
}

/** Every key and string in the document must be storable text (no NUL, no lone surrogate). Iterative: depth is unbounded. */
function assertStorableJson(root: object): void {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      if (!isStorableText(value)) throw new InvalidRequest('request body contains a NUL character or an unpaired surrogate');
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) pending.push(key, item);
    }
  }
}

export function parseForm(text: string): ParsedBody {
  const out: ParsedBody = Object.create(null) as ParsedBody;
  for (const [key, value] of new URLSearchParams(text)) {
    if (key in out) throw new InvalidRequest(`parameter '${key}' is included more than once`);
    if (!isStorableText(key) || !isStorableText(value)) throw new InvalidRequest('request body contains a NUL character');
    out[key] = value;
  }
  return out;
}

/** Whether the request declared one of the given media types. */
export function isContentType(req: HttpRequest, ...types: string[]): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return types.includes(type);
}
