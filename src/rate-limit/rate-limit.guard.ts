import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectThrottlerStorage, type ThrottlerStorage } from '@nestjs/throttler';
import type { ServerResponse } from 'node:http';
import { sha256 } from '../common/crypto.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { TooManyRequests } from '../common/oauth-errors.js';
import { contextOf, type HttpRequest, type RequestContext } from '../common/http.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RATE_LIMIT_PROOF, type RateLimitPolicy } from './rate-limit-policies.js';
import { rateLimitPolicyOf } from './rate-limit.decorator.js';
import { addressTracker, RequestTracker } from './request-tracker.js';
import { RATE_LIMIT_OBSERVER, type RateLimitObserver, type Tracker } from './rate-limit-options.js';

/** Blocked trackers already reported, so a flood yields one report per tracker and window, not one per request. */
const MAX_REPORTED = 10_000;

/**
 * Spends a request from one named budget (a policy, whose limits come from config), in @nestjs/throttler's storage
 * (Redis or memory: RateLimitStorage): first the address's, before anything the request claims is looked up, so a
 * refused request costs no credential check, no metadata-document fetch and no write; then, when the request proves
 * a confidential client, a resource server or the admin token (RequestTracker), that caller's too. The caller's
 * budget only narrows the address's: one caller spread over many addresses is held to its own, and no number of
 * client_ids buys an address more. Going over answers an OAuth-shaped 429 with Retry-After, reported to the
 * RateLimitObserver (the audit log) once per block.
 * Used by RateLimitGuard and by the fast lane alike.
 */
@Injectable()
export class RateLimiter {
  private readonly reported = new Map<string, number>();

  constructor(
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly tracker: RequestTracker,
    @Inject(RATE_LIMIT_OBSERVER) private readonly observer: RateLimitObserver,
    private readonly metrics: MetricsService,
  ) {}

  /** Whether `policy` limits anything (RATE_LIMITS=off or RATE_LIMIT_<POLICY>=off turn it off). */
  enabled(policy: RateLimitPolicy): boolean {
    return this.config.rateLimits.enabled && Boolean(this.config.rateLimits.policies[policy]);
  }

  /** Counts the request and sets the RateLimit headers (the narrower budget's); throws TooManyRequests when a budget is spent. */
  async consume(policy: RateLimitPolicy, req: HttpRequest, res: ServerResponse): Promise<void> {
    const budget = this.config.rateLimits.enabled ? this.config.rateLimits.policies[policy] : undefined;
    if (!budget) return;
    res.setHeader('RateLimit-Policy', `${budget.limit};w=${Math.ceil(budget.windowMs / 1000)}`);
    let narrowest = await this.spend(policy, budget, addressTracker(req), req, res);
    const caller = await this.tracker.proven(req, RATE_LIMIT_PROOF[policy]);
    if (caller) {
      const spent = await this.spend(policy, budget, caller, req, res);
      if (spent.remaining < narrowest.remaining) narrowest = spent;
    }
    res.setHeader('RateLimit', `limit=${budget.limit}, remaining=${narrowest.remaining}, reset=${narrowest.reset}`);
  }

  /** Spends one request of `tracker`'s budget; throws TooManyRequests (with the headers) when it is spent. */
  private async spend(policy: RateLimitPolicy, { limit, windowMs }: { limit: number; windowMs: number }, tracker: Tracker, req: HttpRequest, res: ServerResponse): Promise<{ remaining: number; reset: number }> {
    // Hashed: counters in a shared store name no client, resource or address.
    const key = sha256(`${policy}\n${tracker.key}`);
    const { totalHits, timeToExpire, isBlocked, timeToBlockExpire } = await this.storage.increment(key, windowMs, limit, windowMs, policy);
    if (isBlocked) {
      const retryAfter = Math.max(1, timeToBlockExpire);
      res.setHeader('RateLimit', `limit=${limit}, remaining=0, reset=${retryAfter}`);
      this.metrics.rateLimited.inc({ policy });
      this.report(policy, key, tracker, retryAfter, contextOf(req));
      throw new TooManyRequests(retryAfter);
    }
    return { remaining: Math.max(0, limit - totalHits), reset: Math.max(0, timeToExpire) };
  }

  /** One report per tracker, policy and block. */
  private report(policy: RateLimitPolicy, key: string, tracker: Tracker, retryAfterSeconds: number, request: RequestContext | undefined): void {
    const now = Date.now();
    const until = this.reported.get(key);
    if (until !== undefined && until > now) return;
    if (this.reported.size >= MAX_REPORTED) {
      for (const [known, expiry] of this.reported) if (expiry <= now) this.reported.delete(known);
      if (this.reported.size >= MAX_REPORTED) return;
    }
    this.reported.set(key, now + retryAfterSeconds * 1000);
    this.observer.blocked({ policy, tracker, retryAfterSeconds, request });
  }
}

/** The one global guard: each route spends exactly one budget, the policy its @RateLimit names (`default` otherwise). */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const policy = rateLimitPolicyOf(this.reflector, context.getHandler(), context.getClass());
    if (!this.limiter.enabled(policy)) return true;
    const http = context.switchToHttp();
    await this.limiter.consume(policy, http.getRequest<HttpRequest>(), http.getResponse<ServerResponse>());
    return true;
  }
}
