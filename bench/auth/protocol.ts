import type { Measurement } from '../child.js';
/** Types shared by the auth benchmark's orchestrator (run.ts), its servers (peer.ts, hello.ts) and its load generator (load.ts). */

/** The two authorization servers compared. */
export const SIDES = ['gatehouse', 'peer'] as const;
export type Side = (typeof SIDES)[number];

export const SIDE_LABELS: Record<Side, string> = { gatehouse: 'Gatehouse', peer: 'oidc-provider' };

/** Measured scenarios, in table order. `memory` is not a throughput scenario: it issues BENCH_MEMORY_TOKENS on Gatehouse. */
export const SCENARIOS = ['refresh', 'introspect', 'flow', 'sequential', 'metadata', 'jwks'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const SCENARIO_LABELS: Record<Scenario, string> = {
  refresh: 'refresh_token grant (rotation)',
  introspect: 'introspection, valid access token',
  flow: 'full flow: authorize → login → consent → token',
  sequential: 'one flow at a time (one person)',
  metadata: 'metadata document',
  jwks: 'JWKS',
};

/** Everything a client (the load generator, or the orchestrator's checks) needs to talk OAuth to one side. */
export interface SideTarget {
  side: Side;
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  introspectionEndpoint: string;
  metadataUrl: string;
  jwksUrl: string;
  client: { id: string; secret: string; redirectUri: string };
  /** The resource (RFC 8707) whose access tokens are JWTs. */
  resource: string;
  /** The resource whose access tokens the introspection scenario asks about (the peer cannot introspect JWTs). */
  introspectionResource: string;
  scope: string;
  /** Gatehouse only: the product side of login_method external + consent_uri. */
  product?: { loginUri: string; consentUri: string; registrationSecret: string };
}

/** Handed to the peer process in the BENCH_PEER environment variable, as JSON. */
export interface PeerConfig {
  /** Its PostgreSQL adapter's database; without one, oidc-provider keeps everything in its default in-memory adapter. */
  databaseUrl?: string;
  resource: string;
  opaqueResource: string;
  scopes: string[];
  client: { id: string; secret: string; redirectUri: string };
}

export type { ServerReady } from '../child.js';

/** One autocannon measurement of a fixed request. */
export interface FixedLoad {
  kind: 'fixed';
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  durationSeconds: number;
  connections: number;
}

/** Refresh-token rotation under autocannon: one chain per in-flight request, always the newest token of its chain. */
export interface RefreshLoad {
  kind: 'refresh';
  target: SideTarget;
  connections: number;
  /** Run for this long, or (when set) until this many refreshes have been answered. */
  durationSeconds: number;
  amount?: number;
}

/** N concurrent authorization-code flows, each one timed from /authorize to the token response. */
export interface FlowLoad {
  kind: 'flow';
  target: SideTarget;
  durationSeconds: number;
  concurrency: number;
}

/**
 * One flow after another on one keep-alive connection, as one person's browser (and the product backend) would go
 * through it: the latency of a flow with nothing else in flight, and of each of its requests.
 */
export interface SequentialFlowLoad {
  kind: 'sequential';
  target: SideTarget;
  durationSeconds: number;
}

/** Before refresh measurements: make sure the load generator holds enough live refresh-token chains for a side. */
export interface PrepareChains {
  kind: 'prepare';
  target: SideTarget;
  /** Top the pool up to this many chains when it holds fewer than `minimum`. */
  chains: number;
  minimum: number;
  /** Drop the chains made before and make `chains` new ones. */
  fresh: boolean;
}

export type LoadRequest = FixedLoad | RefreshLoad | FlowLoad | SequentialFlowLoad | PrepareChains;

export interface LoadResult extends Measurement {
  /** Refresh only: answers without a new refresh token (rotation did not happen). */
  notRotated?: number;
  /** Flows only: the first failure, to say what went wrong. */
  firstError?: string;
  /** Prepare only: chains held after topping up. */
  chains?: number;
  /** Sequential flows only: each request of a flow, in order, with its median time (ms) over the measurement. */
  steps?: FlowStep[];
}

export interface FlowStep {
  /** Method and path, with the path's per-flow identifiers written as `:id`. */
  request: string;
  medianMs: number;
}

export type LoadAnswer = { ok: true; result: LoadResult } | { ok: false; error: string };
