import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { LoggerService } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { GatehouseConfig } from './config/config.js';
import { resolveSecrets } from './config/secrets.js';
import { AppModule, type AppModuleOptions } from './app.module.js';
import { createLogger } from './common/logger.js';
import { bodyParser } from './common/body-parser.js';
import { GatehouseExceptionFilter } from './common/exception.filter.js';
import { requestContext, setRequestLogging } from './common/request-context.middleware.js';
import { MetricsService } from './metrics/metrics.service.js';
import { httpMetrics } from './metrics/http-metrics.js';
import { corsForPublicPaths, publicPathMatcher } from './common/cors.middleware.js';
import { FastLane } from './fast-lane/fast-lane.js';
import { FastRouteExplorer } from './fast-lane/fast-route-explorer.js';
import { RateLimiter } from './rate-limit/rate-limit.guard.js';

export interface CreateAppOptions extends AppModuleOptions {
  logger?: LoggerService;
}

/** Builds the HTTP application (not yet listening). Used by main.ts and by the end-to-end tests alike. */
export async function createApp(config: GatehouseConfig, options: CreateAppOptions = {}): Promise<NestExpressApplication> {
  const secrets = await resolveSecrets(config);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, secrets, { hostResolver: options.hostResolver, audit: options.audit }), {
    bodyParser: false,
    logger: options.logger ?? createLogger(config.logLevel),
    abortOnError: false,
  });
  setRequestLogging(config.logLevel === 'debug');
  app.disable('x-powered-by');
  // No SHA-1 ETag over every JSON body: OAuth responses are no-store, and the documents carry max-age.
  app.set('etag', false);
  app.set('query parser', 'simple');
  // X-Forwarded-For is believed only from these peers; req.ip is then the client address for limits and audit.
  app.set('trust proxy', config.trustedProxies.length > 0 ? config.trustedProxies : false);
  app.use(requestContext);
  app.use(httpMetrics(app.get(MetricsService)));
  app.use(corsForPublicPaths(publicPathMatcher(app.get(FastRouteExplorer).publicCorsPaths())));
  app.use(bodyParser(config.maxBodyBytes));
  app.useGlobalFilters(new GatehouseExceptionFilter());
  try {
    installFastLane(app, config);
  } catch (error) {
    // A @FastPath route the fast lane cannot serve as Nest would: the application does not start.
    await app.close();
    throw error;
  }
  return app;
}

export async function startServer(config: GatehouseConfig, options: CreateAppOptions = {}): Promise<NestExpressApplication> {
  const app = await createApp(config, options);
  await app.listen(config.port, config.host);
  return app;
}

/** The @FastPath routes skip Express and Nest's pipeline (src/fast-lane/fast-lane.ts); the rest go through it. */
function installFastLane(app: NestExpressApplication, config: GatehouseConfig): void {
  const routes = app.get(FastRouteExplorer).routes();
  new FastLane(config, routes, app.get(RateLimiter), app.get(MetricsService)).install(app.getHttpServer(), app.getHttpAdapter().getInstance());
}
