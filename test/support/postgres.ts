import pg from 'pg';
import { randomBytes } from 'node:crypto';

/** Why the PostgreSQL tier cannot run here, or null when TEST_DATABASE_URL points at a server. */
export function postgresUnavailable(): string | false {
  if (process.env.TEST_DATABASE_URL) return false;
  return process.env.TEST_POSTGRES_UNAVAILABLE ?? 'TEST_DATABASE_URL is not set';
}

/** A fresh, empty database on the test server, so test files never see each other's rows. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = process.env.TEST_DATABASE_URL;
  if (!admin) throw new Error('TEST_DATABASE_URL is not set');
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
