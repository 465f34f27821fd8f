import type { Result } from 'autocannon';

/** What both benchmarks' child processes share: the ready handshake and autocannon's summary. */

/** A server process's first message: where it listens. */
export interface ServerReady {
  port: number;
}

/** Starts a benchmark server child: exits with its parent, and tells it the port once listening. */
export function serveChild(start: () => Promise<number>): void {
  process.on('disconnect', () => process.exit(0));
  start().then(
    (port) => process.send!({ port } satisfies ServerReady),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/** One measurement: throughput, latency and every way a request can fail. */
export interface Measurement {
  /** Requests (or, for flows, completed flows) per second. */
  perSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  completed: number;
  /** How long the load ran, in seconds (autocannon stops at its first one-second sample after the duration). */
  seconds: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export function summarise(result: Result): Measurement {
  return {
    perSecond: result.requests.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    latencyMeanMs: result.latency.mean,
    completed: result['2xx'] + result.non2xx,
    seconds: result.duration,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
