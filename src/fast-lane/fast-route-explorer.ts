import { HttpStatus, Injectable, RequestMethod, type ArgumentMetadata, type Paramtype, type PipeTransform } from '@nestjs/common';
import {
  CUSTOM_ROUTE_ARGS_METADATA,
  EXCEPTION_FILTERS_METADATA,
  GUARDS_METADATA,
  HEADERS_METADATA,
  HTTP_CODE_METADATA,
  INTERCEPTORS_METADATA,
  METHOD_METADATA,
  PATH_METADATA,
  PIPES_METADATA,
  REDIRECT_METADATA,
  RENDER_METADATA,
  RESPONSE_PASSTHROUGH_METADATA,
  ROUTE_ARGS_METADATA,
  RouteParamtypes,
  SSE_METADATA,
  VERSION_METADATA,
} from '@nestjs/common/internal';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE, DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import type { ServerResponse } from 'node:http';
import { isPublicCorsRoute } from '../common/cors.middleware.js';
import type { HttpRequest } from '../common/http.js';
import { isBeforeHandler, requestReaderOf, type BeforeHandler } from '../common/request-steps.js';
import type { RateLimitPolicy } from '../rate-limit/rate-limit-policies.js';
import { rateLimitPolicyOf } from '../rate-limit/rate-limit.decorator.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import { FAST_PATH, type FastPathOptions } from '../common/fast-path.decorator.js';

/** A request as the fast lane hands it to a route: Node's own, with what Express would have put on it. */
export type FastRequest = HttpRequest & { query?: Record<string, unknown> };

/** One handler parameter: how its value is found, and the pipes it then goes through (as Nest's router runs them). */
export interface FastParam {
  readonly index: number;
  read(req: FastRequest, res: ServerResponse, routeParams: Readonly<Record<string, string>>): unknown;
  /** Empty when Nest would not pipe this kind of parameter. */
  readonly pipes: readonly PipeTransform[];
  readonly metadata: ArgumentMetadata;
}

/** Everything the fast lane needs to answer one method and path as Nest would, read from the handler's decorators. */
export interface FastRoute {
  /** `TokensController.token`: for messages. */
  readonly name: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The path as Nest registers it (`/interaction/:id`): the metrics label, and the pattern matched. */
  readonly path: string;
  /** The `:name` segments of `path`, in order (empty for a plain path). */
  readonly paramNames: readonly string[];
  readonly policy: RateLimitPolicy;
  /** Answers cross-origin callers: @PublicCors, as on the Express path. */
  readonly cors: boolean;
  /** Reads the body first (every method but GET, as the body parser in front of Express does for these routes). */
  readonly readsBody: boolean;
  /** @HttpCode, or Nest's default: 201 for POST, 200 otherwise. */
  readonly status: number;
  /** @Header, in declaration order. */
  readonly headers: readonly (readonly [name: string, value: string])[];
  /** The Content-Type of a JSON answer: @Header's, else Express's res.json default, with charset=utf-8 as Express adds it. */
  readonly jsonContentType: string;
  readonly document: boolean;
  /** Guards (class, then handler), then interceptors (likewise): the order Nest runs them in. */
  readonly guards: readonly BeforeHandler[];
  readonly interceptors: readonly BeforeHandler[];
  readonly params: readonly FastParam[];
  readonly argumentCount: number;
  /** The handler writes the response itself (@Res): its return value is not sent. */
  readonly respondsItself: boolean;
  /** The handler reads the request (@Req): give it `query`, as Express's 'simple' query parser would. */
  readonly readsRequest: boolean;
  invoke(args: unknown[]): unknown;
}

const HTTP_METHODS = new Map<RequestMethod, FastRoute['method']>([
  [RequestMethod.GET, 'GET'],
  [RequestMethod.POST, 'POST'],
  [RequestMethod.PUT, 'PUT'],
  [RequestMethod.PATCH, 'PATCH'],
  [RequestMethod.DELETE, 'DELETE'],
]);

/** What Nest's pipes are told each kind of parameter is (ParamsTokenFactory). */
const PIPED_PARAMTYPES = new Map<RouteParamtypes, Paramtype>([
  [RouteParamtypes.BODY, 'body'],
  [RouteParamtypes.PARAM, 'param'],
]);

