import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { oauthErrorCodeOf } from '../common/http.js';
import type { MetricsService } from './metrics.service.js';

/**
 * Latency per route pattern (`/register/:clientId`, never the raw path: no ids or query strings in labels) and
 * OAuth errors by code (sendOAuthError remembers the code per response). Requests no route matched are `unmatched`.
 */
export function httpMetrics(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // Long-lived streams would only skew the latency histogram.
      if (res.locals.longLived === true) countError(metrics, res, routeOf(req));
      else observeRequest(metrics, req.method, routeOf(req), res, started);
    });
    next();
  };
}

/** One finished request: its latency, and its OAuth error if it answered one. The fast lane calls this too. */
export function observeRequest(metrics: MetricsService, method: string, route: string, res: ServerResponse, started: bigint): void {
  countError(metrics, res, route);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  metrics.httpDuration.observe(method, route, res.statusCode, seconds);
}

function countError(metrics: MetricsService, res: ServerResponse, route: string): void {
  const error = oauthErrorCodeOf(res);
  if (error !== undefined) metrics.oauthErrors.inc({ error, route });
}

/** The label of requests no route matched (an unknown path, or a body refused before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

export function routeOf(req: Request): string {
  const path: unknown = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` : UNMATCHED_ROUTE;
}
