import { Worker } from 'node:worker_threads';
import type { PgResult, QueryConfig } from './pglite-session.js';

/** What the worker is started with. */
export interface WorkerStart {
  dataDir: string;
}

/** Main thread → worker: a statement, or the instruction to close PGlite (then the worker ends). */
export type WorkerRequest = { id: number; kind: 'query'; config: string | QueryConfig; params: unknown[] | undefined } | { id: number; kind: 'close' };

/** Worker → main thread: the answer to request `id` (0: the database is open, or could not be opened). */
export type WorkerReply =
  | { id: number; ok: true; result: PgResult | null }
  | { id: number; ok: false; error: { message: string; name: string; fields: Record<string, string | number | boolean | null> } };

interface Pending {
  resolve: (result: PgResult | null) => void;
  reject: (error: Error) => void;
}

/**
 * The embedded database in a worker thread of its own (pglite-worker.ts), seen from the main thread. PGlite runs
 * PostgreSQL compiled to WebAssembly synchronously: in the main thread every statement would stop HTTP work and token
 * signing while it runs. Here the two proceed side by side, each on its own core.
 *
 * The worker runs requests one at a time in the order they were posted, so the order in which `query` is called is
 * the order in which statements run in the one session. Requests go out together once per turn of the event loop;
 * each answer comes back as soon as its statement has run.
 */
export class PgliteThread {
  private readonly pending = new Map<number, Pending>();
  /** Requests not yet posted: they go out together once per turn of the event loop, in call order. */
  private outbox: WorkerRequest[] = [];
  private nextId = 1;
  private failure: Error | null = null;
  private closing = false;
  private readonly exited: Promise<void>;

  private constructor(private readonly worker: Worker) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (reply: WorkerReply) => this.answer(reply));
    worker.on('error', (error: Error) => this.fail(new Error(`the embedded database's thread failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => this.fail(new Error(`the embedded database's thread stopped (exit code ${code})`)));
    // The thread keeps the process alive only while an answer is awaited, as a socket with a query in flight does.
    worker.unref();
  }

  /** Starts the worker and opens PGlite in `dataDir`; rejects with PGlite's error if it cannot be opened. */
  static async open(dataDir: string): Promise<PgliteThread> {
    const worker = new Worker(new URL('./pglite-worker.js', import.meta.url), { workerData: { dataDir } satisfies WorkerStart });
    const thread = new PgliteThread(worker);
    const opened = new Promise<PgResult | null>((resolve, reject) => thread.pending.set(0, { resolve, reject }));
    thread.worker.ref();
    try {
      await opened;
    } catch (error) {
      // The caller hears of it from this rejection: the thread's end is expected.
      thread.closing = true;
      await thread.worker.terminate();
      throw error;
    } finally {
      thread.worker.unref();
    }
    return thread;
  }

  /** Posts the statement at once (so calls run in call order) and resolves with its result. */
  query(config: string | QueryConfig, params: unknown[] | undefined): Promise<PgResult> {
    return this.request({ kind: 'query', config, params }) as Promise<PgResult>;
  }

  /** Closes PGlite (after every statement posted before) and waits for the thread to end. */
  async close(): Promise<void> {
    // Until the thread has ended: the process must not exit while PGlite is still closing.
    this.closing = true;
    this.worker.ref();
    try {
      if (!this.failure) await this.request({ kind: 'close' });
    } catch (error) {
      await this.worker.terminate();
      throw error;
    }
    await this.exited;
  }

  private request(message: { kind: 'query'; config: string | QueryConfig; params: unknown[] | undefined } | { kind: 'close' }): Promise<PgResult | null> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const answered = new Promise<PgResult | null>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (this.pending.size === 1) this.worker.ref();
    if (this.outbox.length === 0) setImmediate(() => this.flush());
    this.outbox.push({ ...message, id });
    return answered;
  }

  private flush(): void {
    if (!this.failure) this.worker.postMessage(this.outbox);
    this.outbox = [];
  }

  private answer(reply: WorkerReply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0 && !this.closing) this.worker.unref();
    if (reply.ok) waiting.resolve(reply.result);
    else waiting.reject(Object.assign(new Error(reply.error.message), reply.error.fields, { name: reply.error.name }));
  }

  /**
   * The thread is gone: every awaited answer, and every later request, fails with `error`. Unless it was closing, the
   * process then ends as on any uncaught error: the database will not come back in this process, and a supervisor's
   * restart reopens it, where staying up would answer every request with an error.
   */
  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
    setImmediate(() => {
      if (!this.closing) throw error;
    });
  }
}
