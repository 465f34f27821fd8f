/**
 * Every route belongs to one rate-limit policy. A policy names its budget, configurable per deployment as
 * RATE_LIMIT_<POLICY>; what a request must prove to be counted as someone other than its network address is the
 * rate limiter's business (rate-limit/rate-limit-policies.ts).
 */
export const RATE_LIMIT_POLICY_NAMES = ['discovery', 'authorize', 'register', 'token', 'introspect', 'login_complete', 'mint', 'admin', 'default'] as const;

export type RateLimitPolicy = (typeof RATE_LIMIT_POLICY_NAMES)[number];

/**
 * Defaults per tracker and minute. Discovery is cheap and cached by clients; registration and the product login
 * bridge are where abuse creates rows; /token and introspection carry real traffic from authenticated callers.
 */
export const RATE_LIMIT_DEFAULTS: Record<RateLimitPolicy, { limit: number; windowMs: number }> = {
  discovery: { limit: 600, windowMs: 60_000 },
  authorize: { limit: 120, windowMs: 60_000 },
  register: { limit: 30, windowMs: 60_000 },
  token: { limit: 300, windowMs: 60_000 },
  introspect: { limit: 1200, windowMs: 60_000 },
  login_complete: { limit: 120, windowMs: 60_000 },
  mint: { limit: 600, windowMs: 60_000 },
  admin: { limit: 120, windowMs: 60_000 },
  default: { limit: 300, windowMs: 60_000 },
};
