import type { LoggerService } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config/config.js';
import { isDatabaseUnavailable } from '../common/database-unavailable.js';
import { createDataSource, type EntityClasses } from './data-source.js';
import { runMigrations } from './migration-runner.js';
import { MIGRATIONS } from '../../migrations/index.js';

/** sysexits.h EX_UNAVAILABLE (a service this one needs is not available): how main.ts exits on DatabaseUnreachable. */
export const EX_UNAVAILABLE = 69;

/** Boot gave up on an unreachable database: main.ts prints the message and exits with EX_UNAVAILABLE. */
export class DatabaseUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUnreachable';
  }
}

/** First wait between boot attempts; doubled after each failure up to BACKOFF_MAX_MS. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 5000;

export interface BootClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const REAL_CLOCK: BootClock = { now: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/**
 * Opens the serving data source with the schema current. On PostgreSQL, a server that cannot be reached (down,
 * starting, refusing connections) is tried again with backoff until DATABASE_CONNECT_TIMEOUT_S has passed, one
 * log line per failed attempt naming DATABASE_URL with its password masked; then DatabaseUnreachable. Any other
 * failure (bad password, unknown database, a failing migration) stops boot at once.
 *
 * Migrations run on a data source of their own without DATABASE_QUERY_TIMEOUT_MS: that bound is for requests,
 * while a migration may rightly take long (an index on a large table) or wait for another instance's.
 */
export async function connectAtBoot(database: DatabaseConfig, entities: EntityClasses, logger: LoggerService, clock: BootClock = REAL_CLOCK): Promise<{ dataSource: DataSource; applied: string[] }> {
  if (database.kind === 'pglite') return open(database, entities);
  const started = clock.now();
  const deadline = started + database.connectTimeoutSeconds * 1000;
  const url = maskDatabaseUrl(database.url);
  for (let attempt = 1, wait = BACKOFF_FIRST_MS; ; attempt++, wait = Math.min(wait * 2, BACKOFF_MAX_MS)) {
    try {
      return await open(database, entities);
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      const reason = describe(error);
      const left = deadline - clock.now();
      const line = `database unreachable at DATABASE_URL=${url} (attempt ${attempt}): ${reason}`;
      if (left <= 0) {
        logger.warn({ msg: `${line}; giving up (DATABASE_CONNECT_TIMEOUT_S=${database.connectTimeoutSeconds})`, attempt, reason });
        const seconds = Math.round((clock.now() - started) / 1000);
        throw new DatabaseUnreachable(
          `database unreachable at DATABASE_URL=${url}: gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${seconds} s ` +
            `(DATABASE_CONNECT_TIMEOUT_S=${database.connectTimeoutSeconds}); last error: ${reason}`,
        );
      }
      const retryInMs = Math.min(wait, left);
      logger.warn({ msg: `${line}; retrying in ${retryInMs} ms`, attempt, retry_in_ms: retryInMs, reason });
      await clock.sleep(retryInMs);
    }
  }
}

async function open(database: DatabaseConfig, entities: EntityClasses): Promise<{ dataSource: DataSource; applied: string[] }> {
  let applied: string[];
  if (database.kind === 'postgres') {
    const migrator = await createDataSource({ ...database, queryTimeoutMs: 0 }, entities);
    try {
      await migrator.initialize();
      ({ applied } = await runMigrations(migrator, MIGRATIONS));
    } finally {
      if (migrator.isInitialized) await migrator.destroy();
    }
    const dataSource = await createDataSource(database, entities);
    await dataSource.initialize();
    return { dataSource, applied };
  }
  const dataSource = await createDataSource(database, entities);
  try {
    await dataSource.initialize();
    ({ applied } = await runMigrations(dataSource, MIGRATIONS));
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    throw error;
  }
  return { dataSource, applied };
}

/** `url` with its password (in the userinfo or a `password=` parameter) replaced by `****`, for logs and messages. */
export function maskDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'postgres://(unparsable URL)';
  }
  if (parsed.password) parsed.password = '****';
  if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '****');
  return parsed.href;
}

/** A one-line reason: node's connect errors for several addresses carry no message, only a code. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return error.message || (typeof code === 'string' ? code : error.name);
}
