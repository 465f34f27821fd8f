import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { createHash } from 'node:crypto';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { TooManyRequests } from '../common/oauth-errors.js';
import { AuditLog, type AuditEvent } from '../audit/audit-log.js';
import type { AuditActorKind } from '../audit/audit-event.entity.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RATE_LIMIT_PROOF, type RateLimitPolicy } from './rate-limit-policies.js';
import { RATE_LIMIT_POLICY } from './rate-limit.decorator.js';
import { RequestTracker, type Tracker } from './request-tracker.js';

/** Blocked trackers already reported, so a flood yields one audit event per tracker and window, not one per request. */
const MAX_REPORTED = 10_000;

/**
 * The one global guard that applies a route's rate-limit policy. It keeps @nestjs/throttler's storage contract
 * and request hooks, and changes three things: each route spends exactly one named budget (its policy, whose
 * limits come from config) instead of every throttler; the tracker is what the request proves (see
 * RequestTracker); and going over answers an OAuth-shaped 429 with Retry-After, once audited.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  private readonly reported = new Map<string, number>();

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly tracker: RequestTracker,
    private readonly audit: AuditLog,
    private readonly metrics: MetricsService,
  ) {
    super(options, storage, reflector);
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.config.rateLimits.enabled || context.getType() !== 'http') return true;
    const policy = this.reflector.getAllAndOverride<RateLimitPolicy | undefined>(RATE_LIMIT_POLICY, [context.getHandler(), context.getClass()]) ?? 'default';
    const budget = this.config.rateLimits.policies[policy];
    if (!budget) return true;
    return this.handleRequest({
      context,
      limit: budget.limit,
      ttl: budget.windowMs,
      blockDuration: budget.windowMs,
      throttler: { name: policy, limit: budget.limit, ttl: budget.windowMs },
      getTracker: () => '',
      generateKey: () => '',
    });
  }

  protected override async handleRequest({ context, limit, ttl, blockDuration, throttler }: ThrottlerRequest): Promise<boolean> {
    const policy = throttler.name as RateLimitPolicy;
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    const tracker = await this.tracker.track(req, RATE_LIMIT_PROOF[policy]);
    // Hashed: counters in a shared store name no client, resource or address.
    const key = createHash('sha256').update(`${policy}\n${tracker.key}`).digest('base64url');
    const { totalHits, timeToExpire, isBlocked, timeToBlockExpire } = await this.storageService.increment(key, ttl, limit, blockDuration, policy);
    res.setHeader('RateLimit-Policy', `${limit};w=${Math.ceil(ttl / 1000)}`);
    if (isBlocked) {
      const retryAfter = Math.max(1, timeToBlockExpire);
      res.setHeader('RateLimit', `limit=${limit}, remaining=0, reset=${retryAfter}`);
      this.metrics.rateLimited.inc({ policy });
      this.report(policy, key, tracker, retryAfter);
      throw new TooManyRequests(retryAfter);
    }
    res.setHeader('RateLimit', `limit=${limit}, remaining=${Math.max(0, limit - totalHits)}, reset=${Math.max(0, timeToExpire)}`);
    return true;
  }

  /** One `rate_limit.exceeded` per tracker, policy and block. */
  private report(policy: RateLimitPolicy, key: string, tracker: Tracker, retryAfterSeconds: number): void {
    const now = Date.now();
    const until = this.reported.get(key);
    if (until !== undefined && until > now) return;
    if (this.reported.size >= MAX_REPORTED) {
      for (const [known, expiry] of this.reported) if (expiry <= now) this.reported.delete(known);
      if (this.reported.size >= MAX_REPORTED) return;
    }
    this.reported.set(key, now + retryAfterSeconds * 1000);
    const event: AuditEvent = {
      type: 'rate_limit.exceeded',
      clientId: tracker.clientId ?? null,
      resource: tracker.resource ?? null,
      actor: actorOf(tracker),
      data: { policy, tracker: tracker.kind, retry_after: retryAfterSeconds },
    };
    // A refusal changes nothing: written behind, batched with other observations, never delaying the 429.
    this.audit.recordObservation(event);
  }
}

/** An unauthenticated caller is a client nobody identified (the event's ip says where from). */
function actorOf(tracker: Tracker): { kind: AuditActorKind; id: string | null } {
  switch (tracker.kind) {
    case 'client':
    case 'public_client':
      return { kind: 'client', id: tracker.clientId ?? null };
    case 'resource':
      return { kind: 'resource', id: tracker.resource ?? null };
    case 'admin':
      return { kind: 'admin', id: 'api' };
    case 'ip':
      return { kind: 'client', id: null };
  }
}
