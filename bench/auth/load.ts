import autocannon from 'autocannon';
import { summarise } from '../child.js';
import { performance } from 'node:perf_hooks';
import { basicAuthorization, form, HttpClient, type HttpResponse } from './http.js';
import { fullFlow } from './flow.js';
import type { FixedLoad, FlowLoad, FlowStep, LoadAnswer, LoadRequest, LoadResult, PrepareChains, RefreshLoad, SequentialFlowLoad } from './protocol.js';

/**
 * The load generator, a process of its own so that it shares an event loop with no server it measures. One
 * measurement per message from the orchestrator, answered with its summary:
 * - fixed requests (metadata, JWKS, introspection, the hello-world ceiling) with autocannon;
 * - refresh-token rotation with autocannon, drawing each request's refresh token from a pool of chains and putting
 *   the rotated one back, so every request presents the newest token of its chain and one request per chain is in
 *   flight (a chain whose request is cut off when a measurement stops is lost; `prepare` tops the pool up);
 * - full authorization-code flows with a custom loop (autocannon cannot follow a multi-step flow): N flows at a time,
 *   each timed from /authorize to the token response;
 * - the same flows one at a time on one keep-alive connection, each request timed as well.
 */
/** Refresh-token chains by server (its issuer: several servers of one kind can be measured in one run). */
const pools = new Map<string, string[]>();
const poolOf = (issuer: string): string[] => pools.get(issuer) ?? pools.set(issuer, []).get(issuer)!;

process.on('message', (message: LoadRequest) => {
  void handle(message).then(
    (result) => process.send!({ ok: true, result } satisfies LoadAnswer),
    (error: unknown) => process.send!({ ok: false, error: error instanceof Error ? error.message : String(error) } satisfies LoadAnswer),
  );
});
process.on('disconnect', () => process.exit(0));

function handle(message: LoadRequest): Promise<LoadResult> {
  switch (message.kind) {
    case 'fixed':
      return fixed(message);
    case 'refresh':
      return refreshLoad(message);
    case 'flow':
      return flows(message);
    case 'sequential':
      return sequentialFlows(message);
    case 'prepare':
      return prepare(message);
  }
}


async function fixed(load: FixedLoad): Promise<LoadResult> {
  return summarise(
    await autocannon({
      url: load.url,
      connections: load.connections,
      duration: load.durationSeconds,
      method: load.method,
      headers: load.headers,
      ...(load.body === undefined ? {} : { body: load.body }),
    }),
  );
}

async function refreshLoad(load: RefreshLoad): Promise<LoadResult> {
  const pool = poolOf(load.target.issuer);
  if (pool.length < load.connections) throw new Error(`${load.target.side}: ${pool.length} refresh-token chains for ${load.connections} connections; prepare more`);
  const url = new URL(load.target.tokenEndpoint);
  let notRotated = 0;
  const result = await autocannon({
    url: url.origin,
    connections: load.connections,
    duration: load.durationSeconds,
    ...(load.amount ? { amount: load.amount } : {}),
    requests: [
      {
        method: 'POST',
        path: url.pathname,
        headers: {
          authorization: basicAuthorization(load.target.client.id, load.target.client.secret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        // An empty pool cannot happen while every answer returns its chain; if answers fail, the placeholder fails too.
        setupRequest: (request) => ({ ...request, body: form({ grant_type: 'refresh_token', refresh_token: pool.pop() ?? 'exhausted' }) }),
        onResponse: (status, body) => {
          if (status !== 200) return;
          const next = (JSON.parse(body) as { refresh_token?: string }).refresh_token;
          if (next) pool.push(next);
          else notRotated++;
        },
      },
    ],
  });
  return { ...summarise(result), notRotated };
}

/** Flows (each one a new user) until the pool holds `chains` refresh tokens, when it holds fewer than `minimum`. */
async function prepare(request: PrepareChains): Promise<LoadResult> {
  const pool = poolOf(request.target.issuer);
  if (request.fresh) pool.length = 0;
  if (pool.length >= request.minimum) return { ...empty(), chains: pool.length };
  const http = new HttpClient(10);
  try {
    const needed = request.chains - pool.length;
    let started = 0;
    await Promise.all(
      Array.from({ length: Math.min(10, needed) }, async () => {
        while (started < needed) {
          started++;
          const tokens = await fullFlow(http, request.target);
          if (!tokens.refreshToken) throw new Error(`${request.target.side}: the flow issued no refresh token`);
          pool.push(tokens.refreshToken);
        }
      }),
    );
  } finally {
    http.close();
  }
  return { ...empty(), chains: pool.length };
}

async function flows(load: FlowLoad): Promise<LoadResult> {
  const http = new HttpClient(load.concurrency);
  const durations: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + load.durationSeconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: load.concurrency }, async () => {
        while (performance.now() < deadline && errors === 0) {
          const begin = performance.now();
          try {
            await fullFlow(http, load.target);
            durations.push(performance.now() - begin);
          } catch (error) {
            errors++;
            firstError ??= error instanceof Error ? error.message : String(error);
          }
        }
      }),
    );
  } finally {
    http.close();
  }
  // Flows still running at the deadline are finished and counted; the rate is over the time until the last one ended.
  return flowResult(durations, started, errors, firstError);
}

