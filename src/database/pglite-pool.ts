import type { PGlite, Results } from '@electric-sql/pglite';

const ACQUIRE_TIMEOUT_MS = 30_000;

type Callback = (error: Error | null, result?: PgResult) => void;
interface PgResult {
  rows: unknown[];
  rowCount: number;
  command: string;
  fields: Results['fields'];
}

/**
 * A node-postgres-shaped pool over one PGlite instance, for TypeORM's `postgres` driver.
 *
 * PGlite is a single session, so a "connection" here is exclusive use of it: `connect()` waits its turn and
 * `release()` hands it on. That keeps concurrent transactions from interleaving their statements in one session,
 * which a pool that hands out the same session to every caller would do (two concurrent BEGINs share one
 * transaction, and one ROLLBACK undoes both).
 */
export function pglitePoolDriver(db: PGlite): { Pool: new () => unknown } {
  let tail: Promise<void> = Promise.resolve();

  function acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const ready = tail.then(() => release);
    tail = tail.then(() => next);
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

  async function run(sql: string, params: unknown[] | undefined): Promise<PgResult> {
    const command = (/^\s*(\w+)/.exec(sql)?.[1] ?? '').toUpperCase();
    if (params && params.length > 0) {
      const result = await db.query(sql, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length, command, fields: result.fields };
    }
    const results = await db.exec(sql);
    const last = results[results.length - 1];
    return { rows: last?.rows ?? [], rowCount: last?.affectedRows ?? last?.rows.length ?? 0, command, fields: last?.fields ?? [] };
  }

  function makeQuery() {
    return (sql: string, paramsOrCallback?: unknown[] | Callback, callback?: Callback): Promise<PgResult> | void => {
      const params = Array.isArray(paramsOrCallback) ? paramsOrCallback : undefined;
      const cb = typeof paramsOrCallback === 'function' ? paramsOrCallback : callback;
      const promise = run(sql, params);
      if (!cb) return promise;
      promise.then((result) => cb(null, result), (error: Error) => cb(error));
    };
  }

  class PglitePool {
    on(): this {
      return this;
    }

    connect(callback: (error: Error | null, connection: unknown, release: () => void) => void): void {
      acquire().then(
        (release) => {
          let released = false;
          const connection = { query: makeQuery(), on: () => connection, removeListener: () => connection };
          callback(null, connection, () => {
            if (!released) {
              released = true;
              release();
            }
          });
        },
        (error: Error) => callback(error, null, () => undefined),
      );
    }

    /** A one-off query outside any transaction still waits for exclusive use. */
    query(sql: string, params?: unknown[] | Callback, callback?: Callback): Promise<PgResult> | void {
      const cb = typeof params === 'function' ? params : callback;
      const values = Array.isArray(params) ? params : undefined;
      const promise = acquire().then(async (release) => {
        try {
          return await run(sql, values);
        } finally {
          release();
        }
      });
      if (!cb) return promise;
      promise.then((result) => cb(null, result), (error: Error) => cb(error));
    }

    end(callback?: (error: Error | null) => void): void {
      // Wait for the queue to drain, then close the instance.
      void acquire()
        .then(async (release) => {
          await db.close();
          release();
        })
        .then(() => callback?.(null), (error: Error) => callback?.(error));
    }
  }
  return { Pool: PglitePool };
}
