import type { ModuleMetadata, Type } from '@nestjs/common';
import type { ParsedBody } from '../common/body-parser.js';
import type { HttpRequest, RequestContext } from '../common/http.js';
import type { RateLimitPolicy } from '../config/rate-limit-budgets.js';

/** Whom a request is counted against, and what a report may say about it (never a credential). */
export interface Tracker {
  /** Stable key input: `ip:…`, `client:…`, `resource:…` or `admin`. */
  key: string;
  kind: 'ip' | 'client' | 'resource' | 'admin';
  ip: string;
  clientId?: string;
  /** The resource server's resource URL, as audit events name resources. */
  resource?: string;
}

/** An identity a request's credentials proved. */
export type ProvenCaller =
  | { kind: 'client'; clientId: string; confidential: boolean }
  | { kind: 'resource'; resourceId: string; resource: string };

/**
 * Checks a request's credentials the way its route will (and at most once per request, so the route reuses the
 * answer). The modules that own clients and resource servers provide it: the limiter sits below them. Each method
 * rejects, or answers null, when the credentials prove nothing.
 */
export interface RateLimitCallers {
  /** The client that authenticates with the request's client credentials (`Authorization: Basic` or the body). */
  client(req: HttpRequest, body: ParsedBody): Promise<ProvenCaller>;
  /** The resource server whose registration secret the request carries as its bearer token. */
  resourceServer(req: HttpRequest): Promise<ProvenCaller | null>;
  /** A resource server or a client, as /introspect and /revoke accept either. */
  clientOrResourceServer(req: HttpRequest, body: ParsedBody): Promise<ProvenCaller>;
}

export const RATE_LIMIT_CALLERS = Symbol('RATE_LIMIT_CALLERS');

/** A budget spent: reported once per tracker, policy and block, not once per refused request. */
export interface RateLimitBlock {
  policy: RateLimitPolicy;
  tracker: Tracker;
  retryAfterSeconds: number;
  request: RequestContext | undefined;
}

/** Told of each block (the audit module records it); must not throw or delay the 429. */
export interface RateLimitObserver {
  blocked(block: RateLimitBlock): void;
}

export const RATE_LIMIT_OBSERVER = Symbol('RATE_LIMIT_OBSERVER');

/** What the application wires into RateLimitModule.forRoot. */
export interface RateLimitModuleOptions {
  /** Modules that export the two providers below. */
  imports: NonNullable<ModuleMetadata['imports']>;
  callers: Type<RateLimitCallers>;
  observer: Type<RateLimitObserver>;
}