/**
 * Flows one after another until the time is up, on one keep-alive connection (a browser's, which the product
 * backend's calls share here), each timed from /authorize to the token response, and each of its requests timed
 * from sending to the whole answer read.
 */
async function sequentialFlows(load: SequentialFlowLoad): Promise<LoadResult> {
  const http = new TimedHttpClient();
  const durations: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + load.durationSeconds * 1000;
  try {
    while (performance.now() < deadline && errors === 0) {
      http.startFlow();
      const begin = performance.now();
      try {
        await fullFlow(http, load.target);
        durations.push(performance.now() - begin);
      } catch (error) {
        errors++;
        firstError = error instanceof Error ? error.message : String(error);
      }
    }
  } finally {
    http.close();
  }
  return { ...flowResult(durations, started, errors, firstError), steps: http.steps() };
}

/** Rate and latency quantiles of completed flows, the rate over the time from `started` until now. */
function flowResult(durations: number[], started: number, errors: number, firstError: string | undefined): LoadResult {
  const elapsedSeconds = (performance.now() - started) / 1000;
  const sorted = [...durations].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return {
    perSecond: sorted.length / elapsedSeconds,
    latencyP50Ms: round(at(0.5)),
    latencyP99Ms: round(at(0.99)),
    latencyMeanMs: round(sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length)),
    completed: sorted.length,
    seconds: elapsedSeconds,
    non2xx: errors,
    errors,
    timeouts: 0,
    ...(firstError ? { firstError } : {}),
  };
}

/** One socket, and the time of each request by its place in the flow. */
class TimedHttpClient extends HttpClient {
  private readonly times = new Map<string, number[]>();
  private index = 0;

  constructor() {
    super(1);
  }

  startFlow(): void {
    this.index = 0;
  }

  override async request(method: 'GET' | 'POST', url: string, headers?: Record<string, string>, body?: string): Promise<HttpResponse> {
    const key = `${this.index++}\u0000${method} ${new URL(url).pathname.replace(/\/[A-Za-z0-9_-]{16,}(?=\/|$)/g, '/:id')}`;
    const begin = performance.now();
    const response = await super.request(method, url, headers, body);
    const times = this.times.get(key) ?? this.times.set(key, []).get(key)!;
    times.push(performance.now() - begin);
    return response;
  }

  steps(): FlowStep[] {
    const place = (key: string) => Number(key.split('\u0000')[0]);
    return [...this.times.entries()].sort(([a], [b]) => place(a) - place(b)).map(([key, times]) => {
      times.sort((a, b) => a - b);
      return { request: key.split('\u0000')[1]!, medianMs: round(times[Math.floor(times.length / 2)]!) };
    });
  }
}

function empty(): LoadResult {
  return { perSecond: 0, latencyP50Ms: 0, latencyP99Ms: 0, latencyMeanMs: 0, completed: 0, seconds: 0, non2xx: 0, errors: 0, timeouts: 0 };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
