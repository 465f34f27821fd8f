import { Logger } from '@nestjs/common';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import proxyAddr from 'proxy-addr';
import type { GatehouseConfig } from '../config/config.js';
import { bodyParser } from '../common/body-parser.js';
import { allowAnyOrigin, ANY_ORIGIN_HEADERS } from '../common/cors.middleware.js';
import { sendError } from '../common/exception.filter.js';
import { attachRequestContext, identifyRequest } from '../common/request-context.middleware.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { observeRequest, UNMATCHED_ROUTE } from '../metrics/http-metrics.js';
import type { LatencySeries } from '../metrics/latency-histogram.js';
import { RateLimiter } from '../rate-limit/rate-limit.guard.js';
import { FastPathRefused, type FastParam, type FastRequest, type FastRoute } from './fast-route-explorer.js';

/** A request the fast lane answers: Node's own, with what the services read (HttpRequest) filled in here. */
type NodeRequest = IncomingMessage & FastRequest & { ip: string };

/** A route the fast lane takes a request for, with the values of the path's `:name` segments. */
export interface FastMatch {
  readonly route: FastRoute;
  readonly routeParams: Readonly<Record<string, string>>;
}

/** A route with `:name` segments, as a pattern over the request path. */
interface PatternedRoute {
  readonly pattern: RegExp;
  readonly route: FastRoute;
}

/** A document route's answer made from `source`; the latency series is held rather than found by its labels each time. */
interface DocumentAnswer {
  readonly source: object;
  readonly body: string;
  readonly headers: readonly string[];
  readonly latency: LatencySeries;
}

/** A handler's result already asked for (a document route whose document was not at hand), to be awaited, not asked for again. */
interface PendingResult {
  readonly result: unknown;
}

/** identifyRequest's option for the document answers, which write X-Request-Id with their other headers. */
const HEADER_WRITTEN_BY_CALLER = { setHeader: false };
const NO_ROUTE_PARAMS: Readonly<Record<string, string>> = Object.freeze({});
/** A document handler's arguments: it takes none. */
const NO_ARGUMENTS: unknown[] = [];
/**
 * A `:name` segment matches the ids Gatehouse issues (base64url), which need no percent-decoding: any other value
 * goes to Express, which decodes it.
 */
const ROUTE_PARAM_SEGMENT = '([A-Za-z0-9_-]+)';

/**
 * The @FastPath routes (src/common/fast-path.decorator.ts), answered straight from Node's HTTP server in front of
 * Express and Nest's router, guard, interceptor and pipe chain, which cost about half the CPU of a small request (see
 * docs/benchmarks.md). Each route is what FastRouteExplorer read from the handler's own decorators, and
 * everything the full path does for it happens here too, through the same functions and in Nest's order: request id
 * and context, HTTP metrics, CORS, the body parser, the route's rate-limit policy, its BeforeHandler guards, status
 * and headers, its BeforeHandler interceptors, its parameters and pipes, the controller method itself, the JSON
 * answer as Express writes it, and errors as the exception filter answers them. Any other method or path, including
 * a HEAD, an OPTIONS preflight or a path Express would only match loosely (`/token/`, `/TOKEN`), goes to Express
 * unchanged. test/e2e/fast-lane.e2e-spec.ts holds the two paths to identical answers.
 */
export class FastLane {
  private readonly logger = new Logger('Errors');
  /** By method, then exact path. */
  private readonly exact = new Map<string, Map<string, FastMatch>>();
  /** By method: the routes with `:name` segments, in declaration order. */
  private readonly patterned = new Map<string, PatternedRoute[]>();
  private readonly readBody: ReturnType<typeof bodyParser>;
  private readonly trust: ((address: string, hop: number) => boolean) | null;
  /**
   * Serialised documents, by the (cached, immutable) object they were made from. Strings, not Buffers: Node copies a
   * string body into one buffer with the headers, and sends a Buffer as a buffer of its own.
   */
  private readonly bodies = new WeakMap<object, string>();
  /** Each document route's answer, made from its current document (prepareDocument). */
  private readonly documentAnswers = new Map<FastRoute, DocumentAnswer>();

