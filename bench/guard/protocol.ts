/** Messages between the benchmark's orchestrator (run.ts), its server processes (server.ts) and its load generator (load.ts). */

export const VARIANTS = ['plain', 'guard', 'guard-uncached', 'sdk'] as const;
export type Variant = (typeof VARIANTS)[number];

export const VARIANT_LABELS: Record<Variant, string> = {
  plain: 'Nest, plain unguarded route',
  guard: 'Nest, @Protected() (token cache on)',
  'guard-uncached': 'Nest, @Protected() (cacheMaxEntries 0)',
  sdk: 'Express, SDK requireBearerAuth + jose',
};

/** Handed to a server process in the BENCH_SERVER environment variable, as JSON. */
export interface ServerConfig {
  variant: Variant;
  issuer: string;
  jwksUri: string;
  resource: string;
}

/** A server process's first message: where it listens. */
export interface ServerReady {
  port: number;
}

export interface LoadRequest {
  url: string;
  token: string;
  durationSeconds: number;
  connections: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  completed: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
