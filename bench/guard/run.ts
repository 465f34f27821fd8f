import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { VARIANT_LABELS, VARIANTS, type LoadRequest, type LoadResult, type ServerConfig, type ServerReady, type Variant } from './protocol.js';

/**
 * gatehouse-guard benchmark (not a test): verified requests per second through the guard, against the same route
 * unguarded and against the MCP SDK's requireBearerAuth doing the same verification with jose.
 *
 * Processes: this orchestrator (JWKS server, keys, token; idle while measuring), one process per server variant, and
 * one load-generator process (autocannon). Variants are measured in interleaved rounds, each round in a rotated
 * order, after a short warm-up; the table shows medians over rounds. Results go to bench/results/guard-<time>.json.
 *
 * BENCH_ROUNDS (5), BENCH_DURATION_S (4), BENCH_WARMUP_S (2), BENCH_CONNECTIONS (10) tune it.
 */

const ROUNDS = positive('BENCH_ROUNDS', 5);
const DURATION_S = positive('BENCH_DURATION_S', 4);
const WARMUP_S = positive('BENCH_WARMUP_S', 2);
const CONNECTIONS = positive('BENCH_CONNECTIONS', 10);
const RESOURCE = 'https://bench.gatehouse.invalid/mcp';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const children: ChildProcess[] = [];

async function main(): Promise<void> {
  const issuer = await startIssuer();
  try {
    const servers = new Map<Variant, string>();
    for (const variant of VARIANTS) {
      servers.set(variant, await startServer({ variant, issuer: issuer.issuer, jwksUri: issuer.jwksUri, resource: RESOURCE }));
    }
    const token = await issuer.sign('a b');
    await checkVariants(servers, token, await issuer.sign('b'));

    const load = fork(here('./load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(load);

    const measure = (variant: Variant, durationSeconds: number) =>
      request<LoadResult>(load, { url: servers.get(variant)!, token, durationSeconds, connections: CONNECTIONS } satisfies LoadRequest);

    console.log(`warm-up: ${WARMUP_S} s per variant`);
    for (const variant of VARIANTS) await measure(variant, WARMUP_S);

    const rounds: Array<Record<Variant, LoadResult>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
      console.log(`round ${round + 1}/${ROUNDS}: ${order.join(' → ')}`);
      const results = {} as Record<Variant, LoadResult>;
      for (const variant of order) {
        const result = await measure(variant, DURATION_S);
        if (result.non2xx || result.errors || result.timeouts) {
          throw new Error(`${variant}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts: the benchmark would not measure verified requests`);
        }
        results[variant] = result;
      }
      rounds.push(results);
    }
    report(rounds);
  } finally {
    for (const child of children) child.kill();
    await issuer.stop();
  }
}

// ---------------------------------------------------------------------------------------------- issuer (JWKS + token)

async function startIssuer(): Promise<{ issuer: string; jwksUri: string; sign: (scope: string) => Promise<string>; stop: () => Promise<void> }> {
  const kid = `bench-${randomUUID()}`;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] });
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(jwks);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    sign: (scope) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ client_id: 'bench-client', scope, jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .setIssuer(issuer)
        .setAudience(RESOURCE)
        .setSubject('bench-user')
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(privateKey);
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---------------------------------------------------------------------------------------------- processes

async function startServer(config: ServerConfig): Promise<string> {
  const child = fork(here('./server.js'), [], { env: { ...process.env, BENCH_SERVER: JSON.stringify(config) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const ready = await new Promise<ServerReady>((resolve, reject) => {
    child.once('message', (message) => resolve(message as ServerReady));
    child.once('exit', (code) => reject(new Error(`${config.variant} server exited with ${code}`)));
  });
  return `http://127.0.0.1:${ready.port}/mcp`;
}

function request<T>(child: ChildProcess, message: LoadRequest): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    child.once('message', (answer: { ok: true; result: T } | { ok: false; error: string }) => (answer.ok ? resolve(answer.result) : reject(new Error(answer.error))));
    child.send(message);
  });
}

