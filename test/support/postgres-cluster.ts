import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

/**
 * A PostgreSQL cluster of one test's own, made from the machine's binaries (test/run.mjs passes their folder as
 * TEST_POSTGRES_BIN), for tests that stop and start the server under a running Gatehouse. The suite's shared
 * cluster (TEST_DATABASE_URL) is never stopped. Like run.mjs, it runs the binaries as `postgres` when root.
 */

/** Why such a cluster cannot be made here, or false. Use as a suite's `skip` option. */
export function postgresClusterUnavailable(): string | false {
  if (process.env.TEST_POSTGRES_BIN) return false;
  return process.env.TEST_POSTGRES_BIN_UNAVAILABLE ?? 'TEST_POSTGRES_BIN is not set (run the tests through test/run.mjs)';
}

export interface PostgresCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication): the same across restarts. */
  url: string;
  port: number;
  /** Starts the server; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it as an operator's restart does (`-m fast`: sessions are terminated, the socket closes). */
  stop(): Promise<void>;
  /** Stops it if running and removes its folder. */
  dispose(): Promise<void>;
}

/** Initialises a cluster on a free loopback port, not started. */
export async function createPostgresCluster(): Promise<PostgresCluster> {
  const bin = process.env.TEST_POSTGRES_BIN;
  if (!bin) throw new Error(`no PostgreSQL binaries: ${postgresClusterUnavailable()}`);
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pg-own-'));
  await chmod(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
  let running = false;
  const pgCtl = (...args: string[]) => run(bin, 'pg_ctl', ['-D', data, ...args]);
  await run(bin, 'initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  const cluster: PostgresCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await pgCtl('-o', options, '-l', join(dir, 'log'), '-w', 'start');
      running = true;
    },
    async stop() {
      await pgCtl('-m', 'fast', '-w', 'stop');
      running = false;
    },
    async dispose() {
      if (running) await pgCtl('-m', 'immediate', 'stop').catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** Runs a PostgreSQL binary without blocking this process's event loop (tests keep load going meanwhile). */
function run(bin: string, command: string, args: string[]): Promise<void> {
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  const [exe, ...rest] = [...asPostgres, join(bin, command), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(exe!, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${code}):\n${output}`))));
  });
}