/** Route-level decorators the fast lane does not implement; a @FastPath handler with one would answer differently. */
const UNSUPPORTED_ROUTE_METADATA: readonly (readonly [key: string, decorator: string])[] = [
  [REDIRECT_METADATA, '@Redirect'],
  [RENDER_METADATA, '@Render'],
  [SSE_METADATA, '@Sse'],
  [VERSION_METADATA, '@Version'],
];

const GLOBAL_ENHANCERS = [APP_GUARD, APP_INTERCEPTOR, APP_PIPE, APP_FILTER] as const;

/** A @FastPath handler the fast lane cannot serve as Nest would. Thrown at boot, so the application does not start. */
export class FastPathRefused extends Error {
  override readonly name = 'FastPathRefused';
}

type Handler = (...args: unknown[]) => unknown;
type Controller = abstract new (...args: never[]) => unknown;

interface DiscoveredHandler {
  readonly wrapper: InstanceWrapper;
  readonly instance: object;
  readonly controller: Controller;
  readonly methodName: string;
  readonly handler: Handler;
}

interface RouteArgument {
  readonly index: number;
  readonly data?: unknown;
  readonly pipes?: readonly unknown[];
  readonly factory?: unknown;
  readonly schema?: unknown;
}

/**
 * Finds the @FastPath handlers among the application's controllers (Nest's DiscoveryService) and derives each one's
 * FastRoute from the metadata Nest's own router reads, so the two cannot disagree; throws FastPathRefused naming the
 * controller and handler when a decorator asks for something the fast lane would skip.
 */
