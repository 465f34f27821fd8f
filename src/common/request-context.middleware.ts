import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { contextOf, pathOf, type HttpRequest, type RequestContext } from './http.js';
import { createRequestParamDecorator } from './request-steps.js';

const logger = new Logger('HTTP');
const INCOMING_ID = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_USER_AGENT = 512;

/**
 * Whether each finished request is logged (a debug line). Process-wide, as Nest's logger is: createApp sets it from
 * LOG_LEVEL, so that at other levels a request spends nothing on a line nobody prints.
 */
let logEachRequest = true;

export function setRequestLogging(enabled: boolean): void {
  logEachRequest = enabled;
}

/**
 * Gives every request an id (honouring a sane incoming X-Request-Id) and its context (contextOf: the id, the client
 * address, the user agent), and logs one line when the request finishes.
 *
 * The context is handed down explicitly, not through an AsyncLocalStorage: on Node 20 and 22 an AsyncLocalStorage
 * in use runs an async hook for every promise, tick and write of every request, whether it reads the context or not,
 * which is a large share of the cheapest answers' cost (docs/benchmarks.md).
 */
export function requestContext(req: Request, res: Response, next: NextFunction): void {
  attachRequestContext(req, res, req.ip ?? req.socket.remoteAddress ?? null);
  next();
}

/** requestContext for any request, Express's or the fast lane's: `ip` is the client address already resolved. */
export function attachRequestContext(req: HttpRequest, res: ServerResponse, ip: string | null): RequestContext {
  const requestId = identifyRequest(req, res);
  return (req.context = { requestId, ip, userAgent: userAgentOf(req) });
}

/**
 * The part of the request context every answer needs, for requests whose handling reads no context (the fast lane's
 * documents): the id, on the request and in X-Request-Id, and the log line when the request finishes.
 */
export function identifyRequest(req: HttpRequest, res: ServerResponse, options: { setHeader: boolean } = { setHeader: true }): string {
  const incoming = req.headers['x-request-id'];
  const requestId = typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : randomUUID();
  req.requestId = requestId;
  // (Unless the caller writes X-Request-Id itself, with the other headers at once: the fast lane's documents.)
  if (options.setHeader) res.setHeader('X-Request-Id', requestId);
  if (!logEachRequest) return requestId;
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    // Path only: query strings carry codes and state, and must never reach a log.
    logger.debug({ msg: 'request', request_id: requestId, method: req.method, path: pathOf(req), status: res.statusCode, ms: Math.round(ms * 10) / 10 });
  });
  return requestId;
}

/** A controller parameter: the request's context (contextOf), for the services that record audit events. */
export const InRequest = createRequestParamDecorator((req: HttpRequest): RequestContext | undefined => contextOf(req));

/** Printable ASCII only (the header is attacker-controlled and ends up in events), and bounded. */
function userAgentOf(req: HttpRequest): string | null {
  const value = req.headers['user-agent'];
  if (typeof value !== 'string' || value === '') return null;
  return value.replace(/[^\x20-\x7E]/g, '?').slice(0, MAX_USER_AGENT);
}
