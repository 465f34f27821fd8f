import { SetMetadata } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { RateLimitPolicy } from './rate-limit-policies.js';

export const RATE_LIMIT_POLICY = 'gatehouse:rate-limit-policy';

/** The rate-limit policy of a controller or route; routes without one fall under `default`. */
export const RateLimit = (policy: RateLimitPolicy) => SetMetadata(RATE_LIMIT_POLICY, policy);

/**
 * The policy a route spends: its handler's @RateLimit, else its controller's, else `default`. RateLimitGuard and the
 * fast lane both read it here, so a route spends the same budget whichever path answers it.
 */
export function rateLimitPolicyOf(reflector: Reflector, handler: Function, controller: Function): RateLimitPolicy {
  return reflector.getAllAndOverride<RateLimitPolicy | undefined>(RATE_LIMIT_POLICY, [handler, controller]) ?? 'default';
}
