import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { HttpClient } from './http.js';
import { exchangeCode, fullFlow, introspectionRequest, obtainCode, refresh, FlowError, type TokenSet } from './flow.js';
import { freePort, startPostgres, withStatementLog, type BenchPostgres } from './postgres.js';
import {
  SCENARIO_LABELS,
  SCENARIOS,
  SIDE_LABELS,
  SIDES,
  type LoadAnswer,
  type LoadRequest,
  type LoadResult,
  type PeerConfig,
  type Scenario,
  type ServerReady,
  type Side,
  type SideTarget,
} from './protocol.js';

/**
 * Authorization-server benchmark (not a test): Gatehouse against node-oidc-provider on the same PostgreSQL, for the
 * refresh_token grant, introspection, a full authorization-code flow, and the metadata and JWKS documents, with a
 * raw node:http hello-world as the ceiling; then 100k tokens issued on Gatehouse with its RSS before and after.
 *
 * Processes: this orchestrator (PostgreSQL, setup, checks; idle while measuring), Gatehouse (dist/src/main.js),
 * the peer (peer.ts), the hello-world server (hello.ts), and one load generator (load.ts). Each round measures every
 * scenario on both sides, scenarios in a rotated order and the two sides in alternating order; the table shows
 * medians over rounds. Results go to bench/results/auth-<time>.json (baseline-auth.json is the committed one).
 *
 * BENCH_ROUNDS (5), BENCH_DURATION_S (3), BENCH_WARMUP_S (2), BENCH_CONNECTIONS (10), BENCH_SCENARIOS (comma list of
 * refresh,introspect,flow,metadata,jwks,memory,statements; default all), BENCH_MEMORY_TOKENS (100000) and
 * BENCH_MEMORY_MAX_S (100: the memory run stops there if the tokens are not all issued yet),
 * BENCH_DATABASE_URL (use that server instead of a throwaway cluster; no statement counts then),
 * BENCH_CPU_PROFILE=1 (run Gatehouse under --cpu-prof and print its top self-time functions).
 */

const ROUNDS = positive('BENCH_ROUNDS', 5);
const DURATION_S = positive('BENCH_DURATION_S', 3);
const WARMUP_S = positive('BENCH_WARMUP_S', 2);
const CONNECTIONS = positive('BENCH_CONNECTIONS', 10);
const MEMORY_TOKENS = positive('BENCH_MEMORY_TOKENS', 100_000);
const MEMORY_MAX_S = positive('BENCH_MEMORY_MAX_S', 100);
const CPU_PROFILE = process.env.BENCH_CPU_PROFILE === '1';
const EXTRA = ['memory', 'statements'] as const;
type Extra = (typeof EXTRA)[number];
const SELECTED = selectedScenarios();

const RESOURCE = 'https://mcp.bench.invalid/mcp';
const OPAQUE_RESOURCE = 'https://mcp-opaque.bench.invalid/mcp';
const SCOPES = ['bench:read', 'bench:write'];
const REDIRECT_URI = 'https://client.bench.invalid/callback';
const PRODUCT = 'https://product.bench.invalid';
/** Statement samples per request kind; the median is reported. */
const STATEMENT_SAMPLES = 7;

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
/** The compiled server next to the compiled bench (dist/bench/auth → dist/src), as bench/guard resolves its files. */
const MAIN_JS = here('../../src/main.js');
const root = (() => {
  const candidate = fileURLToPath(new URL('../../../', import.meta.url));
  return existsSync(join(candidate, 'package.json')) ? candidate : process.cwd();
})();
const children: ChildProcess[] = [];

/** The raw node:http references: hello-world, and Gatehouse's metadata bytes and headers (hello.ts /document). */
type Reference = 'hello' | 'hello-document';

interface Measurement {
  scenario: Scenario | Reference;
  side: Side | 'hello';
}

