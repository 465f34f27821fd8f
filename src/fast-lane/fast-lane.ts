import { Logger } from '@nestjs/common';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import proxyAddr from 'proxy-addr';
import type { GatehouseConfig } from '../config/config.js';
import { bodyParser } from '../common/body-parser.js';
import { allowAnyOrigin, ANY_ORIGIN_HEADERS, isPublicCorsPath } from '../common/cors.middleware.js';
import { sendError } from '../common/exception.filter.js';
import { contextOf, noStore, sendJson, type HttpRequest, type RequestContext } from '../common/http.js';
import { assertJsonOrNoBody, oauthBody } from '../common/oauth-body.decorator.js';
import { strictValidationPipe } from '../common/validation.js';
import { attachRequestContext, identifyRequest } from '../common/request-context.middleware.js';
import { DiscoveryController } from '../discovery/discovery.controller.js';
import { IntrospectionController } from '../introspection/introspection.controller.js';
import { JwksController } from '../keys/jwks.controller.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { observeRequest, UNMATCHED_ROUTE } from '../metrics/http-metrics.js';
import type { LatencySeries } from '../metrics/latency-histogram.js';
import type { RateLimitPolicy } from '../rate-limit/rate-limit-policies.js';
import { RATE_LIMIT_POLICY } from '../rate-limit/rate-limit.decorator.js';
import { RateLimiter } from '../rate-limit/rate-limit.guard.js';
import { TokensController } from '../tokens/tokens.controller.js';
import { AuthorizationController } from '../authorization/authorization.controller.js';
import { ProductCompletionController } from '../authorization/product-completion.controller.js';
import { CompleteConsentDto, CompleteLoginDto } from '../authorization/dto/complete.dto.js';
import { callingResource } from '../resources/registration-secret.guard.js';
import type { ResourcesService } from '../resources/resources.service.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';

/** A request the fast lane answers: Node's own, with what the services read (HttpRequest) filled in here. */
type FastRequest = IncomingMessage & HttpRequest & { ip: string };

/** `GET /interaction/:id` for the ids Gatehouse issues (base64url); any other id goes to Express, which decodes it. */
const INTERACTION_PATH = /^\/interaction\/([A-Za-z0-9_-]+)$/;
/** `GET /interaction/:id/login/return`, likewise. */
const LOGIN_RETURN_PATH = /^\/interaction\/([A-Za-z0-9_-]+)\/login\/return$/;

interface FastRoute {
  /** The route pattern Nest registers for it: the metrics label, the same either way. */
  readonly route: string;
  readonly policy: RateLimitPolicy;
  /** Answers cross-origin callers: the path is a public one (isPublicCorsPath, as the Express path decides). */
  readonly cors: boolean;
  /** Reads the body first (src/common/body-parser.ts: the same size cap and parsing as everywhere). */
  readonly body: boolean;
  answer(req: FastRequest, res: ServerResponse): Promise<void>;
  /** A document route: the document when it is at hand without waiting (cached), and how it is sent. */
  readonly document?: { now(): object | undefined; contentType: string; cacheControl: string };
}

/** A document route's answer made from `source`; the latency series is held rather than found by its labels each time. */
interface DocumentAnswer {
  readonly source: object;
  readonly body: string;
  readonly headers: readonly string[];
  readonly latency: LatencySeries;
}

/** identifyRequest's option for the document answers, which write X-Request-Id with their other headers. */
const HEADER_WRITTEN_BY_CALLER = { setHeader: false };

/** What the fast lane calls: the very controllers Nest routes to. */
export interface FastLaneHandlers {
  discovery: DiscoveryController;
  jwks: JwksController;
  tokens: TokensController;
  introspection: IntrospectionController;
  authorization: AuthorizationController;
  productCompletion: ProductCompletionController;
  /** For the product completion routes' registration-secret check (RegistrationSecretGuard's). */
  resources: ResourcesService;
}

