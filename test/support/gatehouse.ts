import type { NestExpressApplication } from '@nestjs/platform-express';
import type { LoggerService } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, type GatehouseConfig } from '../../src/config/config.js';
import { createApp } from '../../src/bootstrap.js';
import { createTestDatabase } from './postgres.js';
import { freePort } from './net.js';
import { seedPglite } from './pglite-template.js';
import type { FakeGithub } from '../fakes/fake-github.js';
import type { HostResolver } from '../../src/registration/host-resolver.js';
import type { AuditModuleOptions } from '../../src/audit/audit-options.js';

export type DatabaseKind = 'pglite' | 'postgres';

export interface RunningGatehouse {
  url: string;
  config: GatehouseConfig;
  app: NestExpressApplication;
  db: DataSource;
  adminToken: string;
  /** Rows in a table right now: used to prove that a failed request wrote nothing. */
  count(table: string): Promise<number>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Where its data lives: pass it to another startGatehouse to run on the same database. */
  storage: TestStorage;
  /** Stops the app; its data is removed unless `keepStorage` (then whoever reuses the storage removes it). */
  close(options?: { keepStorage?: boolean }): Promise<void>;
  /** Stops this app and starts a new one on the same data and port (a restart), with the same options. */
  restart(): Promise<RunningGatehouse>;
}

/** A database a Gatehouse runs on: the environment that points at it, and how to remove it. */
export interface TestStorage {
  env: Record<string, string>;
  dispose(): Promise<void>;
}

export interface StartOptions {
  database?: DatabaseKind;
  github?: FakeGithub;
  env?: Record<string, string>;
  logger?: LoggerService;
  /** Replaces DNS for client metadata document fetches (see FakeDns). */
  hostResolver?: HostResolver;
  /** Run on an existing database (from RunningGatehouse.storage) instead of a fresh one; the new app owns it. */
  storage?: TestStorage;
  /** Listen on this port (default: a free one). */
  port?: number;
  /** Audit module options (extra sinks, hooks). */
  audit?: AuditModuleOptions;
}

/** Collects log lines in memory, so tests can read them (and assert nothing secret was logged). */
export class MemoryLogger implements LoggerService {
  readonly lines: string[] = [];
  log(...args: unknown[]): void {
    this.lines.push(JSON.stringify(args, replacer));
  }
  error(...args: unknown[]): void {
    this.lines.push(JSON.stringify(args, replacer));
  }
  warn(...args: unknown[]): void {
    this.lines.push(JSON.stringify(args, replacer));
  }
  debug(...args: unknown[]): void {
    this.lines.push(JSON.stringify(args, replacer));
  }
  verbose(...args: unknown[]): void {
    this.lines.push(JSON.stringify(args, replacer));
  }
}
function replacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { message: value.message, stack: value.stack } : value;
}

/**
 * Starts the real Gatehouse application on a loopback port, on PGlite (temp folder holding a copy of an empty,
 * initialised cluster: see pglite-template.ts) or a fresh PostgreSQL database.
 */
export async function startGatehouse(options: StartOptions = {}): Promise<RunningGatehouse> {
  const port = options.port ?? (await freePort());
  const adminToken = randomBytes(24).toString('hex');
  const storage = options.storage ?? (await createStorage(options.database ?? 'pglite'));
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    ADMIN_TOKEN: adminToken,
    LOG_LEVEL: 'error',
    // Audit events as JSON lines on stdout would be noise in test output; tests that want them set AUDIT_LOG.
    AUDIT_LOG: 'off',
    ...options.github?.env,
    ...options.env,
    ...storage.env,
  };
  const config = loadConfig(env);
  const app = await createApp(config, { logger: options.logger ?? new MemoryLogger(), hostResolver: options.hostResolver, audit: options.audit }).catch(async (error: unknown) => {
    // An application that refused to start leaves no database behind (unless the caller brought it).
    if (!options.storage) await storage.dispose();
    throw error;
  });
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const db = app.get(DataSource);
  return {
    url,
    config,
    app,
    db,
    adminToken,
    async count(table: string): Promise<number> {
      const rows = (await db.query(`SELECT count(*)::int AS n FROM ${table}`)) as Array<{ n: number }>;
      return rows[0]?.n ?? 0;
    },
    async admin(method: string, path: string, body?: unknown) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    storage,
    async close({ keepStorage = false } = {}) {
      await app.close();
      if (!keepStorage) await storage.dispose();
    },
    async restart() {
      await app.close();
      return startGatehouse({ ...options, storage, port });
    },
  };
}

async function createStorage(kind: DatabaseKind): Promise<TestStorage> {
  if (kind === 'postgres') {
    const database = await createTestDatabase();
    return { env: { DATABASE_URL: database.url, ENCRYPTION_KEY: randomBytes(32).toString('hex') }, dispose: database.drop };
  }
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-test-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  await seedPglite(join(dir, 'pglite')).catch(async (error: unknown) => {
    await dispose();
    throw error;
  });
  return { env: { DATA_DIR: dir }, dispose };
}

/** Registers a resource server through the admin API and returns it with its one-time secret. */
export async function createResource(
  gatehouse: RunningGatehouse,
  input: { name?: string; resource: string; scopes: string[]; scope_descriptions?: Record<string, string>; default_scopes?: string[]; is_default?: boolean; access_token_ttl?: number; sign_in?: unknown; identity_claims?: string[]; require_dpop?: boolean },
): Promise<{ id: string; resource: string; registration_secret: string; scopes: string[] }> {
  // Tests about other things sign in with whichever fake GitHub user they like; sign-in policy tests pass their own.
  const { status, body } = await gatehouse.admin('POST', '/admin/resources', { name: input.name ?? 'Test MCP server', sign_in: { providers: null, allow: 'everyone' }, ...input });
  if (status !== 201) throw new Error(`creating resource failed: ${status} ${JSON.stringify(body)}`);
  return body;
}
