/** The guard's options, shared by the NestJS module, `verifyAccessToken` and the Express middleware. */

/** How the guard learns that a token was revoked before it expired. */
export type RevocationCheck =
  | { mode: 'none' }
  | {
      mode: 'introspect';
      /** The resource server's registration secret (sent as a Bearer credential to Gatehouse's /introspect). */
      registrationSecret: string;
      /** How long an introspection answer is trusted, in ms (default 30 000). */
      cacheTtlMs?: number;
    };

export interface GatehouseGuardOptions {
  /** Gatehouse's issuer, exactly as in its metadata (the tokens' `iss`). */
  issuer: string;
  /** This MCP server's canonical URL as registered in Gatehouse (the tokens' `aud`). */
  resource: string;
  /** Advertised in Protected Resource Metadata. */
  scopesSupported?: string[];
  /** Scopes every guarded route needs unless it names its own (@RequireScopes, or `requiredScopes` per call). */
  requiredScopes?: string[];
  /** Human-readable name advertised in Protected Resource Metadata. */
  resourceName?: string;
  /** Default `${issuer}/.well-known/jwks.json`. */
  jwksUri?: string;
  jwks?: {
    /** Keys are refetched after this long (ms, default 10 min). */
    cacheMaxAgeMs?: number;
    /** An unknown `kid` triggers at most one refetch per cool-down (ms, default 30 s). */
    cooldownMs?: number;
    /** Fetch timeout (ms, default 5 s). */
    timeoutMs?: number;
  };
  /** Allowed clock skew for `exp`/`nbf`/`iat`, seconds (default 5). */
  clockToleranceSeconds?: number;
  /** Default `{ mode: 'none' }`: tokens are trusted until they expire. */
  revocation?: RevocationCheck;
  /** Verified tokens remembered (by SHA-256 of the token), default 10 000. */
  cacheMaxEntries?: number;
}