  constructor(
    config: GatehouseConfig,
    routes: readonly FastRoute[],
    private readonly limiter: RateLimiter,
    private readonly metrics: MetricsService,
  ) {
    this.readBody = bodyParser(config.maxBodyBytes);
    this.trust = config.trustedProxies.length > 0 ? proxyAddr.compile(config.trustedProxies) : null;
    for (const route of routes) this.add(route);
  }

  /** Puts the fast lane in front of `fallback` (the Express application) as `server`'s request handler. */
  install(server: Server, fallback: RequestListener): void {
    server.removeListener('request', fallback);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const matched = this.match(req);
      if (matched === undefined) return fallback(req, res);
      if (matched.route.document) this.answerDocument(matched, req as NodeRequest, res);
      else this.handle(matched, req as NodeRequest, res);
    });
  }

  /** The route for an exact method and path (the query string aside), if the fast lane serves it. */
  match(req: IncomingMessage): FastMatch | undefined {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const method = req.method ?? 'GET';
    const exact = this.exact.get(method)?.get(path);
    if (exact !== undefined) return exact;
    for (const { pattern, route } of this.patterned.get(method) ?? []) {
      const values = pattern.exec(path);
      if (values === null) continue;
      const routeParams: Record<string, string> = {};
      route.paramNames.forEach((name, at) => (routeParams[name] = values[at + 1]!));
      return { route, routeParams };
    }
    return undefined;
  }

  /**
   * A document route's answer when nothing needs waiting for (no budget to spend, the document at hand), and nothing
   * reads the request context: at once, with what every answer carries, every header in one writeHead (no header
   * map). Its latency is observed at the hand-off to the socket, which for an answer this size is the whole of it.
   * Otherwise the route is handled as any other, with the result already asked for. Kept apart from handle(), so
   * that the hottest answer runs as code that only ever sees documents: shared with the other routes, V8 optimises
   * it for all of them and it answers fewer documents.
   */
  private answerDocument(matched: FastMatch, req: NodeRequest, res: ServerResponse): void {
    const started = process.hrtime.bigint();
    const { route } = matched;
    if (this.limiter.enabled(route.policy)) return this.handle(matched, req, res);
    let document: unknown;
    try {
      document = route.invoke(NO_ARGUMENTS);
    } catch (error) {
      document = Promise.reject(error);
    }
    if (typeof document !== 'object' || document === null || typeof (document as Partial<PromiseLike<unknown>>).then === 'function') {
      return this.handle(matched, req, res, { result: document });
    }
    let prepared = this.documentAnswers.get(route);
    if (prepared === undefined || prepared.source !== document || prepared.latency.detached) prepared = this.prepareDocument(route, document);
    const headers = prepared.headers.slice();
    headers[1] = identifyRequest(req, res, HEADER_WRITTEN_BY_CALLER);
    res.writeHead(route.status, headers).end(prepared.body);
    // An answer with no OAuth error to count: straight into its latency series (observeRequest's other half).
    prepared.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  /**
   * `route`'s answer with `document`, made once per document object: the body, every header as name, value pairs
   * (copied per answer, the request id's value at index 1 filled in), and its latency series.
   */
  private prepareDocument(route: FastRoute, document: object): DocumentAnswer {
    const body = this.serialised(document);
    const cors = route.cors ? ANY_ORIGIN_HEADERS : [];
    const declared = route.headers.filter(([name]) => name.toLowerCase() !== 'content-type').flat();
    const headers = ['X-Request-Id', '', ...cors, ...declared, 'Content-Type', route.jsonContentType, 'Content-Length', String(Buffer.byteLength(body))];
    const prepared = { source: document, body, headers, latency: this.metrics.httpDuration.seriesFor(route.method, route.path, route.status) };
    this.documentAnswers.set(route, prepared);
    return prepared;
  }

  private handle({ route, routeParams }: FastMatch, req: NodeRequest, res: ServerResponse, pending?: PendingResult): void {
    const started = process.hrtime.bigint();
    req.ip = this.clientAddress(req);
    // On the full path the body parser runs before Express's router: a body it refuses is answered before any
    // route is known, and counted as `unmatched` (routeOf). Here too: the route's label only once the body is read.
    let label = route.readsBody ? UNMATCHED_ROUTE : route.path;
    res.on('finish', () => observeRequest(this.metrics, route.method, label, res, started));
    attachRequestContext(req, res, req.ip);
    if (route.cors) allowAnyOrigin(res);
    if (route.readsRequest) req.query = queryOf(req);
    if (!route.readsBody) return void this.answer(route, routeParams, req, res, pending);
    this.readBody(req, res, () => {
      label = route.path;
      void this.answer(route, routeParams, req, res, pending);
    });
  }

  /** The route as Nest runs it, from the global rate-limit guard to the reply. Errors are answered as the filter answers them. */
  private async answer(route: FastRoute, routeParams: Readonly<Record<string, string>>, req: NodeRequest, res: ServerResponse, pending?: PendingResult): Promise<void> {
    try {
      if (this.limiter.enabled(route.policy)) await this.limiter.consume(route.policy, req, res);
      for (const guard of route.guards) await guard.beforeHandler(req, res);
      res.statusCode = route.status;
      for (const [name, value] of route.headers) res.setHeader(name, value);
      for (const interceptor of route.interceptors) await interceptor.beforeHandler(req, res);
      let result = pending?.result;
      if (pending === undefined) {
        const args = this.argumentsOf(route, routeParams, req, res);
        result = route.invoke(Array.isArray(args) ? args : await args);
      }
      result = await result;
      if (!route.respondsItself) this.reply(route, res, result);
    } catch (error) {
      sendError(req, res, error, this.logger);
    }
  }

  /**
   * The handler's arguments, as Nest's router makes them: each parameter's value in the order Nest reads them, then
   * its pipes; the first error in that order is the one answered. At once when no parameter has a pipe.
   */
  private argumentsOf(route: FastRoute, routeParams: Readonly<Record<string, string>>, req: NodeRequest, res: ServerResponse): unknown[] | Promise<unknown[]> {
    const args: unknown[] = new Array<unknown>(route.argumentCount);
    let piping: Promise<void>[] | undefined;
    for (const param of route.params) {
      try {
        const value = param.read(req, res, routeParams);
        if (param.pipes.length === 0) args[param.index] = value;
        else (piping ??= []).push(throughPipes(param, value).then((piped) => void (args[param.index] = piped)));
      } catch (error) {
        (piping ??= []).push(Promise.reject(error));
      }
    }
    return piping === undefined ? args : Promise.all(piping).then(() => args);
  }

  /** What Nest's Express adapter answers with an object: res.json, with the route's status and Content-Type. */
  private reply(route: FastRoute, res: ServerResponse, result: unknown): void {
    if (typeof result !== 'object' || result === null) throw new Error(`${route.name} returned ${result === null ? 'null' : typeof result}: the fast lane sends only JSON objects`);
    res.setHeader('Content-Type', route.jsonContentType);
    res.end(route.document ? this.serialised(result) : JSON.stringify(result));
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

  private add(route: FastRoute): void {
    if (route.paramNames.length === 0) {
      const byPath = this.exact.get(route.method) ?? new Map<string, FastMatch>();
      if (byPath.has(route.path)) throw new FastPathRefused(`${route.name}: ${route.method} ${route.path} is served by ${byPath.get(route.path)!.route.name} too`);
      byPath.set(route.path, { route, routeParams: NO_ROUTE_PARAMS });
      this.exact.set(route.method, byPath);
      return;
    }
    const source = route.path
      .split('/')
      .map((segment) => (segment.startsWith(':') ? ROUTE_PARAM_SEGMENT : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const routes = this.patterned.get(route.method) ?? [];
    routes.push({ pattern: new RegExp(`^${source}$`), route });
    this.patterned.set(route.method, routes);
  }
}

/** A parameter's value through its pipes, one after the other (Nest's PipesConsumer). */
async function throughPipes(param: FastParam, value: unknown): Promise<unknown> {
  let piped = value;
  for (const pipe of param.pipes) piped = await pipe.transform(piped, param.metadata);
  return piped;
}

/** `query` as Express's `query parser` 'simple' makes it: node:querystring, on what follows the first '?'. */
function queryOf(req: IncomingMessage): Record<string, unknown> {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  return query === -1 ? {} : parseQuery(url.slice(query + 1));
}
