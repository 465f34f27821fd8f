import { after, before } from 'node:test';
import type { DataSource } from 'typeorm';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseConfig } from '../../src/config/config.js';
import { createDataSource } from '../../src/database/data-source.js';
import { ENTITIES } from '../../src/entities.js';
import { runMigrations } from '../../src/database/migration-runner.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { createTestDatabase, postgresUnavailable } from './postgres.js';
import { seedPglite } from './pglite-template.js';
import type { DatabaseKind } from './gatehouse.js';
import { insertParties, type Parties } from '../factories/rows.js';

export const DATABASE_KINDS: readonly DatabaseKind[] = ['pglite', 'postgres'];

/** The `skip` option for a suite on this database: the reason PostgreSQL is missing, or false. */
export function skipUnless(kind: DatabaseKind): string | false {
  return kind === 'postgres' ? postgresUnavailable() : false;
}

export interface TestDatabase {
  kind: DatabaseKind;
  /** How to open another data source on the same database (PostgreSQL only: PGlite is one per folder). */
  config: DatabaseConfig;
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * An initialised data source on a database nobody else uses: a fresh PostgreSQL database on the test server, or
 * PGlite in a new temporary folder (a copy of an empty, initialised cluster: see pglite-template.ts). Migrated unless `migrate: false`. `close()` destroys it and removes the data.
 */
export async function openTestDatabase(kind: DatabaseKind, { migrate = true } = {}): Promise<TestDatabase> {
  let config: DatabaseConfig;
  let dispose: () => Promise<void>;
  if (kind === 'postgres') {
    const database = await createTestDatabase();
    config = { kind: 'postgres', url: database.url, preparedStatements: true, connectTimeoutSeconds: 0, queryTimeoutMs: 0, poolIdleSeconds: 10 };
    dispose = database.drop;
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-it-'));
    config = { kind: 'pglite', dataDir: join(dir, 'pglite') };
    dispose = () => rm(dir, { recursive: true, force: true });
    await seedPglite(config.dataDir).catch(async (error: unknown) => {
      await dispose();
      throw error;
    });
  }
  const dataSource = await createDataSource(config, ENTITIES);
  try {
    await dataSource.initialize();
    if (migrate) await runMigrations(dataSource, MIGRATIONS);
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await dispose();
    throw error;
  }
  return {
    kind,
    config,
    dataSource,
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await dispose();
    },
  };
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves once `n` callers have arrived: every caller waits for the last one. */
export function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  const all = deferred();
  return () => {
    arrived++;
    if (arrived === n) all.resolve();
    return all.promise;
  };
}

/**
 * Inside a describe: a migrated test database with the standard parties (a user, a client, a resource server and a
 * grant), opened before the suite's tests and closed after them; `ready` receives both.
 */
export function withDatabaseAndParties(kind: DatabaseKind, ready: (db: TestDatabase, parties: Parties) => void): void {
  let opened: TestDatabase | undefined;
  before(async () => {
    opened = await openTestDatabase(kind);
    ready(opened, await insertParties(opened.dataSource));
  });
  after(async () => {
    await opened?.close();
  });
}
