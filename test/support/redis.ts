import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

/**
 * Throwaway Redis servers for tests. test/run.mjs finds the `redis-server` binary (Debian: apt-get install
 * redis-server) and passes its path as TEST_REDIS_SERVER, or the reason it has none as TEST_REDIS_UNAVAILABLE.
 * Each test file starts its own server, because a test may stop and restart it.
 */

/** Why Redis-backed tests cannot run here, or false when they can. Use as a suite's `skip` option. */
export function redisUnavailable(): string | false {
  if (process.env.TEST_REDIS_SERVER) return false;
  return process.env.TEST_REDIS_UNAVAILABLE ?? 'TEST_REDIS_SERVER is not set (run the tests through test/run.mjs)';
}

export interface TestRedis {
  /** `redis://127.0.0.1:<port>`: the same after a restart. */
  url: string;
  port: number;
  readonly running: boolean;
  /** Stops the server (SIGTERM; SIGKILL with `abrupt`), so clients see it go away. Nothing is kept: no persistence. */
  stop(options?: { abrupt?: boolean }): Promise<void>;
  /** Starts it again on the same port, empty; resolves once it answers PING. */
  restart(): Promise<void>;
  /** Stops it if running and removes its folder. */
  dispose(): Promise<void>;
  /** What the server printed, for failure messages. */
  output(): string;
}

const READY_TIMEOUT_MS = 10_000;

/** Starts redis-server on a free loopback port, in its own temporary folder, without persistence. */
export async function startRedis(): Promise<TestRedis> {
  const binary = process.env.TEST_REDIS_SERVER;
  if (!binary) throw new Error(`Redis is unavailable: ${redisUnavailable()}`);
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;
  let output = '';

  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  async function start(): Promise<void> {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
    const started = spawn(binary!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    const record = (chunk: Buffer) => (output += chunk.toString());
    started.stdout!.on('data', record);
    started.stderr!.on('data', record);
    const exited = new Promise<never>((_, reject) => {
      started.once('exit', (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}) before answering:\n${output}`)));
      started.once('error', (error) => reject(new Error(`redis-server could not be started from ${binary}: ${error.message}`)));
    });
    exited.catch(() => {});
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await Promise.race([ping(port), exited]))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS} ms:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async function stop({ abrupt = false } = {}): Promise<void> {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(abrupt ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    stop,
    async restart() {
      await stop();
      await start();
    },
    async dispose() {
      await stop();
      process.off('exit', killOnExit);
      await rm(dir, { recursive: true, force: true });
    },
    output: () => output,
  };
}

/** True when a Redis server on `port` answers PING with PONG. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.on('error', () => finish(false));
  });
}