async function main(): Promise<void> {
  const started = Date.now();
  const postgres = await startPostgres();
  try {
    const [gatehouseDb, peerDb] = [await postgres.createDatabase('bench_gatehouse'), await postgres.createDatabase('bench_peer')];
    const gatehouse = await startGatehouse(gatehouseDb);
    const peer = await startPeer(peerDb);
    const targets: Record<Side, SideTarget> = { gatehouse: await setUpGatehouse(gatehouse), peer: peer.target };
    const serverPids: Record<Side, number> = { gatehouse: gatehouse.child.pid!, peer: peer.pid };
    const metadataBytes = await (await fetch(targets.gatehouse.metadataUrl)).text();
    const helloServer = await forkServer('hello.js', { BENCH_HELLO_DOCUMENT: metadataBytes });
    const hello = `http://127.0.0.1:${helloServer.port}/`;
    const helloPid = helloServer.pid;

    const http = new HttpClient(4);
    const fixtures = await checkScenarios(http, targets);
    console.log('checks passed: every scenario succeeds on both sides (tokens verified, refresh tokens rotate, reuse is refused, introspection active)');

    const load = fork(here('./load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(load);
    const send = (message: LoadRequest) => request(load, message);
    const prepare = async (side: Side) => {
      const { chains } = await send({ kind: 'prepare', target: targets[side], chains: CONNECTIONS * 4, minimum: CONNECTIONS * 2 });
      return chains;
    };

    const measureOnce = async ({ scenario, side }: Measurement, durationSeconds: number): Promise<LoadResult> => {
      if (side === 'hello') return send({ kind: 'fixed', url: scenario === 'hello-document' ? `${hello}document` : hello, method: 'GET', headers: {}, durationSeconds, connections: CONNECTIONS });
      const target = targets[side];
      switch (scenario) {
        case 'refresh':
          await prepare(side);
          return send({ kind: 'refresh', target, durationSeconds, connections: CONNECTIONS });
        case 'introspect': {
          const { headers, body } = introspectionRequest(target, fixtures[side].introspectionToken);
          return send({ kind: 'fixed', url: target.introspectionEndpoint, method: 'POST', headers, body, durationSeconds, connections: CONNECTIONS });
        }
        case 'flow':
          return send({ kind: 'flow', target, durationSeconds, concurrency: CONNECTIONS });
        case 'metadata':
          return send({ kind: 'fixed', url: target.metadataUrl, method: 'GET', headers: {}, durationSeconds, connections: CONNECTIONS });
        case 'jwks':
          return send({ kind: 'fixed', url: target.jwksUrl, method: 'GET', headers: {}, durationSeconds, connections: CONNECTIONS });
        default:
          throw new Error(`no scenario ${scenario}`);
      }
    };
    const measure = async (unit: Measurement, durationSeconds: number): Promise<Measured> => {
      // The cluster's processes are listed at each reading: backends start (and end) while measuring.
      const pids = () => ({ server: [unit.side === 'hello' ? helloPid : serverPids[unit.side]], database: postgres.processIds(), load: [load.pid!] });
      const before = cpuMilliseconds(pids());
      const result: Measured = await measureOnce(unit, durationSeconds);
      const after = cpuMilliseconds(pids());
      if (result.completed > 0) {
        const perOp = (part: keyof typeof before) => round((after[part] - before[part]) / result.completed, 3);
        result.cpuMsPerOperation = { server: perOp('server'), database: perOp('database'), load: perOp('load') };
      }
      if (result.non2xx || result.errors || result.timeouts || result.notRotated) {
        throw new Error(
          `${unit.scenario} on ${unit.side}: ${result.non2xx} failed answers, ${result.errors} errors, ${result.timeouts} timeouts, ${result.notRotated ?? 0} refreshes without rotation` +
            `${result.firstError ? ` (${result.firstError})` : ''}: the benchmark would not measure successful requests`,
        );
      }
      return result;
    };

    const scenarios = SCENARIOS.filter((scenario) => SELECTED.has(scenario));
    const rounds: Array<Record<string, Measured>> = [];
    /** The 1-minute load average after each round: this bench keeps about three processes busy; more means company. */
    const loadAverages: number[] = [];
    if (scenarios.length) {
      const units = (round: number): Measurement[] => {
        const rotated = scenarios.map((_, i) => scenarios[(i + round) % scenarios.length]!);
        const sides: Side[] = round % 2 === 0 ? ['gatehouse', 'peer'] : ['peer', 'gatehouse'];
        const list: Measurement[] = rotated.flatMap((scenario) => sides.map((side) => ({ scenario, side })));
        list.splice(round % (list.length + 1), 0, { scenario: 'hello', side: 'hello' });
        if (scenarios.includes('metadata')) list.splice((round + 3) % (list.length + 1), 0, { scenario: 'hello-document', side: 'hello' });
        return list;
      };
      console.log(`warm-up: ${WARMUP_S} s per scenario and side`);
      for (const unit of units(0)) await measure(unit, WARMUP_S);
      for (let round = 0; round < ROUNDS; round++) {
        const order = units(round);
        console.log(`round ${round + 1}/${ROUNDS}: ${order.map((unit) => (unit.side === 'hello' ? unit.scenario : `${unit.scenario}:${unit.side === 'gatehouse' ? 'G' : 'P'}`)).join(' ')}`);
        const results: Record<string, Measured> = {};
        for (const unit of order) results[key(unit)] = await measure(unit, DURATION_S);
        rounds.push(results);
        loadAverages.push(Math.round(loadavg()[0]! * 100) / 100);
      }
    }

    const statements = SELECTED.has('statements') ? await countStatements(postgres, http, targets, fixtures) : null;
    const memory = SELECTED.has('memory') ? await memoryAfterTokens(gatehouse, targets.gatehouse, send, prepare) : null;
    http.close();

    const printed = gatehouse.output().trim();
    if (printed) console.log(`Gatehouse printed during the run (last lines):\n${printed.split('\n').slice(-10).join('\n')}\n`);
    const profile = CPU_PROFILE ? await stopAndSummariseProfile(gatehouse) : null;
    report({ scenarios, rounds, loadAverages, statements, memory, profile, postgres, elapsedSeconds: (Date.now() - started) / 1000 });
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
    await postgres.stop();
  }
}

// ---------------------------------------------------------------------------------------------- Gatehouse

interface GatehouseProcess {
  child: ChildProcess;
  url: string;
  adminToken: string;
  output: () => string;
  profileDir: string | null;
  /** Where heap snapshots go (memory scenario): taking one is how the bench forces a full GC in Gatehouse. */
  snapshotDir: string | null;
}

async function startGatehouse(databaseUrl: string): Promise<GatehouseProcess> {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: build first (npm run bench does)`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const adminToken = randomBytes(24).toString('hex');
  const profileDir = CPU_PROFILE ? join(root, 'bench', 'results', 'profiles') : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const snapshotDir = SELECTED.has('memory') ? mkdtempSync(join(tmpdir(), 'gatehouse-bench-heap-')) : null;
  const flags = [
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ...(snapshotDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] : []),
  ];
  const child = spawn(process.execPath, [...flags, MAIN_JS], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: url,
      DATABASE_URL: databaseUrl,
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      ADMIN_TOKEN: adminToken,
      LOG_LEVEL: 'warn',
      AUDIT_LOG: 'off',
      // The peer has no rate limiter; Gatehouse's would (rightly) refuse a load generator hammering one client.
      RATE_LIMITS: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  // Its last 64 kB of output, to show if it dies (at LOG_LEVEL=warn it should print nothing while measured).
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-65_536));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`Gatehouse exited with ${code}:\n${output}`))));
  const ready = (async () => {
    for (let attempt = 0; attempt < 600; attempt++) {
      try {
        if ((await fetch(`${url}/readyz`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`Gatehouse was not ready in 60 s:\n${output}`);
  })();
  await Promise.race([ready, exited]);
  exited.catch(() => {});
  return { child, url, adminToken, output: () => output, profileDir, snapshotDir };
}

/** The resource server (external login + product consent page) and a confidential client, through the admin API. */
async function setUpGatehouse(gatehouse: GatehouseProcess): Promise<SideTarget> {
  const admin = async (method: string, path: string, body: unknown) => {
    const response = await fetch(`${gatehouse.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${gatehouse.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const resource = await admin('POST', '/admin/resources', {
    name: 'Bench MCP server',
    resource: RESOURCE,
    scopes: SCOPES,
    default_scopes: SCOPES,
    access_token_ttl: 3600,
    login_method: 'external',
    login_uri: `${PRODUCT}/login`,
    consent_uri: `${PRODUCT}/consent`,
  });
  const client = await admin('POST', '/admin/clients', {
    client_name: 'Bench client',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  const metadata = (await (await fetch(`${gatehouse.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, string>;
  return {
    side: 'gatehouse',
    issuer: gatehouse.url,
    authorizationEndpoint: metadata.authorization_endpoint!,
    tokenEndpoint: metadata.token_endpoint!,
    introspectionEndpoint: metadata.introspection_endpoint!,
    metadataUrl: `${gatehouse.url}/.well-known/oauth-authorization-server`,
    jwksUrl: metadata.jwks_uri!,
    client: { id: String(client.client_id), secret: String(client.client_secret), redirectUri: REDIRECT_URI },
    resource: RESOURCE,
    introspectionResource: RESOURCE,
    scope: SCOPES.join(' '),
    product: { loginUri: `${PRODUCT}/login`, consentUri: `${PRODUCT}/consent`, registrationSecret: String(resource.registration_secret) },
  };
}

// ---------------------------------------------------------------------------------------------- peer, hello

async function startPeer(databaseUrl: string): Promise<{ target: SideTarget; pid: number }> {
  const client = { id: 'bench-client', secret: randomBytes(32).toString('base64url'), redirectUri: REDIRECT_URI };
  const config: PeerConfig = { databaseUrl, resource: RESOURCE, opaqueResource: OPAQUE_RESOURCE, scopes: SCOPES, client };
  const { port, pid } = await forkServer('peer.js', { BENCH_PEER: JSON.stringify(config) });
  const issuer = `http://127.0.0.1:${port}`;
  const metadata = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  const target: SideTarget = {
    side: 'peer',
    issuer,
    authorizationEndpoint: metadata.authorization_endpoint!,
    tokenEndpoint: metadata.token_endpoint!,
    introspectionEndpoint: metadata.introspection_endpoint!,
    metadataUrl: `${issuer}/.well-known/openid-configuration`,
    jwksUrl: metadata.jwks_uri!,
    client,
    resource: RESOURCE,
    introspectionResource: OPAQUE_RESOURCE,
    scope: SCOPES.join(' '),
  };
  return { target, pid };
}

async function forkServer(file: string, env: Record<string, string>): Promise<ServerReady & { pid: number }> {
  const child = fork(here(`./${file}`), [], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ ...(message as ServerReady), pid: child.pid! }));
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
}

function request(child: ChildProcess, message: LoadRequest): Promise<LoadResult> {
  return new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (answer: LoadAnswer) => (answer.ok ? resolve(answer.result) : reject(new Error(answer.error))));
    child.send(message);
  });
}

// ---------------------------------------------------------------------------------------------- checks

interface Fixtures {
  introspectionToken: string;
}

/**
 * Before measuring, every scenario's request must succeed on both sides, and mean what it says: access tokens are
 * ES256 `at+jwt` for the resource and verify against the side's JWKS, a refresh returns a new refresh token, the
 * rotated one is refused afterwards (and its grant revoked), introspection says active with the right client and
 * audience, and the documents are what they claim.
 */
async function checkScenarios(http: HttpClient, targets: Record<Side, SideTarget>): Promise<Record<Side, Fixtures>> {
  const fixtures = {} as Record<Side, Fixtures>;
  for (const side of SIDES) {
    const target = targets[side];
    const fail = (what: string): never => {
      throw new Error(`check failed on ${side}: ${what}`);
    };
    const getJson = async (url: string) => {
      const response = await http.request('GET', url);
      if (response.status !== 200 || !response.contentType.includes('json')) fail(`GET ${url} answered ${response.status} ${response.contentType}`);
      return JSON.parse(response.body) as Record<string, unknown>;
    };
    const metadata = await getJson(target.metadataUrl);
    if (metadata.issuer !== target.issuer) fail(`metadata issuer ${String(metadata.issuer)}`);
    const jwks = (await getJson(target.jwksUrl)) as unknown as JSONWebKeySet;
    if (!jwks.keys?.some((key) => key.kty === 'EC' && key.crv === 'P-256')) fail('no P-256 key in the JWKS');
    const keySet = createLocalJWKSet(jwks);
    const verify = async (tokens: TokenSet, audience: string) => {
      const header = decodeProtectedHeader(tokens.accessToken);
      if (header.alg !== 'ES256' || header.typ !== 'at+jwt') fail(`access token header ${JSON.stringify(header)}`);
      const { payload } = await jwtVerify(tokens.accessToken, keySet, { issuer: target.issuer, audience, typ: 'at+jwt' });
      if (payload.client_id !== target.client.id || !String(payload.scope).split(' ').includes('bench:read')) fail(`access token claims ${JSON.stringify(payload)}`);
      if (!tokens.refreshToken) fail('no refresh token issued');
    };

    // Full flow, and the refresh chain it starts: rotate twice, then replay the first token.
    const first = await fullFlow(http, target);
    await verify(first, target.resource);
    const second = await refresh(http, target, first.refreshToken!);
    await verify(second, target.resource);
    if (second.refreshToken === first.refreshToken) fail('refresh token did not rotate');
    const third = await refresh(http, target, second.refreshToken!);
    if (third.refreshToken === second.refreshToken) fail('refresh token did not rotate (second refresh)');
    const replay = await refusal(() => refresh(http, target, first.refreshToken!));
    if (!/invalid_grant/.test(replay)) fail(`replayed refresh token not refused with invalid_grant: ${replay}`);
    const afterReplay = await refusal(() => refresh(http, target, third.refreshToken!));
    if (!/invalid_grant/.test(afterReplay)) fail(`the grant was not revoked after reuse: ${afterReplay}`);

    // A code is single-use.
    const obtained = await obtainCode(http, target);
    await verify(await exchangeCode(http, target, obtained), target.resource);
    const reused = await refusal(() => exchangeCode(http, target, obtained));
    if (!/invalid_grant/.test(reused)) fail(`a used code was not refused: ${reused}`);

    // Introspection of the token the scenario asks about (a JWT on Gatehouse; an opaque token on the peer, see peer.ts).
    // (A fresh grant: the first one was revoked by the replay above.)
    const token = (await fullFlow(http, target, { resource: target.introspectionResource })).accessToken;
    const { headers, body } = introspectionRequest(target, token);
    const answer = await http.request('POST', target.introspectionEndpoint, headers, body);
    const result = JSON.parse(answer.body) as Record<string, unknown>;
    if (answer.status !== 200 || result.active !== true) fail(`introspection answered ${answer.status} ${answer.body}`);
    if (result.client_id !== target.client.id || result.aud !== target.introspectionResource || !result.sub || !result.exp) fail(`introspection answer ${answer.body}`);
    if (side === 'peer') {
      // Why the peer's scenario uses an opaque token: it refuses JWT access tokens at introspection.
      const jwt = introspectionRequest(target, first.accessToken);
      const refused = await http.request('POST', target.introspectionEndpoint, jwt.headers, jwt.body);
      if (!/unsupported_token_type/.test(refused.body)) fail(`expected the peer to refuse introspecting a JWT: ${refused.status} ${refused.body}`);
    }
    fixtures[side] = { introspectionToken: token };
  }
  return fixtures;
}

async function refusal(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof FlowError) return error.message;
    throw error;
  }
  return 'accepted';
}

// ---------------------------------------------------------------------------------------------- database statements

interface StatementCounts {
  /** Median statements per request, by request kind and side; with one sample's statement texts. */
  perRequest: Record<string, Record<Side, { median: number; samples: number[]; example: string[] }>>;
}

/**
 * With every statement logged, runs each request kind STATEMENT_SAMPLES times on each side, one at a time, and
 * counts the statements each side's database received during each request (BEGIN/COMMIT included: each statement is
 * a round trip). The peer's statements are its adapter's calls, one per call.
 */
async function countStatements(postgres: BenchPostgres, http: HttpClient, targets: Record<Side, SideTarget>, fixtures: Record<Side, Fixtures>): Promise<StatementCounts | null> {
  if (!postgres.logFile) {
    console.log('statement counts skipped: they need the throwaway cluster (BENCH_DATABASE_URL is set)');
    return null;
  }
  const databases: Record<Side, string> = { gatehouse: 'bench_gatehouse', peer: 'bench_peer' };
  const perRequest: StatementCounts['perRequest'] = {};
  await withStatementLog(postgres, async (log) => {
    const sample = async (kind: string, side: Side, act: () => Promise<unknown>) => {
      const from = await log.mark();
      await act();
      const statements = log.statementsBetween(from, await log.mark(), databases[side]);
      const entry = ((perRequest[kind] ??= {} as Record<Side, { median: number; samples: number[]; example: string[] }>)[side] ??= { median: 0, samples: [], example: [] });
      entry.samples.push(statements.length);
      if (entry.samples.length === Math.ceil(STATEMENT_SAMPLES / 2)) entry.example = statements.map((text) => text.slice(0, 160));
    };
    for (const side of SIDES) {
      const target = targets[side];
      for (let i = 0; i < STATEMENT_SAMPLES; i++) {
        const obtained = await obtainCode(http, target);
        let tokens: TokenSet | undefined;
        await sample('authorization_code grant (POST /token)', side, async () => (tokens = await exchangeCode(http, target, obtained)));
        await sample('refresh_token grant (POST /token)', side, () => refresh(http, target, tokens!.refreshToken!));
        const { headers, body } = introspectionRequest(target, fixtures[side].introspectionToken);
        await sample('introspection (POST /introspect)', side, () => http.request('POST', target.introspectionEndpoint, headers, body));
        await sample('whole flow, authorize to token', side, () => fullFlow(http, target));
        await sample('metadata document (GET)', side, () => http.request('GET', target.metadataUrl));
        await sample('JWKS (GET)', side, () => http.request('GET', target.jwksUrl));
      }
    }
  });
  for (const bySide of Object.values(perRequest)) {
    for (const entry of Object.values(bySide)) entry.median = median(entry.samples);
  }
  return { perRequest };
}

// ---------------------------------------------------------------------------------------------- CPU time

/** A load result with the CPU each party spent per completed operation (request, or flow). */
interface Measured extends LoadResult {
  cpuMsPerOperation?: CpuPerOperation;
}

/**
 * CPU milliseconds (user + system) per operation: the side's server process, the whole PostgreSQL cluster (one
 * side runs at a time, so the cluster's time is that side's), and the load generator. Unlike requests/s, these do
 * not depend on how the 2 cores were shared while measuring: they say what one operation costs each party.
 */
interface CpuPerOperation {
  server: number;
  database: number;
  load: number;
}

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * CPU milliseconds each group of processes has used so far, their reaped children's included (stat fields 14–17):
 * a PostgreSQL backend that exits between two readings is counted in the postmaster's children's time.
 */
function cpuMilliseconds<K extends string>(groups: Record<K, number[]>): Record<K, number> {
  const total = {} as Record<K, number>;
  for (const [name, pids] of Object.entries(groups) as Array<[K, number[]]>) {
    total[name] = 0;
    for (const pid of pids) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // After the parenthesised command name, field 3 (state) is index 0: utime, stime, cutime, cstime are 11–14.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const ticks = fields.slice(11, 15).reduce((sum, field) => sum + Number(field), 0);
        total[name] += (ticks * 1000) / TICKS_PER_SECOND;
      } catch {
        // exited: its time now shows in its parent's reaped-children time
      }
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------- memory

interface MemoryReport {
  tokens: number;
  seconds: number;
  perSecond: number;
  before: MemorySample;
  after: MemorySample;
  /** After a 10 s pause and a forced full GC. */
  settled: MemorySample;
  /** True when MEMORY_MAX_S ran out before MEMORY_TOKENS were issued. */
  cappedByTime: boolean;
}

interface MemorySample {
  rssMiB: number;
  heapUsedMiB: number | null;
}

/**
 * Issues MEMORY_TOKENS tokens on Gatehouse through HTTP (refresh rotations, in chunks of 10k; a chunk loses no
 * chain since autocannon waits for every answer of an `amount` run), stopping early at MEMORY_MAX_S, and samples
 * its memory before (after 2000 warm-up tokens and a full GC), right after, and after a 10 s pause and a full GC.
 */
async function memoryAfterTokens(
  gatehouse: GatehouseProcess,
  target: SideTarget,
  send: (message: LoadRequest) => Promise<LoadResult>,
  prepare: (side: Side) => Promise<number | undefined>,
): Promise<MemoryReport> {
  const issue = async (amount: number) => {
    await prepare('gatehouse');
    const result = await send({ kind: 'refresh', target, durationSeconds: 3600, amount, connections: CONNECTIONS });
    if (result.non2xx || result.errors || result.timeouts || result.notRotated) throw new Error(`memory run: ${result.non2xx} failed answers, ${result.errors} errors, ${result.notRotated ?? 0} without rotation`);
    return result.completed;
  };
  await issue(2000);
  await fullGc(gatehouse);
  const before = await memorySample(gatehouse);
  console.log(`memory: issuing ${MEMORY_TOKENS} tokens on Gatehouse (refresh rotations, ${CONNECTIONS} connections; at most ${MEMORY_MAX_S} s); RSS before ${before.rssMiB} MiB`);
  const start = Date.now();
  let tokens = 0;
  while (tokens < MEMORY_TOKENS && Date.now() - start < MEMORY_MAX_S * 1000) tokens += await issue(Math.max(CONNECTIONS, Math.min(10_000, MEMORY_TOKENS - tokens)));
  const seconds = (Date.now() - start) / 1000;
  const after = await memorySample(gatehouse);
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  await fullGc(gatehouse);
  const settled = await memorySample(gatehouse);
  rmSync(gatehouse.snapshotDir!, { recursive: true, force: true });
  return { tokens, seconds, perSecond: tokens / seconds, before, after, settled, cappedByTime: tokens < MEMORY_TOKENS };
}

/**
 * Forces a full garbage collection in Gatehouse from outside: a heap snapshot (SIGUSR2, --heapsnapshot-signal)
 * collects garbage first. The snapshot is written on Gatehouse's main thread, so a request answered after the file
 * appears was answered after it was complete; then it is deleted.
 */
async function fullGc(gatehouse: GatehouseProcess): Promise<void> {
  const dir = gatehouse.snapshotDir!;
  const known = new Set(readdirSync(dir));
  gatehouse.child.kill('SIGUSR2');
  for (let waited = 0; !readdirSync(dir).some((name) => !known.has(name)); waited += 100) {
    if (waited > 120_000) throw new Error('Gatehouse wrote no heap snapshot in 120 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await fetch(`${gatehouse.url}/healthz`);
  for (const name of readdirSync(dir)) if (!known.has(name)) rmSync(join(dir, name), { force: true });
}

/** RSS from /proc/<pid>/status; the V8 heap from Gatehouse's own /metrics (loopback callers are served). */
async function memorySample(gatehouse: GatehouseProcess): Promise<MemorySample> {
  const status = readFileSync(`/proc/${gatehouse.child.pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  let heapUsedMiB: number | null = null;
  try {
    const metrics = await (await fetch(`${gatehouse.url}/metrics`)).text();
    const heap = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics)?.[1];
    if (heap) heapUsedMiB = round(Number(heap) / 2 ** 20, 1);
  } catch {
    // metrics unavailable: RSS alone
  }
  return { rssMiB: round(rssKiB / 1024, 1), heapUsedMiB };
}

// ---------------------------------------------------------------------------------------------- CPU profile

interface ProfileEntry {
  function: string;
  location: string;
  /** Share of the time the process was not idle. */
  selfPercent: number;
}

interface ProfileSummary {
  file: string;
  busySeconds: number;
  top: ProfileEntry[];
  modules: Array<{ module: string; selfPercent: number }>;
}

/** Stops Gatehouse (SIGTERM: it exits cleanly, so --cpu-prof writes its profile) and lists the top self-time functions. */
async function stopAndSummariseProfile(gatehouse: GatehouseProcess): Promise<ProfileSummary | null> {
  const dir = gatehouse.profileDir!;
  const before = new Set(readdirSync(dir));
  await new Promise<void>((resolve) => {
    gatehouse.child.once('exit', () => resolve());
    gatehouse.child.kill('SIGTERM');
  });
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile') && !before.has(name));
  if (!file) return null;
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  const modules = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const frame = byNode.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') return;
    const path = frame.url.replace(/^file:\/\//, '').replace(root, '');
    const name = `${frame.functionName || '(anonymous)'}\u0000${path ? `${path}:${frame.lineNumber + 1}` : ''}`;
    self.set(name, (self.get(name) ?? 0) + delta);
    modules.set(moduleOf(path, frame.functionName), (modules.get(moduleOf(path, frame.functionName)) ?? 0) + delta);
    busy += delta;
  });
  const top = (entries: Map<string, number>, count: number) =>
    [...entries.entries()].sort((a, b) => b[1] - a[1]).slice(0, count).map(([name, time]) => [name, round((100 * time) / busy, 1)] as const);
  return {
    file: join(dir, file),
    busySeconds: round(busy / 1e6, 1),
    top: top(self, 25).map(([name, selfPercent]) => {
      const [fn = '', location = ''] = name.split('\u0000');
      return { function: fn, location, selfPercent };
    }),
    modules: top(modules, 15).map(([module, selfPercent]) => ({ module, selfPercent })),
  };
}

/** Where a function lives, coarsely: an npm package, a Gatehouse source folder, Node's internals, or V8 itself. */
function moduleOf(path: string, functionName: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
  if (pkg) return pkg;
  const source = /(?:^|\/)dist[^/]*\/src\/([^/]+)\//.exec(path)?.[1];
  if (source) return `gatehouse src/${source}`;
  if (path.startsWith('node:')) return 'node internals';
  return path ? path : `(native: ${functionName || 'anonymous'})`;
}

// ---------------------------------------------------------------------------------------------- report

function key(unit: Measurement): string {
  return unit.side === 'hello' ? unit.scenario : `${unit.scenario}:${unit.side}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

interface Summary {
  perSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  cpuMsPerOperation?: CpuPerOperation;
}

function report(input: {
  scenarios: Scenario[];
  rounds: Array<Record<string, Measured>>;
  loadAverages: number[];
  statements: StatementCounts | null;
  memory: MemoryReport | null;
  profile: ProfileSummary | null;
  postgres: BenchPostgres;
  elapsedSeconds: number;
}): void {
  const { scenarios, rounds, statements, memory, profile } = input;
  const summarise = (name: string): Summary => ({
    perSecond: round(median(rounds.map((round) => round[name]!.perSecond)), 1),
    latencyP50Ms: median(rounds.map((round) => round[name]!.latencyP50Ms)),
    latencyP99Ms: median(rounds.map((round) => round[name]!.latencyP99Ms)),
    latencyMeanMs: round(median(rounds.map((round) => round[name]!.latencyMeanMs))),
    ...(rounds[0]![name]!.cpuMsPerOperation && {
      cpuMsPerOperation: {
        server: round(median(rounds.map((round) => round[name]!.cpuMsPerOperation!.server)), 3),
        database: round(median(rounds.map((round) => round[name]!.cpuMsPerOperation!.database)), 3),
        load: round(median(rounds.map((round) => round[name]!.cpuMsPerOperation!.load)), 3),
      },
    }),
  });
  const summary: Record<string, Summary> = {};
  if (rounds.length) {
    summary.hello = summarise('hello');
    if (scenarios.includes('metadata')) summary['hello-document'] = summarise('hello-document');
    for (const scenario of scenarios) for (const side of SIDES) summary[`${scenario}:${side}`] = summarise(`${scenario}:${side}`);
  }
  const machine = { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version };
  const settings = { rounds: ROUNDS, durationSeconds: DURATION_S, warmupSeconds: WARMUP_S, connections: CONNECTIONS, memoryTokens: MEMORY_TOKENS, memoryMaxSeconds: MEMORY_MAX_S, scenarios: [...SELECTED] };

  const lines: string[] = [
    `Authorization server benchmark — ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, PostgreSQL: ${input.postgres.description}`,
    `${CONNECTIONS} connections (flows: ${CONNECTIONS} concurrent flows), ${ROUNDS} interleaved rounds × ${DURATION_S} s after ${WARMUP_S} s warm-up; medians over rounds`,
    `Gatehouse runs with RATE_LIMITS=off (the peer has no limiter), AUDIT_LOG=off (events are still written to the outbox), LOG_LEVEL=warn.`,
    `Peer: oidc-provider ${peerVersion()}, PostgreSQL adapter in bench/auth/pg-adapter.ts. Its introspection row asks about an opaque access token: it refuses JWTs there.`,
    `Every flow signs a new user in and records consent on both sides: Gatehouse through login_method external + consent_uri (/api/login/complete,`,
    `/api/consent/complete), the peer through its interaction URL (interactionFinished with login, then a Grant). Both: confidential client, client_secret_basic.`,
    '',
  ];
  const goals: string[] = [];
  if (rounds.length) {
    const hello = summary.hello!;
    const header = `| ${'scenario'.padEnd(46)} | ${'Gatehouse /s'.padStart(12)} | ${'p50'.padStart(6)} | ${'p99'.padStart(6)} | ${'peer /s'.padStart(9)} | ${'p50'.padStart(6)} | ${'p99'.padStart(6)} | ${'G / peer'.padStart(8)} |`;
    lines.push(header, `|${header.slice(1, -1).replace(/[^|]/g, '-')}|`);
    for (const scenario of scenarios) {
      const g = summary[`${scenario}:gatehouse`]!;
      const p = summary[`${scenario}:peer`]!;
      lines.push(
        `| ${SCENARIO_LABELS[scenario].padEnd(46)} | ${g.perSecond.toFixed(0).padStart(12)} | ${fmt(g.latencyP50Ms)} | ${fmt(g.latencyP99Ms)} | ${p.perSecond.toFixed(0).padStart(9)} | ${fmt(p.latencyP50Ms)} | ${fmt(p.latencyP99Ms)} | ${(g.perSecond / p.perSecond).toFixed(2).padStart(8)} |`,
      );
    }
    const reference = (label: string, row: Summary) =>
      `| ${label.padEnd(46)} | ${row.perSecond.toFixed(0).padStart(12)} | ${fmt(row.latencyP50Ms)} | ${fmt(row.latencyP99Ms)} | ${''.padStart(9)} | ${''.padStart(6)} | ${''.padStart(6)} | ${''.padStart(8)} |`;
    lines.push(reference('raw node:http hello-world (the ceiling)', hello));
    const sameBytes = summary['hello-document'];
    if (sameBytes) lines.push(reference('raw node:http, the metadata bytes and headers', sameBytes));
    lines.push('', `(requests/s, or completed flows/s for the flow; latency in ms — autocannon's whole milliseconds, per flow for the flow)`);
    lines.push('', 'CPU per operation in ms (user + system, medians; server process, the PostgreSQL cluster, the load generator):');
    const ms = (value: number, width: number) => value.toFixed(3).padStart(width);
    const cpuHeader = `| ${'scenario'.padEnd(46)} | ${'G server'.padStart(8)} | ${'G db'.padStart(6)} | ${'G load'.padStart(6)} | ${'P server'.padStart(8)} | ${'P db'.padStart(6)} | ${'P load'.padStart(6)} | ${'G / P (server + db)'.padStart(19)} |`;
    lines.push(cpuHeader, `|${cpuHeader.slice(1, -1).replace(/[^|]/g, '-')}|`);
    for (const scenario of scenarios) {
      const g = summary[`${scenario}:gatehouse`]!.cpuMsPerOperation;
      const p = summary[`${scenario}:peer`]!.cpuMsPerOperation;
      if (!g || !p) continue;
      lines.push(
        `| ${SCENARIO_LABELS[scenario].padEnd(46)} | ${ms(g.server, 8)} | ${ms(g.database, 6)} | ${ms(g.load, 6)} | ${ms(p.server, 8)} | ${ms(p.database, 6)} | ${ms(p.load, 6)} | ${((g.server + g.database) / (p.server + p.database)).toFixed(2).padStart(19)} |`,
      );
    }
    for (const [label, row] of [['raw node:http hello-world', hello], ['raw node:http, the metadata bytes and headers', sameBytes]] as const) {
      const cpu = row?.cpuMsPerOperation;
      if (cpu) lines.push(`| ${label.padEnd(46)} | ${ms(cpu.server, 8)} | ${''.padStart(6)} | ${ms(cpu.load, 6)} | ${''.padStart(8)} | ${''.padStart(6)} | ${''.padStart(6)} | ${''.padStart(19)} |`);
    }
    lines.push(
      `1-minute load average after each round: ${input.loadAverages.join(', ')} — this benchmark alone keeps about 3 processes busy;` +
        ` much more means other work shared the ${machine.cores} cores and the absolute numbers are low (the interleaved ratios suffer less).`,
    );

    for (const scenario of scenarios) {
      const g = summary[`${scenario}:gatehouse`]!;
      const p = summary[`${scenario}:peer`]!;
      if (scenario === 'metadata' || scenario === 'jwks') {
        const share = g.perSecond / hello.perSecond;
        const ofSameBytes = sameBytes ? `; the same metadata bytes and headers from raw node:http reach ${((100 * sameBytes.perSecond) / hello.perSecond).toFixed(0)} %` : '';
        goals.push(`${share >= 0.7 ? 'met ' : 'MISS'}  ${SCENARIO_LABELS[scenario]}: Gatehouse at ${(share * 100).toFixed(0)} % of raw node:http (goal ≥ 70 %)${scenario === 'metadata' ? ofSameBytes : ''}`);
      } else {
        const ratio = g.perSecond / p.perSecond;
        const ok = ratio >= 1.5 && g.latencyP99Ms <= p.latencyP99Ms;
        goals.push(`${ok ? 'met ' : 'MISS'}  ${SCENARIO_LABELS[scenario]}: ${ratio.toFixed(2)}× the peer's throughput (goal ≥ 1.5×), p99 ${g.latencyP99Ms} vs ${p.latencyP99Ms} ms (goal: no worse)`);
      }
    }
  }
  if (statements) {
    lines.push('', 'Database statements per request (median of ' + STATEMENT_SAMPLES + '; BEGIN/COMMIT count, each is a round trip):');
    for (const [kind, bySide] of Object.entries(statements.perRequest)) {
      lines.push(`  ${kind.padEnd(46)} Gatehouse ${String(bySide.gatehouse.median).padStart(3)}   peer ${String(bySide.peer.median).padStart(3)}`);
    }
  }
  if (memory) {
    const growth = memory.settled.rssMiB - memory.before.rssMiB;
    lines.push(
      '',
      `Gatehouse memory, ${memory.tokens} tokens issued through HTTP (refresh rotations) in ${memory.seconds.toFixed(0)} s (${memory.perSecond.toFixed(0)}/s)` +
        `${memory.cappedByTime ? `, stopped by BENCH_MEMORY_MAX_S=${MEMORY_MAX_S} before ${MEMORY_TOKENS}` : ''}:`,
      `  RSS before ${memory.before.rssMiB} MiB, right after ${memory.after.rssMiB} MiB, after 10 s and a full GC ${memory.settled.rssMiB} MiB` +
        (memory.before.heapUsedMiB !== null ? `;\n  V8 heap used ${memory.before.heapUsedMiB} → ${memory.after.heapUsedMiB} → ${memory.settled.heapUsedMiB} MiB (before and last: after a full GC)` : ''),
    );
    goals.push(
      `${growth <= 0.1 * memory.before.rssMiB ? 'met ' : 'MISS'}  memory after ${memory.tokens} tokens: RSS ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB after a full GC (goal: flat, read here as within 10 % of before)`,
    );
  }
  if (goals.length) lines.push('', 'Goals (reported, never enforced):', ...goals.map((goal) => `  ${goal}`));
  if (profile) {
    lines.push('', `Gatehouse CPU profile (${profile.file}): ${profile.busySeconds} s busy; self time as a share of busy time, by module:`);
    for (const entry of profile.modules) lines.push(`  ${entry.selfPercent.toFixed(1).padStart(5)} %  ${entry.module}`);
    lines.push('', 'and by function:');
    for (const entry of profile.top) lines.push(`  ${entry.selfPercent.toFixed(1).padStart(5)} %  ${entry.function}  ${entry.location}`);
  }
  lines.push('', `(run took ${input.elapsedSeconds.toFixed(0)} s)`);
  console.log(lines.join('\n'));

  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `auth-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const labels = { sides: SIDE_LABELS, scenarios: SCENARIO_LABELS };
  const date = new Date().toISOString();
  writeFileSync(
    file,
    `${JSON.stringify({ date, machine, settings, postgres: input.postgres.description, peer: `oidc-provider ${peerVersion()}`, labels, summary, goals, statements, memory, profile, loadAverages: input.loadAverages, rounds }, null, 2)}\n`,
  );
  console.log(`results: ${file}`);
}

function fmt(ms: number): string {
  return String(ms).padStart(6);
}

function peerVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', 'oidc-provider', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function positive(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

function selectedScenarios(): Set<Scenario | Extra> {
  const all = [...SCENARIOS, ...EXTRA] as Array<Scenario | Extra>;
  const raw = process.env.BENCH_SCENARIOS;
  if (!raw) return new Set(all);
  const names = raw.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !all.includes(name as Scenario | Extra));
  if (unknown.length) throw new Error(`BENCH_SCENARIOS: unknown ${unknown.join(', ')}; choose from ${all.join(', ')}`);
  return new Set(names as Array<Scenario | Extra>);
}

main().catch((error: unknown) => {
  console.error(error);
  for (const child of children) if (child.exitCode === null) child.kill();
  process.exit(1);
});
