import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { pathOf } from './http.js';

const logger = new Logger('HTTP');
const INCOMING_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Gives every request an id (honouring a sane incoming X-Request-Id) and logs one line when it finishes. */
export function requestContext(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.headers['x-request-id'];
  const requestId = typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : randomUUID();
  (req as Request & { requestId: string }).requestId = requestId;
  res.setHeader('X-Request-Id', requestId);
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    // Path only: query strings carry codes and state, and must never reach a log.
    logger.debug({ msg: 'request', request_id: requestId, method: req.method, path: pathOf(req), status: res.statusCode, ms: Math.round(ms * 10) / 10 });
  });
  next();
}
