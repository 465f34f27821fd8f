import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Histogram, Registry } from 'prom-client';
import { LatencyHistogram } from '../../src/metrics/latency-histogram.js';

/**
 * What a document answer costs before any server logic (not a test): raw node:http processes answering GET with a
 * given document (BENCH_FLOOR_URL's body, default Gatehouse's metadata at a running ISSUER) and the headers
 * Gatehouse sends with it, with per-request duties a server commonly carries added one at a time — an
 * AsyncLocalStorage in use (a request context), a per-response close listener and set (in-flight tracking for a
 * graceful shutdown), a latency observation (Gatehouse's LatencyHistogram; prom-client's Histogram for comparison) —
 * against a hello-world. `document+all` is the first three together. Gatehouse keeps the request context and the
 * in-flight requests without these costs (docs/benchmarks.md says how); this shows what each would add. Each variant
 * is its own process; autocannon runs here; interleaved rounds, medians. `npm run bench:floor -- <metadata URL>`
 * (default: ISSUER's, or http://127.0.0.1:3000's).
 */

const VARIANTS = ['hello', 'document', 'document+als', 'document+tracking', 'document+prom-client', 'document+histogram', 'document+all'] as const;
type Variant = (typeof VARIANTS)[number];
const ROUNDS = 3;
const DURATION_S = 3;
const CONNECTIONS = 10;

function serve(variant: Variant, document: string): void {
  const features = new Set(variant === 'document+all' ? ['als', 'tracking', 'histogram'] : [variant.split('+')[1]]);
  const storage = new AsyncLocalStorage<object>();
  // Entered once: from then on Node 20 runs its async hooks for every async resource, as in Gatehouse.
  if (features.has('als')) storage.run({}, () => {});
  const promClient = new Histogram({ name: 'floor', help: 'floor', labelNames: ['method', 'route', 'status'], registers: [new Registry()] });
  const histogram = new LatencyHistogram('floor', 'floor', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], new Registry());
  const length = String(Buffer.byteLength(document));
  const inFlight = new Set<unknown>();
  const server = createServer();
  if (features.has('tracking')) {
    server.prependListener('request', (_req, res) => {
      inFlight.add(res);
      res.once('close', () => inFlight.delete(res));
    });
  }
  server.on('request', (req, res) => {
    if (variant === 'hello') return void res.writeHead(200, ['Content-Type', 'application/json', 'Content-Length', '5']).end('"hi!"');
    const started = process.hrtime.bigint();
    const headers = ['X-Request-Id', randomUUID(), 'Access-Control-Allow-Origin', '*', 'Access-Control-Expose-Headers', 'WWW-Authenticate, X-Request-Id'];
    res.writeHead(200, [...headers, 'Cache-Control', 'public, max-age=60', 'Content-Type', 'application/json; charset=utf-8', 'Content-Length', length]);
    res.end(document);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (features.has('histogram')) histogram.observe(req.method ?? 'GET', '/document', res.statusCode, seconds);
    if (features.has('prom-client')) promClient.observe({ method: req.method ?? 'GET', route: '/document', status: String(res.statusCode) }, seconds);
  });
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as AddressInfo).port));
}

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function main(): Promise<void> {
  const url = process.argv[2] ?? `${process.env.ISSUER ?? 'http://127.0.0.1:3000'}/.well-known/oauth-authorization-server`;
  const document = await (await fetch(url)).text();
  const results = new Map<Variant, Array<{ perSecond: number; cpuMs: number }>>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of round % 2 ? [...VARIANTS].reverse() : VARIANTS) {
      const child = fork(fileURLToPath(import.meta.url), ['serve', variant], { env: { ...process.env, BENCH_FLOOR_DOCUMENT: document } });
      const port = await new Promise<number>((resolve) => child.once('message', (message) => resolve(message as number)));
      await autocannon({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, duration: 1 });
      const before = cpuMs(child.pid!);
      const result = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, duration: DURATION_S });
      const used = cpuMs(child.pid!) - before;
      child.kill();
      const list = results.get(variant) ?? [];
      list.push({ perSecond: result.requests.average, cpuMs: used / result.requests.total });
      results.set(variant, list);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const hello = median(results.get('hello')!.map((r) => r.perSecond));
  console.log(`document: ${Buffer.byteLength(document)} bytes from ${url}; ${ROUNDS} rounds × ${DURATION_S} s, ${CONNECTIONS} connections, medians`);
  for (const variant of VARIANTS) {
    const list = results.get(variant)!;
    const perSecond = median(list.map((r) => r.perSecond));
    console.log(`${variant.padEnd(20)} ${perSecond.toFixed(0).padStart(7)}/s  ${((100 * perSecond) / hello).toFixed(0).padStart(3)} % of hello  ${median(list.map((r) => r.cpuMs)).toFixed(4)} ms CPU per request`);
  }
}

if (process.argv[2] === 'serve') serve(process.argv[3] as Variant, process.env.BENCH_FLOOR_DOCUMENT ?? '{}');
else
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