@Injectable()
export class FastRouteExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  /** The @FastPath routes. Throws FastPathRefused for one the fast lane cannot serve as Nest would. */
  routes(): FastRoute[] {
    const routes = this.handlers().flatMap(({ wrapper, instance, controller, methodName, handler }) => {
      const options = this.reflector.get<FastPathOptions | undefined>(FAST_PATH, handler);
      return options === undefined ? [] : this.derive(wrapper, instance, controller, methodName, handler, options);
    });
    if (routes.length > 0) this.refuseGlobalEnhancers();
    return routes;
  }

  /**
   * Global guards, interceptors, pipes and filters provided as APP_GUARD and the like run on every route, fast ones
   * included: the fast lane spends RateLimitGuard's budget itself (through RateLimiter) and knows no other. (Those
   * added with app.useGlobal… are not providers; createApp adds only the exception filter, whose answers the fast
   * lane gives through sendError.)
   */
  private refuseGlobalEnhancers(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const token = typeof wrapper.token === 'string' ? wrapper.token : '';
      const kind = GLOBAL_ENHANCERS.find((enhancer) => token.startsWith(enhancer));
      if (kind === undefined || (kind === APP_GUARD && wrapper.instance instanceof RateLimitGuard)) continue;
      throw new FastPathRefused(`@FastPath routes: the global ${kind} ${nameOf(wrapper.metatype ?? wrapper.instance)} is not honoured by the fast path`);
    }
  }

  /** The paths of every route declared @PublicCors, fast or not: what Express's CORS middleware answers (publicPathMatcher). */
  publicCorsPaths(): string[] {
    const paths = this.handlers()
      .filter(({ controller, handler }) => Reflect.getMetadata(METHOD_METADATA, handler) !== undefined && isPublicCorsRoute(this.reflector, handler, controller))
      .flatMap(({ controller, handler }) => pathsOf(controller, handler));
    return [...new Set(paths)];
  }

  /** Every method of every controller the application holds. */
  private handlers(): DiscoveredHandler[] {
    const found: DiscoveredHandler[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const instance: unknown = wrapper.instance;
      const controller = wrapper.metatype as Controller | null;
      if (typeof instance !== 'object' || instance === null || typeof controller !== 'function') continue;
      const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        found.push({ wrapper, instance, controller, methodName, handler: prototype[methodName] as Handler });
      }
    }
    return found;
  }

  private derive(wrapper: InstanceWrapper, instance: object, controller: Controller, methodName: string, handler: Handler, options: FastPathOptions): FastRoute[] {
    const name = `${controller.name}.${methodName}`;
    const refuse = (what: string): never => {
      throw new FastPathRefused(`${name}: ${what} is not honoured by the fast path`);
    };
    const requestMethod = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
    const method = requestMethod === undefined ? undefined : HTTP_METHODS.get(requestMethod);
    if (method === undefined) return refuse(requestMethod === undefined ? '@FastPath on a method that is not a route' : `@${RequestMethod[requestMethod]}`);
    for (const [key, decorator] of UNSUPPORTED_ROUTE_METADATA) {
      if (Reflect.getMetadata(key, handler) !== undefined || Reflect.getMetadata(key, controller) !== undefined) refuse(decorator);
    }

    const guards = this.beforeHandlers(wrapper, GUARDS_METADATA, controller, handler, (enhancer) => refuse(`@UseGuards(${nameOf(enhancer)})`));
    const interceptors = this.beforeHandlers(wrapper, INTERCEPTORS_METADATA, controller, handler, (enhancer) => refuse(`@UseInterceptors(${nameOf(enhancer)})`));
    for (const target of [controller, handler]) {
      const filters = (Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, target) ?? []) as unknown[];
      if (filters.length > 0) refuse(`@UseFilters(${filters.map(nameOf).join(', ')})`);
    }
    const routePipes = [controller, handler].flatMap((target) => (Reflect.getMetadata(PIPES_METADATA, target) ?? []) as unknown[]).map((pipe) => pipeInstance(pipe, () => refuse(`@UsePipes(${nameOf(pipe)})`)));

    const metatypes = (Reflect.getMetadata('design:paramtypes', instance, methodName) ?? []) as unknown[];
    const argumentsMetadata = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, methodName) ?? {}) as Record<string, RouteArgument>;
    const params = Object.entries(argumentsMetadata).map(([key, argument]) => fastParam(key, argument, metatypes[argument.index], routePipes, refuse));
    if (Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, controller, methodName) === true) refuse('@Res({ passthrough: true })');
    const kinds = Object.keys(argumentsMetadata).map(paramtypeOf);
    const respondsItself = kinds.includes(RouteParamtypes.RESPONSE);
    const readsRequest = kinds.includes(RouteParamtypes.REQUEST);
    if (options.document && (params.length > 0 || guards.length > 0 || interceptors.length > 0 || method !== 'GET')) {
      refuse('@FastPath({ document: true }) on a handler that is not a GET without parameters, guards or interceptors');
    }

    const headers = ((Reflect.getMetadata(HEADERS_METADATA, handler) ?? []) as { name: string; value: string }[]).map(({ name: header, value }) => [header, value] as const);
    const declaredType = headers.find(([header]) => header.toLowerCase() === 'content-type')?.[1];
    const jsonContentType = withUtf8Charset(declaredType ?? 'application/json', () => refuse(`@Header('Content-Type', '${declaredType}')`));
    const declaredStatus = Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined;
    const status = declaredStatus ?? (method === 'POST' ? HttpStatus.CREATED : HttpStatus.OK);
    const policy = rateLimitPolicyOf(this.reflector, handler, controller);
    const cors = isPublicCorsRoute(this.reflector, handler, controller);
    const argumentCount = params.reduce((count, param) => Math.max(count, param.index + 1), 0);
    const invoke = (args: unknown[]): unknown => handler.apply(instance, args);

    return pathsOf(controller, handler).map((path) => ({
      name,
      method,
      path,
      paramNames: path.split('/').filter((segment) => segment.startsWith(':')).map((segment) => segment.slice(1)),
      policy,
      cors,
      readsBody: method !== 'GET',
      status,
      headers,
      jsonContentType,
      document: options.document === true,
      guards,
      interceptors,
      params,
      argumentCount,
      respondsItself,
      readsRequest,
      invoke,
    }));
  }

  /** The guards or interceptors on the class, then on the handler, as the instances Nest made; `refuse` for any other. */
  private beforeHandlers(wrapper: InstanceWrapper, key: string, controller: Controller, handler: Handler, refuse: (enhancer: unknown) => never): BeforeHandler[] {
    return [controller, handler].flatMap((target) => (Reflect.getMetadata(key, target) ?? []) as unknown[]).map((enhancer) => {
      // A class is resolved as Nest resolves it: the instance its module holds as an injectable.
      const instance: unknown = typeof enhancer === 'function' ? wrapper.host?.injectables.get(enhancer)?.instance : enhancer;
      return isBeforeHandler(instance) ? instance : refuse(enhancer);
    });
  }
}

