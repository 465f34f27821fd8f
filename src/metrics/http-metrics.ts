import type { NextFunction, Request, Response } from 'express';
import type { MetricsService } from './metrics.service.js';

/**
 * Latency per route pattern (`/register/:clientId`, never the raw path: no ids or query strings in labels) and
 * OAuth errors by code (sendOAuthError leaves the code in res.locals). Requests no route matched are `unmatched`.
 */
export function httpMetrics(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = routeOf(req);
      const error: unknown = res.locals.oauthError;
      if (typeof error === 'string') metrics.oauthErrors.inc({ error, route });
      // Long-lived streams would only skew the latency histogram.
      if (res.locals.longLived === true) return;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
    });
    next();
  };
}

export function routeOf(req: Request): string {
  const path: unknown = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` : 'unmatched';
}
