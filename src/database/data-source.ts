import { DataSource, type EntityManager } from 'typeorm';
import { mkdir } from 'node:fs/promises';
import type { DatabaseConfig } from '../config/config.js';
import { pglitePoolDriver } from './pglite-pool.js';
import { PgliteThread } from './pglite-thread.js';
import { lockDataDir } from './data-dir-lock.js';

/** A transaction handle passed from services to repositories; services never call TypeORM themselves. */
export type Tx = EntityManager;

/** The entity classes a data source maps: the application lists them (src/entities.ts), as they live in features. */
export type EntityClasses = readonly Function[];

/**
 * Generated uuids are the migrations' gen_random_uuid(), built into PostgreSQL 13+ and PGlite: no extension to
 * create (PGlite has neither uuid-ossp nor pgcrypto).
 */
const UUIDS = { uuidExtension: 'pgcrypto', installExtensions: false } as const;

/** PostgreSQL when DATABASE_URL is set, otherwise an embedded PGlite persisted in the data folder. */
export async function createDataSource(database: DatabaseConfig, entities: EntityClasses): Promise<DataSource> {
  if (database.kind === 'postgres') {
    return new DataSource({
      type: 'postgres',
      url: database.url,
      entities: [...entities],
      synchronize: false,
      migrationsRun: false,
      ...UUIDS,
      poolSize: 10,
      applicationName: 'gatehouse',
      // DATABASE_QUERY_TIMEOUT_MS bounds the wait for a pooled connection (connect included) and then for each
      // statement's answer, client-side: a server that is gone or silent costs a request that long, never more.
      // Keepalive lets the kernel notice a peer that vanished without closing its connections. Idle connections stay
      // open for DATABASE_POOL_IDLE_S (node-postgres closes them after 10 s by default), so that a burst after a
      // quiet spell finds its statements prepared rather than connecting and preparing them again.
      ...(database.queryTimeoutMs > 0 ? { connectTimeoutMS: database.queryTimeoutMs } : {}),
      extra: { keepAlive: true, idleTimeoutMillis: database.poolIdleSeconds * 1000, ...(database.queryTimeoutMs > 0 ? { query_timeout: database.queryTimeoutMs } : {}) },
    });
  }
  await mkdir(database.dataDir, { recursive: true, mode: 0o700 });
  const unlock = await lockDataDir(database.dataDir);
  let pglite: PgliteThread;
  try {
    pglite = await PgliteThread.open(database.dataDir);
  } catch (error) {
    await unlock();
    throw error;
  }
  const dataSource = new DataSource({
    type: 'postgres',
    driver: pglitePoolDriver(pglite),
    entities: [...entities],
    synchronize: false,
    migrationsRun: false,
    ...UUIDS,
  });
  // Release the folder when the data source closes.
  const destroy = dataSource.destroy.bind(dataSource);
  dataSource.destroy = async () => {
    try {
      await destroy();
    } finally {
      await unlock();
    }
  };
  return dataSource;
}