/**
 * The hottest routes — the token endpoint, introspection, the metadata and JWKS documents, and the steps of an
 * authorization (`/authorize`, the interaction page, the product's login completion and the browser's return from
 * it, the product's consent completion) — answered
 * straight from Node's HTTP server, in front of Express and Nest's router, guard, interceptor and pipe chain (about
 * half the CPU of a small request, see the README's benchmark section). Everything the full path does for these
 * routes happens here too, through the same functions: request id and context, HTTP metrics, CORS, the body
 * parser, the route's rate-limit policy, the registration-secret check, the JSON-only check and DTO validation,
 * the controller method itself, and errors as the exception filter answers them (OAuth JSON with no-store, or a
 * browser error page). Any other method or path, including a HEAD, an OPTIONS preflight or a path Express would
 * only match loosely (`/token/`, `/TOKEN`), goes to Express unchanged. test/e2e/fast-lane.e2e-spec.ts holds the
 * two paths to identical answers.
 */
export class FastLane {
  private readonly logger = new Logger('Errors');
  /** By method, then exact path. */
  private readonly getRoutes = new Map<string, FastRoute>();
  private readonly postRoutes = new Map<string, FastRoute>();
  /** The parameterised routes: `GET /interaction/:id` (INTERACTION_PATH) and its login return (LOGIN_RETURN_PATH). */
  private readonly interaction: FastRoute;
  private readonly loginReturn: FastRoute;
  private readonly readBody: ReturnType<typeof bodyParser>;
  private readonly trust: ((address: string, hop: number) => boolean) | null;
  /**
   * Serialised documents, by the (cached, immutable) object they were made from. Strings, not Buffers: Node sends a
   * string body in the same write as the headers, a Buffer in a second one.
   */
  private readonly bodies = new WeakMap<object, string>();
  /** Each document route's answer, made from its current document (prepareDocument). */
  private readonly documentAnswers = new Map<FastRoute, DocumentAnswer>();

  constructor(
    config: GatehouseConfig,
    handlers: FastLaneHandlers,
    private readonly limiter: RateLimiter,
    private readonly metrics: MetricsService,
  ) {
    this.readBody = bodyParser(config.maxBodyBytes);
    this.trust = config.trustedProxies.length > 0 ? proxyAddr.compile(config.trustedProxies) : null;
    const { discovery, jwks, tokens, introspection } = handlers;
    const metadata = { now: () => discovery.metadataNow(), contentType: 'application/json; charset=utf-8', cacheControl: 'public, max-age=60' };
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      this.add('GET', path, { policy: policyOf(DiscoveryController), body: false, document: metadata }, async (_req, res) =>
        this.sendDocument(res, await discovery.metadata(), metadata),
      );
    }
    const jwksDocument = { now: () => jwks.jwks(), contentType: 'application/jwk-set+json; charset=utf-8', cacheControl: 'public, max-age=300' };
    this.add('GET', '/.well-known/jwks.json', { policy: policyOf(JwksController), body: false, document: jwksDocument }, async (_req, res) =>
      this.sendDocument(res, jwks.jwks(), jwksDocument),
    );
    for (const path of ['/token', '/api/oauth/token']) {
      this.add('POST', path, { policy: policyOf(TokensController), body: true }, async (req, res) => {
        noStore(res);
        sendJson(res, 200, await tokens.token(oauthBody(req, 'form'), req));
      });
    }
    this.add('POST', '/introspect', { policy: policyOf(IntrospectionController), body: true }, async (req, res) => {
      noStore(res);
      sendJson(res, 200, await introspection.introspect(oauthBody(req, 'formOrJson'), req));
    });

