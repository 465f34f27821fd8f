import autocannon from 'autocannon';
import type { LoadRequest, LoadResult } from './protocol.js';
import { summarise } from '../child.js';

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
  const { perSecond, ...rest } = summarise(result);
  return { requestsPerSecond: perSecond, ...rest };

}