/** The paths Nest registers for a handler: each controller path joined with each handler path, `/`-separated. */
function pathsOf(controller: Controller, handler: Handler): string[] {
  const list = (value: unknown): string[] => (Array.isArray(value) ? (value as string[]) : [typeof value === 'string' ? value : '/']);
  const prefixes = list(Reflect.getMetadata(PATH_METADATA, controller));
  const paths = list(Reflect.getMetadata(PATH_METADATA, handler));
  return prefixes.flatMap((prefix) => paths.map((path) => `/${[prefix, path].flatMap((part) => part.split('/')).filter((segment) => segment !== '').join('/')}`));
}

function paramtypeOf(key: string): RouteParamtypes | undefined {
  if (key.includes(CUSTOM_ROUTE_ARGS_METADATA)) return undefined;
  return Number(key.split(':')[0]) as RouteParamtypes;
}

/** One parameter's FastParam, or `refuse` when the fast lane cannot find its value as Nest would. */
function fastParam(key: string, argument: RouteArgument, metatype: unknown, routePipes: readonly PipeTransform[], refuse: (what: string) => never): FastParam {
  const { index, data } = argument;
  const where = `parameter ${index + 1}`;
  if (argument.schema !== undefined) refuse(`the schema of ${where}`);
  const ownPipes = (argument.pipes ?? []).map((pipe) => pipeInstance(pipe, () => refuse(`a pipe class on ${where}`)));
  const metatypeOf = typeof metatype === 'function' ? (metatype as ArgumentMetadata['metatype']) : undefined;
  const paramtype = paramtypeOf(key);
  if (paramtype === undefined) {
    const read = requestReaderOf(argument.factory);
    if (read === undefined) refuse(`the decorator of ${where} (not made by createRequestParamDecorator)`);
    // Nest pipes every custom parameter, as type 'custom'.
    const metadata: ArgumentMetadata = { type: 'custom', metatype: metatypeOf, data: data as string | undefined };
    return { index, read: (req) => read!(req, data), pipes: [...routePipes, ...ownPipes], metadata };
  }
  switch (paramtype) {
    case RouteParamtypes.REQUEST:
      return { index, read: (req) => req, pipes: [], metadata: { type: 'custom', metatype: metatypeOf } };
    case RouteParamtypes.RESPONSE:
      return { index, read: (_req, res) => res, pipes: [], metadata: { type: 'custom', metatype: metatypeOf } };
    case RouteParamtypes.BODY:
    case RouteParamtypes.PARAM: {
      const name = typeof data === 'string' ? data : undefined;
      const read: FastParam['read'] =
        paramtype === RouteParamtypes.BODY
          ? (req) => (name === undefined || req.body === undefined || req.body === null ? req.body : (req.body as Record<string, unknown>)[name])
          : (_req, _res, routeParams) => (name === undefined ? routeParams : routeParams[name]);
      return { index, read, pipes: [...routePipes, ...ownPipes], metadata: { type: PIPED_PARAMTYPES.get(paramtype)!, metatype: metatypeOf, data: name } };
    }
    default:
      return refuse(`@${RouteParamtypes[paramtype] ?? paramtype} on ${where}`);
  }
}

/** A pipe given as an instance runs as it is; a class would need Nest's injector, which the fast lane does not have. */
function pipeInstance(pipe: unknown, refuse: () => never): PipeTransform {
  return typeof pipe === 'object' && pipe !== null && typeof (pipe as Partial<PipeTransform>).transform === 'function' ? (pipe as PipeTransform) : refuse();
}

/** Express's res.send sets charset=utf-8 on a string body's Content-Type; anything with other parameters is refused. */
function withUtf8Charset(contentType: string, refuse: () => never): string {
  const [type, ...parameters] = contentType.split(';').map((part) => part.trim());
  if (parameters.some((parameter) => !/^charset=/i.test(parameter))) refuse();
  return `${type!.toLowerCase()}; charset=utf-8`;
}

function nameOf(enhancer: unknown): string {
  if (typeof enhancer === 'function') return enhancer.name || 'anonymous';
  if (typeof enhancer === 'object' && enhancer !== null) return enhancer.constructor.name;
  return String(enhancer);
}
