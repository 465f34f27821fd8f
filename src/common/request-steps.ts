import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { HttpRequest } from './http.js';

/**
 * Reads a handler parameter from the request alone (what a `@Param`-like decorator made by
 * createRequestParamDecorator returns), given the decorator's argument.
 */
export type RequestReader = (req: HttpRequest, data: unknown) => unknown;

/** Each request parameter decorator's Nest factory, and the reader it calls. */
const readers = new WeakMap<object, RequestReader>();

/**
 * A parameter decorator whose value comes from the request alone. Nest calls it through its execution context; the
 * fast lane (src/fast-lane/) calls `read` directly (requestReaderOf), and refuses to serve a handler with a
 * parameter decorator made any other way, because it cannot know what such a decorator reads.
 */
export function createRequestParamDecorator<Data = undefined, Value = unknown>(read: (req: HttpRequest, data: Data) => Value): (data?: Data) => ParameterDecorator {
  const factory = (data: Data, context: ExecutionContext): Value => read(context.switchToHttp().getRequest<HttpRequest>(), data);
  readers.set(factory, read as RequestReader);
  return createParamDecorator(factory) as (data?: Data) => ParameterDecorator;
}

/** The reader behind a parameter decorator's factory (ROUTE_ARGS_METADATA), when createRequestParamDecorator made it. */
export function requestReaderOf(factory: unknown): RequestReader | undefined {
  return typeof factory === 'function' ? readers.get(factory) : undefined;
}

/**
 * A guard or interceptor whose whole work is done on the request and response before the handler runs: a check
 * that throws, a header, a value put on the request. Nest runs it as a guard or interceptor; the fast lane runs
 * `beforeHandler` itself, in Nest's order, and refuses to serve a handler carrying a guard or interceptor that is not
 * one of these.
 */
export interface BeforeHandler {
  beforeHandler(req: HttpRequest, res: ServerResponse): void | Promise<void>;
}

export function isBeforeHandler(enhancer: unknown): enhancer is BeforeHandler {
  return typeof enhancer === 'object' && enhancer !== null && typeof (enhancer as Partial<BeforeHandler>).beforeHandler === 'function';
}
