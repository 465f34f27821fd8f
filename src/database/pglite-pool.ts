import { parse, protocol, type PGlite, type Results } from '@electric-sql/pglite';

const ACQUIRE_TIMEOUT_MS = 30_000;
/**
 * Named statements kept in the session at most. Each hot statement has one name (its text's hash), so this is only
 * reached by statements built per call (a batch with a varying number of rows); the oldest is then closed.
 */
const MAX_PREPARED = 256;

type Callback = (error: Error | null, result?: PgResult) => void;
export interface PgResult {
  rows: unknown[];
  rowCount: number;
  command: string;
  fields: Results['fields'];
}

/** node-postgres's query config: with a `name`, the statement is prepared once in the session and reused. */
export interface QueryConfig {
  name?: string;
  text: string;
  values?: unknown[];
}

/**
 * The one PGlite session, and what it has prepared. Parsing and planning cost PGlite (PostgreSQL compiled to
 * WebAssembly) far more than running a hot statement does, a few milliseconds for a statement of several CTEs; a
 * named statement is parsed and planned once, and then each call is one Bind/Execute/Sync round into the database.
 */
class PgliteSession {
  /** Prepared statement name → its parameters' type OIDs, oldest first. */
  private readonly prepared = new Map<string, number[]>();

  constructor(readonly db: PGlite) {}

  async run(sql: string, params: unknown[] | undefined): Promise<PgResult> {
    const command = commandOf(sql);
    if (params && params.length > 0) {
      const result = await this.db.query(sql, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length, command, fields: result.fields };
    }
    const results = await this.db.exec(sql);
    const last = results[results.length - 1];
    return { rows: last?.rows ?? [], rowCount: last?.affectedRows ?? last?.rows.length ?? 0, command, fields: last?.fields ?? [] };
  }

  async runNamed(name: string, sql: string, params: unknown[]): Promise<PgResult> {
    const types = this.prepared.get(name) ?? (await this.prepare(name, sql));
    // As PGlite's own query(): each value through the serializer of its parameter's type, else as text.
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = this.db.serializers[types[i] ?? 0];
      return serializer ? serializer(value) : String(value);
    });
    const { messages } = await this.db.execProtocol(
      concat([
        protocol.serialize.bind({ statement: name, values }),
        protocol.serialize.describe({ type: 'P' }),
        protocol.serialize.execute({}),
        protocol.serialize.sync(),
      ]),
    );
    const result = parse.parseResults(messages, this.db.parsers)[0];
    const rows = result?.rows ?? [];
    return { rows, rowCount: result?.affectedRows ?? rows.length, command: commandOf(sql), fields: result?.fields ?? [] };
  }

  private async prepare(name: string, sql: string): Promise<number[]> {
    const oldest = this.prepared.size >= MAX_PREPARED ? this.prepared.keys().next().value : undefined;
    if (oldest !== undefined) this.prepared.delete(oldest);
    const { messages } = await this.db.execProtocol(
      concat([
        ...(oldest === undefined ? [] : [protocol.serialize.close({ type: 'S', name: oldest })]),
        protocol.serialize.parse({ name, text: sql, types: [] }),
        protocol.serialize.describe({ type: 'S', name }),
        protocol.serialize.sync(),
      ]),
    );
    const types = parse.parseDescribeStatementResults(messages);
    this.prepared.set(name, types);
    return types;
  }

  /** A query in node-postgres's forms: (text, values) or a config with a name. */
  query(config: string | QueryConfig, params: unknown[] | undefined): Promise<PgResult> {
    if (typeof config === 'string') return this.run(config, params);
    if (config.name) return this.runNamed(config.name, config.text, config.values ?? []);
    return this.run(config.text, config.values);
  }
}

function commandOf(sql: string): string {
  return (/^\s*(\w+)/.exec(sql)?.[1] ?? '').toUpperCase();
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

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
  constructor(private readonly session: PgliteSession) {}

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
 * A node-postgres-shaped pool over one PGlite instance, for TypeORM's `postgres` driver.
 *
 * PGlite is a single session, so a "connection" here is exclusive use of it: `connect()` waits its turn and
 * `release()` hands it on. That keeps concurrent transactions from interleaving their statements in one session,
 * which a pool that hands out the same session to every caller would do (two concurrent BEGINs share one
 * transaction, and one ROLLBACK undoes both).
 */
export class PglitePool {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly session: PgliteSession) {}

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

  /** A one-off query outside any transaction still waits for exclusive use. */
  query(config: string | QueryConfig, params?: unknown[]): Promise<PgResult>;
  query(config: string | QueryConfig, paramsOrCallback: unknown[] | Callback | undefined, callback?: Callback): Promise<PgResult> | void;
  query(config: string | QueryConfig, paramsOrCallback?: unknown[] | Callback, callback?: Callback): Promise<PgResult> | void {
    const { params, cb } = queryArguments(paramsOrCallback, callback);
    const promise = this.acquire().then(async (release) => {
      try {
        return await this.session.query(config, params);
      } finally {
        release();
      }
    });
    return settle(promise, cb);
  }

  end(callback?: (error: Error | null) => void): void {
    // Wait for the queue to drain, then close the instance.
    void this.acquire()
      .then(async (release) => {
        await this.session.db.close();
        release();
      })
      .then(() => callback?.(null), (error: Error) => callback?.(error));
  }
}

/** TypeORM's `driver` option for PGlite: the node-postgres module shape, whose `new Pool()` is this instance's. */
export function pglitePoolDriver(db: PGlite): { Pool: new () => PglitePool } {
  const session = new PgliteSession(db);
  return {
    Pool: class extends PglitePool {
      constructor() {
        super(session);
      }
    },
  };
}
