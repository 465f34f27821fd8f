/**
 * Every route belongs to one rate-limit policy. A policy names its budget (configurable per deployment) and what
 * a request must prove to be counted as someone other than its network address.
 */
export const RATE_LIMIT_POLICY_NAMES = ['discovery', 'authorize', 'register', 'token', 'introspect', 'login_complete', 'mint', 'admin', 'default'] as const;

export type RateLimitPolicy = (typeof RATE_LIMIT_POLICY_NAMES)[number];

/**
 * What identifies the caller for counting:
 * - `ip`: the client address (proxies believed only when trusted);
 * - `client`: an authenticated confidential client; a public client counts per client *and* address, since its
 *   client_id proves nothing and must not let others spend its budget;
 * - `caller`: a resource server (registration secret) or a client, as at /introspect and /revoke;
 * - `resource`: a resource server's backend (registration secret);
 * - `admin`: the admin token.
 * A request whose proof fails is counted by address, so guessing credentials spends the guesser's own budget.
 */
export type RateLimitProof = 'ip' | 'client' | 'caller' | 'resource' | 'admin';

export const RATE_LIMIT_PROOF: Record<RateLimitPolicy, RateLimitProof> = {
  discovery: 'ip',
  authorize: 'ip',
  register: 'ip',
  token: 'client',
  introspect: 'caller',
  login_complete: 'resource',
  mint: 'resource',
  admin: 'admin',
  default: 'ip',
};

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
