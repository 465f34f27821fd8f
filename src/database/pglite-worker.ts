import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { PgliteSession } from './pglite-session.js';
import type { WorkerReply, WorkerRequest, WorkerStart } from './pglite-thread.js';

/**
 * The thread that owns the embedded database: it opens PGlite in the data folder, runs each statement the main
 * thread posts in the order posted, and closes PGlite when told. Every write PGlite makes reaches the operating system
 * (a synchronous write()) before the statement's answer is posted, as it would in the main thread.
 */
const port = parentPort!;
const { dataDir } = workerData as WorkerStart;

/**
 * Each answer goes out as soon as its statement has run, even with more statements queued behind it, so that the main
 * thread finishes one request while the next statement runs here (answers held until the queue drained made the two
 * threads take turns).
 */
function post(reply: WorkerReply): void {
  port.postMessage(reply);
}

/** An error as plain data: its message, name and PostgreSQL fields (code, detail, constraint, …). */
function describe(error: unknown): Extract<WorkerReply, { ok: false }>['error'] {
  if (!(error instanceof Error)) return { message: String(error), name: 'Error', fields: {} };
  const fields: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(error)) {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) fields[key] = value as string | number | boolean | null;
  }
  return { message: error.message, name: error.name, fields };
}

try {
  const session = new PgliteSession(await PGlite.create({ dataDir }));
  const serve = async (request: WorkerRequest): Promise<void> => {
    try {
      if (request.kind === 'close') {
        await session.close();
        post({ id: request.id, ok: true, result: null });
        setImmediate(() => port.close());
      } else {
        post({ id: request.id, ok: true, result: await session.query(request.config, request.params) });
      }
    } catch (error) {
      post({ id: request.id, ok: false, error: describe(error) });
    }
  };
  // One request at a time, in the order posted: PGlite's protocol calls must not overlap, and the main thread relies
  // on that order (a transaction's statements come after every statement posted before its BEGIN).
  let tail: Promise<void> = Promise.resolve();
  port.on('message', (requests: WorkerRequest[]) => {
    for (const request of requests) tail = tail.then(() => serve(request));
  });
  post({ id: 0, ok: true, result: null });
} catch (error) {
  post({ id: 0, ok: false, error: describe(error) });
  setImmediate(() => port.close());
}