/** Before measuring: every guarded variant refuses a missing token (401) and a missing scope (403), and takes the token. */
async function checkVariants(servers: Map<Variant, string>, token: string, withoutScopeA: string): Promise<void> {
  for (const [variant, url] of servers) {
    const status = async (bearer?: string) => (await fetch(url, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} })).status;
    const seen = [await status(token), await status(), await status(withoutScopeA)];
    const expected = variant === 'plain' ? [200, 200, 200] : [200, 401, 403];
    if (seen.join() !== expected.join()) throw new Error(`${variant}: answered ${seen.join('/')} instead of ${expected.join('/')}`);
  }
}

// ---------------------------------------------------------------------------------------------- report

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function report(rounds: Array<Record<Variant, LoadResult>>): void {
  const summary = Object.fromEntries(
    VARIANTS.map((variant) => [
      variant,
      {
        label: VARIANT_LABELS[variant],
        requestsPerSecond: median(rounds.map((round) => round[variant].requestsPerSecond)),
        latencyP50Ms: median(rounds.map((round) => round[variant].latencyP50Ms)),
        latencyP99Ms: median(rounds.map((round) => round[variant].latencyP99Ms)),
        latencyMeanMs: median(rounds.map((round) => round[variant].latencyMeanMs)),
      },
    ]),
  ) as Record<Variant, { label: string; requestsPerSecond: number; latencyP50Ms: number; latencyP99Ms: number; latencyMeanMs: number }>;
  const rps = (variant: Variant) => summary[variant].requestsPerSecond;
  const ratios = {
    'guard / plain': rps('guard') / rps('plain'),
    'guard / requireBearerAuth': rps('guard') / rps('sdk'),
    'guard (cacheMaxEntries 0) / requireBearerAuth': rps('guard-uncached') / rps('sdk'),
  };
  const machine = { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version };

  const lines = [
    `gatehouse-guard benchmark — ${machine.cores} cores (${machine.cpu}), Node ${machine.node}`,
    `GET /mcp, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds × ${DURATION_S} s after ${WARMUP_S} s warm-up; medians over rounds`,
    '',
    `| ${'variant'.padEnd(40)} | ${'req/s'.padStart(8)} | ${'p50 ms'.padStart(6)} | ${'p99 ms'.padStart(6)} | ${'mean ms'.padStart(7)} |`,
    `|${'-'.repeat(42)}|${'-'.repeat(10)}|${'-'.repeat(8)}|${'-'.repeat(8)}|${'-'.repeat(9)}|`,
    ...VARIANTS.map((variant) => {
      const row = summary[variant];
      return `| ${row.label.padEnd(40)} | ${row.requestsPerSecond.toFixed(0).padStart(8)} | ${String(row.latencyP50Ms).padStart(6)} | ${String(row.latencyP99Ms).padStart(6)} | ${row.latencyMeanMs.toFixed(2).padStart(7)} |`;
    }),
    '',
    `(latencies are autocannon's, in whole milliseconds except the mean)`,
    '',
    ...Object.entries(ratios).map(([name, value]) => `${name.padEnd(46)} ${value.toFixed(2)}`),
  ];
  console.log(lines.join('\n'));

  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const dir = join(existsSync(join(root, 'package.json')) ? root : process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `guard-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const settings = { rounds: ROUNDS, durationSeconds: DURATION_S, warmupSeconds: WARMUP_S, connections: CONNECTIONS };
  writeFileSync(file, `${JSON.stringify({ machine, settings, summary, ratios, rounds }, null, 2)}\n`);
  console.log(`\nresults: ${file}`);
}

function positive(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

main().catch((error: unknown) => {
  console.error(error);
  for (const child of children) child.kill();
  process.exit(1);
});
