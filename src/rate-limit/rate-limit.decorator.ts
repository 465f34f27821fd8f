import { SetMetadata } from '@nestjs/common';
import type { RateLimitPolicy } from './rate-limit-policies.js';

export const RATE_LIMIT_POLICY = 'gatehouse:rate-limit-policy';

/** The rate-limit policy of a controller or route; routes without one fall under `default`. */
export const RateLimit = (policy: RateLimitPolicy) => SetMetadata(RATE_LIMIT_POLICY, policy);
