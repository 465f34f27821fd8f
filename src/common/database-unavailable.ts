/**
 * Whether `error` says the database cannot be reached right now (down, restarting, refusing connections, too slow
 * to answer within DATABASE_QUERY_TIMEOUT_MS) rather than that a statement is wrong. Such a failure is the
 * server's temporary state, not a bug: a request answers 503 `temporarily_unavailable` with Retry-After, and boot
 * retries. Looks through TypeORM's `driverError` and `cause` chains, where node-postgres's error sits.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseConnectionLost) return true;
  for (let depth = 0, current = error; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { code, message, driverError, cause } = current as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof code === 'string' && (NETWORK_ERRORS.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08'))) return true;
    if (typeof message === 'string' && DRIVER_MESSAGES.some((pattern) => pattern.test(message))) return true;
    current = driverError ?? cause;
  }
  return false;
}

/** Socket errors from connecting to, or talking with, the server. */
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * SQLSTATEs of a server going away or not taking work (class 08, connection exception, is matched by prefix):
 * shutting down, crashed, starting up, out of connections, statement cancelled (statement_timeout or shutdown).
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);

/** What node-postgres and its pool say without a code: the socket closed, or a timeout of ours fired. */
const DRIVER_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Query read timeout$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
];

/** A transaction's connection went away under it (Database.transaction): the database, not the statement, failed. */
export class DatabaseConnectionLost extends Error {
  constructor(cause: unknown) {
    super('the database connection was lost during the transaction', { cause });
    this.name = 'DatabaseConnectionLost';
  }
}
