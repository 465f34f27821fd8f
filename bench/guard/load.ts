import autocannon from 'autocannon';
import type { LoadRequest, LoadResult } from './protocol.js';

/**
 * The load generator, a process of its own so that it does not share an event loop with any server it measures.
 * Runs one autocannon measurement per message from the orchestrator and answers with its summary.
 */
process.on('message', (message: LoadRequest) => {
  void measure(message).then(
    (result) => process.send!({ ok: true, result }),
    (error: unknown) => process.send!({ ok: false, error: String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));

async function measure(request: LoadRequest): Promise<LoadResult> {
  const result = await autocannon({
    url: request.url,
    connections: request.connections,
    duration: request.durationSeconds,
    headers: { authorization: `Bearer ${request.token}` },
  });
  return {
    requestsPerSecond: result.requests.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    latencyMeanMs: result.latency.mean,
    completed: result['2xx'] + result.non2xx,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