    const { authorization, productCompletion, resources } = handlers;
    const browser = policyOf(AuthorizationController);
    this.add('GET', '/authorize', { policy: browser, body: false }, async (req, res) => {
      await authorization.authorize(withQuery(req), res);
    });
    this.interaction = this.route('/interaction/:id', { policy: browser, body: false }, async (req, res) => {
      const id = INTERACTION_PATH.exec(req.url?.split('?', 1)[0] ?? '')?.[1] ?? '';
      await authorization.interaction(id, req, res);
    });
    this.loginReturn = this.route('/interaction/:id/login/return', { policy: browser, body: false }, async (req, res) => {
      const id = LOGIN_RETURN_PATH.exec(req.url?.split('?', 1)[0] ?? '')?.[1] ?? '';
      await authorization.loginReturn(id, withQuery(req), res);
    });
    // The order of the full path: the guard (secret), the interceptors (no-store, then JSON only), the pipe, the handler.
    const completion = <Input extends object>(path: string, dto: new () => Input, complete: (resource: ResourceServerEntity, input: Input, request?: RequestContext) => Promise<unknown>) =>
      this.add('POST', path, { policy: policyOf(ProductCompletionController), body: true }, async (req, res) => {
        const resource = await callingResource(req, resources);
        noStore(res);
        assertJsonOrNoBody(req);
        const input = (await strictValidationPipe.transform(req.body, { type: 'body', metatype: dto })) as Input;
        sendJson(res, 200, await complete(resource, input, contextOf(req)));
      });
    completion('/api/login/complete', CompleteLoginDto, (resource, input, request) => productCompletion.completeLogin(resource, input, request));
    completion('/api/consent/complete', CompleteConsentDto, (resource, input, request) => productCompletion.completeConsent(resource, input, request));
  }

  /** Puts the fast lane in front of `fallback` (the Express application) as `server`'s request handler. */
  install(server: Server, fallback: RequestListener): void {
    server.removeListener('request', fallback);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const route = this.match(req);
      if (route?.document !== undefined && this.answerDocument(route, route.document, req as FastRequest, res)) return;
      if (route) this.handle(route, req as FastRequest, res);
      else fallback(req, res);
    });
  }

  /** The route for an exact method and path (the query string aside), if the fast lane serves it. */
  match(req: IncomingMessage): FastRoute | undefined {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (req.method === 'GET') {
      return this.getRoutes.get(path) ?? (INTERACTION_PATH.test(path) ? this.interaction : LOGIN_RETURN_PATH.test(path) ? this.loginReturn : undefined);
    }
    return req.method === 'POST' ? this.postRoutes.get(path) : undefined;
  }

  /**
   * A document route's answer when nothing needs waiting for (no budget to spend, the document cached), and nothing
   * reads the request context: at once, with what every answer carries, every header in one writeHead (no header
   * map). Its latency is observed at the hand-off to the socket, which for an answer this size is the whole of it.
   * False when the route must be handled as any other. Kept apart from handle() so that the hottest answer runs as
   * code that has only ever seen it (a function shared with the other routes answered 13 % fewer documents once
   * they had been used).
   */
  private answerDocument(route: FastRoute, sending: NonNullable<FastRoute['document']>, req: FastRequest, res: ServerResponse): boolean {
    const started = process.hrtime.bigint();
    const document = this.limiter.enabled(route.policy) ? undefined : sending.now();
    if (document === undefined) return false;
    let prepared = this.documentAnswers.get(route);
    if (prepared === undefined || prepared.source !== document || prepared.latency.detached) prepared = this.prepareDocument(route, sending, document);
    const headers = prepared.headers.slice();
    headers[1] = identifyRequest(req, res, HEADER_WRITTEN_BY_CALLER);
    res.writeHead(200, headers);
    // write, then end: the headers and body leave in one plain write. (end(body) queues an empty chunk behind them,
    // which makes that a two-buffer writev: about 2 % of a document answer.)
    res.write(prepared.body);
    res.end();
    // A 200 with no OAuth error to count: straight into its latency series (observeRequest's other half).
    prepared.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    return true;
  }

  /**
   * `route`'s answer with `document`, made once per document object: the body, every header as name, value pairs
   * (copied per answer, the request id's value at index 1 filled in), and its latency series (GET, 200).
   */
  private prepareDocument(route: FastRoute, sending: NonNullable<FastRoute['document']>, document: object): DocumentAnswer {
    const body = this.serialised(document);
    const cors = route.cors ? ANY_ORIGIN_HEADERS : [];
    const headers = ['X-Request-Id', '', ...cors, 'Cache-Control', sending.cacheControl, 'Content-Type', sending.contentType, 'Content-Length', String(Buffer.byteLength(body))];
    const prepared = { source: document, body, headers, latency: this.metrics.httpDuration.seriesFor('GET', route.route, 200) };
    this.documentAnswers.set(route, prepared);
    return prepared;
  }

  private handle(route: FastRoute, req: FastRequest, res: ServerResponse): void {
    const started = process.hrtime.bigint();
    req.ip = this.clientAddress(req);
    // On the full path the body parser runs before Express's router: a body it refuses is answered before any
    // route is known, and counted as `unmatched` (routeOf). Here too: the route's label only once the body is read.
    let label = route.body ? UNMATCHED_ROUTE : route.route;
    res.on('finish', () => observeRequest(this.metrics, req.method ?? 'GET', label, res, started));
    attachRequestContext(req, res, req.ip);
    if (route.cors) allowAnyOrigin(res);
    if (!route.body) return void this.answer(route, req, res);
    this.readBody(req, res, () => {
      label = route.route;
      void this.answer(route, req, res);
    });
  }

  /** Rate limit, then the route: as RateLimitGuard runs before a controller. Errors are answered as the filter answers them. */
  private async answer(route: FastRoute, req: FastRequest, res: ServerResponse): Promise<void> {
    try {
      if (this.limiter.enabled(route.policy)) await this.limiter.consume(route.policy, req, res);
      await route.answer(req, res);
    } catch (error) {
      sendError(req, res, error, this.logger);
    }
  }

  private sendDocument(res: ServerResponse, document: object, { contentType, cacheControl }: NonNullable<FastRoute['document']>): void {
    res.statusCode = 200;
    res.setHeader('Cache-Control', cacheControl);
    res.setHeader('Content-Type', contentType);
    res.end(this.serialised(document));
  }

  /** A document's body, made once per document object. */
  private serialised(document: object): string {
    let body = this.bodies.get(document);
    if (body === undefined) {
      body = JSON.stringify(document);
      this.bodies.set(document, body);
    }
    return body;
  }

  /** What Express's req.ip is: the peer, or with TRUSTED_PROXIES the nearest address they did not forward. */
  private clientAddress(req: IncomingMessage): string {
    return this.trust ? proxyAddr(req, this.trust) : (req.socket.remoteAddress ?? '');
  }

  private add(method: 'GET' | 'POST', path: string, options: Omit<FastRoute, 'route' | 'cors' | 'answer'>, answer: FastRoute['answer']): void {
    (method === 'GET' ? this.getRoutes : this.postRoutes).set(path, this.route(path, options, answer));
  }

  private route(path: string, { policy, body, document }: Omit<FastRoute, 'route' | 'cors' | 'answer'>, answer: FastRoute['answer']): FastRoute {
    // Every route has every field (document: undefined when it has none): one object shape for the code reading them.
    return { route: path, cors: isPublicCorsPath(path), policy, body, document, answer };
  }
}

/** The policy @RateLimit gives a controller class: the fast lane spends the same budget as the guard would. */
function policyOf(controller: abstract new (...args: never[]) => unknown): RateLimitPolicy {
  const policy: unknown = Reflect.getMetadata(RATE_LIMIT_POLICY, controller);
  return typeof policy === 'string' ? (policy as RateLimitPolicy) : 'default';
}

/** The request with `query` as Express's `query parser` 'simple' makes it: node:querystring, on what follows the first '?'. */
function withQuery(req: FastRequest): FastRequest & { query: Record<string, unknown> } {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  return Object.assign(req, { query: query === -1 ? {} : parseQuery(url.slice(query + 1)) });
}
