import type { Measurement } from '../child.js';
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

export type { ServerReady } from '../child.js';

export interface LoadRequest {
  url: string;
  token: string;
  durationSeconds: number;
  connections: number;
}

export type LoadResult = Omit<Measurement, 'perSecond'> & { requestsPerSecond: number };
