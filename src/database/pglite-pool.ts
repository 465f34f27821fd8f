import type { PgResult, QueryConfig } from './pglite-session.js';
import type { PgliteThread } from './pglite-thread.js';

export type { PgResult, QueryConfig } from './pglite-session.js';

const ACQUIRE_TIMEOUT_MS = 30_000;

type Callback = (error: Error | null, result?: PgResult) => void;

/** Runs `promise` into a node-postgres-style callback if there is one, else returns it. */
function settle(promise: Promise<PgResult>, callback: Callback | undefined): Promise<PgResult> | void {
  if (!callback) return promise;
  promise.then((result) => callback(null, result), (error: Error) => callback(error));
}

/** Splits node-postgres's (config, values?, callback?) arguments. */
function queryArguments(paramsOrCallback: unknown[] | Callback | undefined, callback: Callback | undefined): { params: unknown[] | undefined; cb: Callback | undefined } {
  return {
    params: Array.isArray(paramsOrCallback) ? paramsOrCallback : undefined,
    cb: typeof paramsOrCallback === 'function' ? paramsOrCallback : callback,
  };
}

/** The session held by one TypeORM query runner (a transaction), until released. */
export class PgliteConnection {
  constructor(private readonly session: PgliteThread) {}

  query(config: string | QueryConfig, params?: unknown[]): Promise<PgResult>;
  query(config: string | QueryConfig, paramsOrCallback: unknown[] | Callback | undefined, callback?: Callback): Promise<PgResult> | void;
  query(config: string | QueryConfig, paramsOrCallback?: unknown[] | Callback, callback?: Callback): Promise<PgResult> | void {
    const { params, cb } = queryArguments(paramsOrCallback, callback);
    return settle(this.session.query(config, params), cb);
  }

  on(): this {
    return this;
  }

  removeListener(): this {
    return this;
  }
}

/**
 * A node-postgres-shaped pool over the one PGlite session (in its own thread), for TypeORM's `postgres` driver.
 *
 * PGlite is a single session, so a "connection" here is exclusive use of it: `connect()` waits its turn and
 * `release()` hands it on. That keeps concurrent transactions from interleaving their statements in one session,
 * which a pool that hands out the same session to every caller would do (two concurrent BEGINs share one
 * transaction, and one ROLLBACK undoes both).
 */
export class PglitePool {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly session: PgliteThread) {}

  private acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    // A query issued outside its transaction while that transaction holds the session can never run; fail loudly
    // instead of hanging. (On PostgreSQL the same mistake silently escapes the transaction.)
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`PGlite: no session after ${ACQUIRE_TIMEOUT_MS} ms; is a query running outside its transaction?`));
      }, ACQUIRE_TIMEOUT_MS);
      timer.unref();
      void ready.then((releaseSlot) => {
        if (timedOut) return releaseSlot();
        clearTimeout(timer);
        resolve(releaseSlot);
      });
    });
  }

  on(): this {
    return this;
  }

  connect(callback: (error: Error | null, connection: unknown, release: () => void) => void): void {
    this.acquire().then(
      (release) => {
        let released = false;
        callback(null, new PgliteConnection(this.session), () => {
          if (!released) {
            released = true;
            release();
          }
        });
      },
      (error: Error) => callback(error, null, () => undefined),
    );
  }

  /**
   * A one-off query outside any transaction waits until no transaction holds the session; then it is posted to the
   * database's thread and the session is handed on at once. The thread runs statements in the order posted, so
   * one-off queries queue up there one behind another (the thread does not wait for the main thread between them),
   * and a transaction that takes the session next begins after all of them.
   */
  query(config: string | QueryConfig, params?: unknown[]): Promise<PgResult>;
  query(config: string | QueryConfig, paramsOrCallback: unknown[] | Callback | undefined, callback?: Callback): Promise<PgResult> | void;
  query(config: string | QueryConfig, paramsOrCallback?: unknown[] | Callback, callback?: Callback): Promise<PgResult> | void {
    const { params, cb } = queryArguments(paramsOrCallback, callback);
    const promise = this.acquire().then((release) => {
      try {
        return this.session.query(config, params);
      } finally {
        release();
      }
    });
    return settle(promise, cb);
  }

  end(callback?: (error: Error | null) => void): void {
    // Wait for the queue to drain, then close the instance and its thread.
    void this.acquire()
      .then(async (release) => {
        try {
          await this.session.close();
        } finally {
          release();
        }
      })
      .then(() => callback?.(null), (error: Error) => callback?.(error));
  }
}

/** TypeORM's `driver` option for PGlite: the node-postgres module shape, whose `new Pool()` is this thread's session. */
export function pglitePoolDriver(thread: PgliteThread): { Pool: new () => PglitePool } {
  return {
    Pool: class extends PglitePool {
      constructor() {
        super(thread);
      }
    },
  };
}
