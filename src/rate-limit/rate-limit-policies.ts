import type { RateLimitPolicy } from '../config/rate-limit-budgets.js';

// The policy names and their default budgets are configuration (RATE_LIMIT_<POLICY>), so config/ declares them;
// this file adds what a request must prove under each policy.
export type { RateLimitPolicy };

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
