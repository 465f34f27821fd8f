import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { MAIN_JS } from './processes.js';
import { freePort } from './net.js';
import { createTestDatabase } from './postgres.js';
import { startRedis, type TestRedis } from './redis.js';

/**
 * Gatehouse as separate processes — the compiled main.js of the build these tests were compiled into — alone or
 * several on one PostgreSQL database and one Redis, as a deployment runs them behind a load balancer.
 */

export interface GatehouseProcess {
  name: string;
  /** `http://127.0.0.1:<port>`: this instance directly (the issuer may be another address). */
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything it printed, stdout and stderr interleaved. */
  output(): string;
  /** Its JSON log lines, parsed; other lines are left out. */
  logs(): Array<Record<string, unknown>>;
  /** The exit code once it has exited (null when a signal ended it). */
  exited: Promise<number | null>;
  readonly running: boolean;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL if still running: teardown that works whatever state a failed test left. */
  kill(): void;
}

const running = new Set<ChildProcess>();
// A test process that dies (or is killed by the runner's timeout) must not leave servers behind.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts `node main.js` with exactly `env` (plus PATH); `env.PORT` is required. Does not wait for it to listen. */
export function spawnGatehouse(name: string, env: Record<string, string>): GatehouseProcess {
  const port = Number(env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`spawnGatehouse(${name}): env.PORT is required`);
  const child = spawn(process.execPath, [MAIN_JS], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const record = (chunk: Buffer) => (output += chunk.toString());
  child.stdout!.on('data', record);
  child.stderr!.on('data', record);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => output,
    logs: () =>
      output.split('\n').flatMap((line) => {
        if (!line.startsWith('{')) return [];
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    exited,
    get running() {
      return isRunning();
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (isRunning()) child.kill(signal);
      return exited;
    },
    kill() {
      if (isRunning()) child.kill('SIGKILL');
    },
  };
}

/**
 * Resolves once GET /readyz answers 200 (database reachable, migrations applied) and `accept` agrees with its body;
 * fails at once, with the instance's output, if the process exits first.
 */
export async function waitUntilReady(
  instance: GatehouseProcess,
  { timeoutMs = 60_000, accept = () => true }: { timeoutMs?: number; accept?: (body: Record<string, unknown>) => boolean } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (!instance.running) throw new Error(`${instance.name} exited (${instance.child.exitCode ?? instance.child.signalCode}) before it was ready:\n${instance.output()}`);
    try {
      const response = await fetch(`${instance.url}/readyz`, { signal: AbortSignal.timeout(2000) });
      const body = (await response.json()) as Record<string, unknown>;
      last = `${response.status} ${JSON.stringify(body)}`;
      if (response.status === 200 && accept(body)) return;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`${instance.name} not ready after ${timeoutMs} ms (last: ${last}):\n${instance.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A JSON request to an admin route of one instance. */
export async function adminRequest(instance: Pick<GatehouseProcess, 'url'>, adminToken: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${instance.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

export interface GatehouseCluster {
  /** The instances, in start order (`a`, `b`, …). */
  instances: GatehouseProcess[];
  /** What every instance shares: database, ENCRYPTION_KEY, ADMIN_TOKEN, ISSUER, REDIS_URL and the extra env. */
  sharedEnv: Record<string, string>;
  adminToken: string;
  /** The one issuer of the service (a load balancer's address in production; nothing listens on it here). */
  issuer: string;
  databaseUrl: string;
  /** The Redis both instances count rate limits in; stop() and restart() it to test an outage. */
  redis: TestRedis;
  admin(instance: GatehouseProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Every instance's output, for failure messages. */
  outputs(): string;
  /** Kills the instances that still run, drops the database, stops Redis. Safe after a failed start. */
  dispose(): Promise<void>;
}

export interface ClusterOptions {
  /** How many instances (default 2). */
  count?: number;
  /** Added to every instance's environment (e.g. rate limits); overrides the defaults below. */
  env?: Record<string, string>;
}

/**
 * A fresh PostgreSQL database, a fresh Redis, and `count` Gatehouse processes spawned at the same moment on the
 * empty database (so they run their start-up migrations concurrently), each on its own port, sharing everything a
 * deployment's instances share. Resolves when every instance is ready and counts rate limits in Redis.
 * Needs TEST_DATABASE_URL and TEST_REDIS_SERVER (see postgresUnavailable and redisUnavailable).
 */
export async function startCluster({ count = 2, env = {} }: ClusterOptions = {}): Promise<GatehouseCluster> {
  const database = await createTestDatabase();
  let redis: TestRedis | null = null;
  const instances: GatehouseProcess[] = [];
  const dispose = async () => {
    for (const instance of instances) instance.kill();
    await Promise.all(instances.map((instance) => instance.exited));
    await database.drop();
    await redis?.dispose();
  };
  try {
    redis = await startRedis();
    const adminToken = randomBytes(24).toString('hex');
    const issuer = `http://localhost:${await freePort()}`;
    const sharedEnv: Record<string, string> = {
      DATABASE_URL: database.url,
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      ADMIN_TOKEN: adminToken,
      ISSUER: issuer,
      REDIS_URL: redis.url,
      KEY_RELOAD_SECONDS: '1',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      AUDIT_LOG: 'off',
      ...env,
    };
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    for (const [index, port] of ports.entries()) instances.push(spawnGatehouse(String.fromCharCode(97 + index), { ...sharedEnv, PORT: String(port) }));
    const onRedis = (body: Record<string, unknown>) => !sharedEnv.REDIS_URL || body.rate_limit_store === 'redis';
    await Promise.all(instances.map((instance) => waitUntilReady(instance, { accept: onRedis })));
    const cluster: GatehouseCluster = {
      instances,
      sharedEnv,
      adminToken,
      issuer,
      databaseUrl: database.url,
      redis,
      admin: (instance, method, path, body) => adminRequest(instance, adminToken, method, path, body),
      outputs: () => instances.map((instance) => `--- ${instance.name} ---\n${instance.output()}`).join('\n'),
      dispose,
    };
    return cluster;
  } catch (error) {
    await dispose();
    throw error;
  }
}
