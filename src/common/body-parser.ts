import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidRequest, OAuthError, RequestTooLarge } from './oauth-errors.js';
import { requestIdOf, sendOAuthError, type HttpRequest } from './http.js';
import { isStorableText } from './validation.js';

/** A parsed form or JSON body. Form values are strings; duplicates are rejected (RFC 6749 §3.1). */
export type ParsedBody = Record<string, unknown>;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * How much of a body over the limit is read off and thrown away before the 413 is sent. Many clients write the whole
 * body before they look at the answer, and a server that answers and closes while the body is still coming resets
 * the connection (closing with unread data does), so the client fails with EPIPE or ECONNRESET and may never see the
 * 413. Reading the rest off, as Express's body-parser does, costs bandwidth but no memory (nothing is kept), so it is
 * bounded rather than refused: past `bytes` in all, or after `ms`, the 413 is sent and the connection closed,
 * whatever the client then sees.
 */
export interface DrainLimits {
  readonly bytes: number;
  readonly ms: number;
}

/**
 * 128 times the limit: 8 MiB for the 64 KiB one, well past what a client sends by mistake (a file, a base64 logo),
 * and a quarter of a second on a 256 Mbit/s link. 10 s is about 8 MiB at 6.7 Mbit/s; a slower client sending that
 * much is cut off (well inside Node's own 300 s requestTimeout, which therefore never answers first).
 */
export function drainLimitsFor(maxBytes: number): DrainLimits {
  return { bytes: maxBytes * 128, ms: 10_000 };
}

/** Express's Request or the fast lane's IncomingMessage: the body is read from the stream and left on `body`. */
type BodyRequest = IncomingMessage & HttpRequest;

/**
 * Reads and parses request bodies with a hard size cap. Replaces Nest's body-parser so that malformed JSON,
 * oversized bodies and duplicated form parameters get OAuth-shaped errors instead of framework HTML.
 * Bodies of other content types are left unread; endpoints reject them with a precise message.
 * An oversized body is read off up to `drain` (see DrainLimits) and answered 413, never passed on.
 */
export function bodyParser(maxBytes: number, drain: DrainLimits = drainLimitsFor(maxBytes)) {
  return (req: BodyRequest, res: ServerResponse, next: () => void): void => {
    req.body = undefined;
    if (!BODY_METHODS.has(req.method ?? '')) return next();
    const kind = bodyKind(req);
    if (kind === null) {
      req.resume();
      return next();
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    // Announced past the drain bound: nothing to gain from reading any of it.
    if (declared > drain.bytes) return refuseTooLarge(req, res, maxBytes, 'close');

    const chunks: Buffer[] = [];
    let size = 0;
    let state: 'reading' | 'draining' | 'done' = 'reading';
    let deadline: NodeJS.Timeout | undefined;
    const startDraining = (): void => {
      state = 'draining';
      chunks.length = 0;
      deadline = setTimeout(() => stop('close'), drain.ms);
    };
    const stop = (how: 'drained' | 'close'): void => {
      state = 'done';
      clearTimeout(deadline);
      refuseTooLarge(req, res, maxBytes, how);
    };
    if (declared > maxBytes) startDraining();

    req.on('data', (chunk: Buffer) => {
      if (state === 'done') return;
      size += chunk.length;
      if (state === 'reading') {
        if (size <= maxBytes) return void chunks.push(chunk);
        startDraining();
      }
      if (size > drain.bytes) stop('close');
    });
    req.on('close', () => clearTimeout(deadline));
    req.on('error', () => {
      state = 'done';
    });
    req.on('end', () => {
      if (state === 'draining') return stop('drained');
      if (state === 'done') return;
      state = 'done';
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

/**
 * The 413, with `Connection: close` either way. `drained`: the whole body has been read, the client reads the answer.
 * `close`: the rest of the body is not read; reading stops, and the socket is closed once the answer is written (the
 * client may then see a reset rather than the 413: its unsent bytes have nowhere to go).
 */
function refuseTooLarge(req: BodyRequest, res: ServerResponse, maxBytes: number, how: 'drained' | 'close'): void {
  if (how === 'close') {
    req.pause();
    res.once('finish', () => req.socket.destroySoon());
  }
  reject(req, res, new RequestTooLarge(maxBytes));
}

function reject(req: BodyRequest, res: ServerResponse, error: OAuthError): void {
  if (res.headersSent) return;
  // A refused body ends the connection: what is left of it is never read as a next request.
  if (error instanceof RequestTooLarge) res.setHeader('Connection', 'close');
  sendOAuthError(res, error, requestIdOf(req));
  if (!(error instanceof RequestTooLarge)) req.resume();
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
