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
  type FlowStep,
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
 * Authorization-server benchmark (not a test): Gatehouse against node-oidc-provider, for the refresh_token grant,
 * introspection, full authorization-code flows (ten at a time, and one at a time), and the metadata and JWKS
 * documents, with a raw node:http hello-world as the ceiling; then 100k tokens issued on Gatehouse with its RSS
 * before and after.
 *
 * Setups (BENCH_SETUPS, default all):
 * - throwaway: both sides on one throwaway PostgreSQL cluster with fsync and synchronous_commit off, in separate
 *   databases, Gatehouse with AUDIT_LOG=off and LOG_LEVEL=warn: every scenario, statement counts, memory.
 * - embedded: Gatehouse as `npm start` runs it (embedded PGlite in a data folder, default settings) against
 *   oidc-provider with its default in-memory adapter, as its quick start runs it.
 * - durable: Gatehouse with default settings on a second throwaway cluster with PostgreSQL's default durability
 *   (fsync on), against oidc-provider in memory and against oidc-provider on the same durable cluster.
 * The embedded and durable setups measure refresh, introspection and the one-at-a-time flow.
 * Every Gatehouse runs with RATE_LIMITS=off: the peer has no limiter, and Gatehouse's would (rightly) refuse a load
 * generator hammering one client.
 *
 * Processes: this orchestrator (PostgreSQL, setup, checks; idle while measuring), each Gatehouse
 * (dist/src/main.js), each peer (peer.ts), the hello-world server (hello.ts), and one load generator (load.ts). Each
 * round measures every scenario on every server, scenarios in a rotated order and the servers in alternating order,
 * each once the machine has fallen quiet (settle); Gatehouse's documents and the raw node:http references take turns
 * in one-second slices (measureInSlices), so that their shares compare the same seconds. The tables show medians
 * over rounds. Results go to bench/results/auth-<time>.json (baseline-auth.json is the
 * committed one).
 *
 * BENCH_ROUNDS (5), BENCH_DURATION_S (3), BENCH_WARMUP_S (2), BENCH_CONNECTIONS (10), BENCH_SCENARIOS (comma list of
 * refresh,introspect,flow,sequential,metadata,jwks,memory,statements; default all), BENCH_SETUPS (comma list of
 * throwaway,embedded,durable; default all), BENCH_MEMORY_TOKENS (100000) and BENCH_MEMORY_MAX_S (100: the memory
 * run stops there if the tokens are not all issued yet), BENCH_DATABASE_URL (use that server instead of the
 * throwaway clusters, for both; no statement counts then), BENCH_CPU_PROFILE=1 (run each Gatehouse under --cpu-prof
 * and print its top self-time functions).
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
const SETUP_NAMES = ['throwaway', 'embedded', 'durable'] as const;
type Setup = (typeof SETUP_NAMES)[number];
const SETUPS = selectedSetups();
/** What the embedded and durable setups measure: the columns of their table. */
const SETUP_SCENARIOS: Scenario[] = ['refresh', 'introspect', 'sequential'];

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

/**
 * Every server a run can measure. `gatehouse` and `peer` are the throwaway setup's (the names the committed
 * baseline's results use).
 */
type ServerName = 'gatehouse' | 'peer' | 'gatehouse-embedded' | 'peer-memory' | 'gatehouse-durable' | 'peer-durable';

const SERVER_LABELS: Record<ServerName, string> = {
  gatehouse: 'Gatehouse, throwaway PostgreSQL (fsync off)',
  peer: 'oidc-provider, throwaway PostgreSQL (fsync off)',
  'gatehouse-embedded': 'Gatehouse, embedded default (npm start)',
  'peer-memory': 'oidc-provider, in-memory adapter',
  'gatehouse-durable': 'Gatehouse, PostgreSQL with fsync on',
  'peer-durable': 'oidc-provider, PostgreSQL with fsync on',
};

interface Server {
  name: ServerName;
  side: Side;
  target: SideTarget;
  pid: number;
  /** Its database's processes, whose CPU time counts as its own while it is measured (none: in process or memory). */
  databasePids: () => number[];
  scenarios: Scenario[];
  gatehouse?: GatehouseProcess;
  /**
   * Its store forgets idle entries (oidc-provider's quick-start memory adapter is an LRU of 1000): the refresh
   * chains made for one round do not outlive the flows of the others, so each refresh measurement gets new ones.
   */
  forgetsIdleChains?: boolean;
}

/** The rows of the setups table: a Gatehouse against a peer. */
interface Comparison {
  label: string;
  setup: Setup;
  gatehouse: ServerName;
  peer: ServerName;
}

const COMPARISONS: Comparison[] = [
  { label: 'embedded default (`npm start`)', setup: 'embedded', gatehouse: 'gatehouse-embedded', peer: 'peer-memory' },
  { label: 'PostgreSQL, default durability (`fsync` on)', setup: 'durable', gatehouse: 'gatehouse-durable', peer: 'peer-memory' },
  { label: 'both on one PostgreSQL, `fsync` on', setup: 'durable', gatehouse: 'gatehouse-durable', peer: 'peer-durable' },
  { label: 'both on one PostgreSQL, `fsync` off (throwaway)', setup: 'throwaway', gatehouse: 'gatehouse', peer: 'peer' },
];

/** The raw node:http references: hello-world, and Gatehouse's metadata bytes and headers (hello.ts /document). */
type Reference = 'hello' | 'hello-document';

interface Measurement {
  scenario: Scenario | Reference;
  server: ServerName | 'hello';
}

async function main(): Promise<void> {
  const started = Date.now();
  const clusters: BenchPostgres[] = [];
  try {
    const servers: Server[] = [];
    const throwawayScenarios = SCENARIOS.filter((scenario) => SELECTED.has(scenario));
    const setupScenarios = SETUP_SCENARIOS.filter((scenario) => SELECTED.has(scenario));
    let postgres: BenchPostgres | null = null;
    if (SETUPS.has('throwaway')) {
      postgres = await startPostgres();
      clusters.push(postgres);
      const [gatehouseDb, peerDb] = [await postgres.createDatabase('bench_gatehouse'), await postgres.createDatabase('bench_peer')];
      const gatehouse = await startGatehouse({ kind: 'throwaway', databaseUrl: gatehouseDb });
      servers.push({ name: 'gatehouse', side: 'gatehouse', target: await setUpGatehouse(gatehouse), pid: gatehouse.child.pid!, databasePids: postgres.processIds, scenarios: throwawayScenarios, gatehouse });
      const peer = await startPeer(peerDb);
      servers.push({ name: 'peer', side: 'peer', target: peer.target, pid: peer.pid, databasePids: postgres.processIds, scenarios: throwawayScenarios });
    }
    if (SETUPS.has('embedded') || SETUPS.has('durable')) {
      const peer = await startPeer(undefined);
      servers.push({ name: 'peer-memory', side: 'peer', target: peer.target, pid: peer.pid, databasePids: () => [], scenarios: setupScenarios, forgetsIdleChains: true });
    }
    if (SETUPS.has('embedded')) {
      const gatehouse = await startGatehouse({ kind: 'embedded' });
      servers.push({ name: 'gatehouse-embedded', side: 'gatehouse', target: await setUpGatehouse(gatehouse), pid: gatehouse.child.pid!, databasePids: () => [], scenarios: setupScenarios, gatehouse });
    }
    let durable: BenchPostgres | null = null;
    if (SETUPS.has('durable')) {
      durable = await startPostgres({ durable: true });
      clusters.push(durable);
      const [gatehouseDb, peerDb] = [await durable.createDatabase('bench_gatehouse_durable'), await durable.createDatabase('bench_peer_durable')];
      const gatehouse = await startGatehouse({ kind: 'durable', databaseUrl: gatehouseDb });
      servers.push({ name: 'gatehouse-durable', side: 'gatehouse', target: await setUpGatehouse(gatehouse), pid: gatehouse.child.pid!, databasePids: durable.processIds, scenarios: setupScenarios, gatehouse });
      const peer = await startPeer(peerDb);
      servers.push({ name: 'peer-durable', side: 'peer', target: peer.target, pid: peer.pid, databasePids: durable.processIds, scenarios: setupScenarios });
    }
    const byName = new Map(servers.map((server) => [server.name, server]));
    const throwaway = SETUPS.has('throwaway') ? { gatehouse: byName.get('gatehouse')!, peer: byName.get('peer')! } : null;

    // The hello-world ceiling is measured with the throwaway setup's scenarios (the documents are compared to it).
    let hello: { url: string; pid: number } | null = null;
    if (throwaway && throwawayScenarios.length) {
      const metadataBytes = await (await fetch(throwaway.gatehouse.target.metadataUrl)).text();
      const helloServer = await forkServer('hello.js', { BENCH_HELLO_DOCUMENT: metadataBytes });
      hello = { url: `http://127.0.0.1:${helloServer.port}/`, pid: helloServer.pid };
    }

    const http = new HttpClient(4);
    const fixtures = await checkScenarios(http, servers);
    console.log(`checks passed: every scenario succeeds on every server (${servers.map((server) => server.name).join(', ')}: tokens verified, refresh tokens rotate, reuse is refused, introspection active)`);

    const load = fork(here('./load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(load);
    const send = (message: LoadRequest) => request(load, message);
    const prepare = async (server: Server) => {
      const { chains } = await send({ kind: 'prepare', target: server.target, chains: CONNECTIONS * 4, minimum: CONNECTIONS * 2, fresh: server.forgetsIdleChains === true });
      return chains;
    };

    const measureOnce = async ({ scenario, server }: Measurement, durationSeconds: number): Promise<LoadResult> => {
      if (server === 'hello') {
        const url = scenario === 'hello-document' ? `${hello!.url}document` : hello!.url;
        return send({ kind: 'fixed', url, method: 'GET', headers: {}, durationSeconds, connections: CONNECTIONS });
      }
      const target = byName.get(server)!.target;
      switch (scenario) {
        case 'refresh':
          return send({ kind: 'refresh', target, durationSeconds, connections: CONNECTIONS });
        case 'introspect': {
          const { headers, body } = introspectionRequest(target, fixtures.get(server)!.introspectionToken);
          return send({ kind: 'fixed', url: target.introspectionEndpoint, method: 'POST', headers, body, durationSeconds, connections: CONNECTIONS });
        }
        case 'flow':
          return send({ kind: 'flow', target, durationSeconds, concurrency: CONNECTIONS });
        case 'sequential':
          return send({ kind: 'sequential', target, durationSeconds });
        case 'metadata':
          return send({ kind: 'fixed', url: target.metadataUrl, method: 'GET', headers: {}, durationSeconds, connections: CONNECTIONS });
        case 'jwks':
          return send({ kind: 'fixed', url: target.jwksUrl, method: 'GET', headers: {}, durationSeconds, connections: CONNECTIONS });
        default:
          throw new Error(`no scenario ${scenario}`);
      }
    };
    const measure = async (unit: Measurement, durationSeconds: number, { quiet = true } = {}): Promise<Measured> => {
      // Refresh-token chains are issued first: the measurement then starts from a quiet machine, not on their tail.
      if (unit.scenario === 'refresh' && unit.server !== 'hello') await prepare(byName.get(unit.server)!);
      const settled = quiet ? await settle() : { waitedMs: 0 };
      // The clusters' processes are listed at each reading: backends start (and end) while measuring.
      const server = unit.server === 'hello' ? null : byName.get(unit.server)!;
      const pids = () => ({ server: [server ? server.pid : hello!.pid], database: server ? server.databasePids() : [], load: [load.pid!] });
      const [before, machineBefore, startedAt] = [cpuMilliseconds(pids()), machineBusyMilliseconds(), performance.now()];
      const result: Measured = await measureOnce(unit, durationSeconds);
      const [after, machineAfter, endedAt] = [cpuMilliseconds(pids()), machineBusyMilliseconds(), performance.now()];
      if (result.completed > 0) {
        const perOp = (part: keyof typeof before) => round((after[part] - before[part]) / result.completed, 3);
        result.cpuMsPerOperation = { server: perOp('server'), database: perOp('database'), load: perOp('load') };
      }
      const measuredParties = (Object.keys(before) as Array<keyof typeof before>).reduce((sum, part) => sum + after[part] - before[part], 0);
      result.otherCores = round(Math.max(0, machineAfter - machineBefore - measuredParties) / (endedAt - startedAt), 2);
      result.settled = settled;
      if (result.non2xx || result.errors || result.timeouts || result.notRotated) {
        throw new Error(
          `${unit.scenario} on ${unit.server}: ${result.non2xx} failed answers, ${result.errors} errors, ${result.timeouts} timeouts, ${result.notRotated ?? 0} refreshes without rotation` +
            `${result.firstError ? ` (${result.firstError})` : ''}: the benchmark would not measure successful requests`,
        );
      }
      return result;
    };

    const measuredScenarios = SCENARIOS.filter((scenario) => servers.some((server) => server.scenarios.includes(scenario)));
    const rounds: Array<Record<string, Measured>> = [];
    /** The 1-minute load average after each round: this bench keeps about three processes busy; more means company. */
    const loadAverages: number[] = [];
    if (measuredScenarios.length) {
      // The documents' goal is a share of raw node:http, and this machine's speed drifts by a third within seconds:
      // the Gatehouse documents and their raw references are measured as one block of short alternating slices, so
      // each share compares requests served in the same seconds.
      const inBlock = (unit: Measurement) => unit.server === 'hello' || (unit.server === 'gatehouse' && (unit.scenario === 'metadata' || unit.scenario === 'jwks'));
      const block = (round: number): Measurement[] => {
        const members: Measurement[] = [{ scenario: 'hello', server: 'hello' }];
        if (throwawayScenarios.includes('metadata')) members.push({ scenario: 'metadata', server: 'gatehouse' }, { scenario: 'hello-document', server: 'hello' });
        if (throwawayScenarios.includes('jwks')) members.push({ scenario: 'jwks', server: 'gatehouse' });
        return members.map((_, i) => members[(i + round) % members.length]!);
      };
      const units = (round: number): Array<Measurement | Measurement[]> => {
        const rotated = measuredScenarios.map((_, i) => measuredScenarios[(i + round) % measuredScenarios.length]!);
        const list: Array<Measurement | Measurement[]> = rotated.flatMap((scenario) => {
          const measuring = servers.filter((server) => server.scenarios.includes(scenario));
          if (round % 2 === 1) measuring.reverse();
          return measuring.map((server) => ({ scenario, server: server.name })).filter((unit) => !(hello && inBlock(unit)));
        });
        if (hello) list.splice(round % (list.length + 1), 0, block(round));
        return list;
      };
      const label = (unit: Measurement) => (unit.server === 'hello' ? unit.scenario : `${unit.scenario}:${SHORT_NAMES[unit.server]}`);
      const measureAll = async (unit: Measurement | Measurement[], durationSeconds: number, into: Record<string, Measured>) => {
        if (!Array.isArray(unit)) into[key(unit)] = await measure(unit, durationSeconds);
        else Object.assign(into, await measureInSlices(unit, durationSeconds, measure));
      };
      console.log(`warm-up: ${WARMUP_S} s per scenario and server`);
      for (const unit of units(0)) await measureAll(unit, WARMUP_S, {});
      for (let round = 0; round < ROUNDS; round++) {
        const order = units(round);
        console.log(`round ${round + 1}/${ROUNDS}: ${order.map((unit) => (Array.isArray(unit) ? `[${unit.map(label).join(' ')}]` : label(unit))).join(' ')}`);
        const results: Record<string, Measured> = {};
        for (const unit of order) await measureAll(unit, DURATION_S, results);
        rounds.push(results);
        loadAverages.push(Math.round(loadavg()[0]! * 100) / 100);
      }
    }

    const statements = throwaway && postgres && SELECTED.has('statements') ? await countStatements(postgres, http, throwaway, fixtures) : null;
    const memory = throwaway && SELECTED.has('memory') ? await memoryAfterTokens(throwaway.gatehouse.gatehouse!, throwaway.gatehouse, send, prepare) : null;
    http.close();

    const profiles: Array<{ server: ServerName; profile: ProfileSummary }> = [];
    for (const server of servers) {
      const gatehouse = server.gatehouse;
      if (!gatehouse) continue;
      const printed = gatehouse.output().trim();
      if (printed && server.name === 'gatehouse') console.log(`Gatehouse printed during the run (last lines):\n${printed.split('\n').slice(-10).join('\n')}\n`);
      const profile = CPU_PROFILE ? await stopAndSummariseProfile(gatehouse) : null;
      if (profile) profiles.push({ server: server.name, profile });
    }
    report({
      servers,
      throwawayScenarios: throwaway ? throwawayScenarios : [],
      rounds,
      loadAverages,
      statements,
      memory,
      profiles,
      databases: clusters.map((cluster) => cluster.description),
      elapsedSeconds: (Date.now() - started) / 1000,
    });
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
    for (const cluster of clusters) await cluster.stop();
  }
}

/** Slices a block's members take turns in, each measured for this long (autocannon's shortest: it stops on a one-second sample). */
const SLICE_SECONDS = 1;

/**
 * Measures `members` in turns of SLICE_SECONDS, forwards then backwards (so that a steady drift favours none), until
 * each has been measured for `durationSeconds`; each member's result sums its slices. The machine is let fall quiet
 * once, before the first slice: the members are cheap documents, and a wait between slices would let the machine's
 * speed drift between them.
 */
async function measureInSlices(
  members: Measurement[],
  durationSeconds: number,
  measure: (unit: Measurement, durationSeconds: number, options: { quiet: boolean }) => Promise<Measured>,
): Promise<Record<string, Measured>> {
  const slices = new Map<string, Measured[]>(members.map((member) => [key(member), []]));
  const turns = Math.max(1, Math.round(durationSeconds / SLICE_SECONDS));
  for (let turn = 0; turn < turns; turn++) {
    const order = turn % 2 === 0 ? members : [...members].reverse();
    for (const member of order) slices.get(key(member))!.push(await measure(member, durationSeconds / turns, { quiet: turn === 0 && member === order[0] }));
  }
  return Object.fromEntries([...slices].map(([name, measured]) => [name, combineSlices(measured)]));
}

/** One member's slices as one measurement: counts and seconds summed, CPU per operation weighted by operations, latencies the slices' median. */
function combineSlices(slices: Measured[]): Measured {
  const sum = (value: (slice: Measured) => number) => slices.reduce((total, slice) => total + value(slice), 0);
  const [completed, seconds] = [sum((slice) => slice.completed), sum((slice) => slice.seconds)];
  const cpu = (part: keyof CpuPerOperation) => round(sum((slice) => (slice.cpuMsPerOperation?.[part] ?? 0) * slice.completed) / Math.max(1, completed), 3);
  return {
    perSecond: round(completed / seconds, 1),
    latencyP50Ms: median(slices.map((slice) => slice.latencyP50Ms)),
    latencyP99Ms: median(slices.map((slice) => slice.latencyP99Ms)),
    latencyMeanMs: round(sum((slice) => slice.latencyMeanMs * slice.completed) / Math.max(1, completed)),
    completed,
    seconds,
    non2xx: sum((slice) => slice.non2xx),
    errors: sum((slice) => slice.errors),
    timeouts: sum((slice) => slice.timeouts),
    cpuMsPerOperation: { server: cpu('server'), database: cpu('database'), load: cpu('load') },
    otherCores: round(sum((slice) => slice.otherCores ?? 0) / slices.length, 2),
    settled: { waitedMs: sum((slice) => slice.settled?.waitedMs ?? 0) },
  };
}

/** Servers in the round's printed order: G and P for the throwaway setup, as before. */
const SHORT_NAMES: Record<ServerName, string> = {
  gatehouse: 'G',
  peer: 'P',
  'gatehouse-embedded': 'Gemb',
  'peer-memory': 'Pmem',
  'gatehouse-durable': 'Gdur',
  'peer-durable': 'Pdur',
};

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

/**
 * - throwaway: on the throwaway cluster, with the audit log off (events are still written to the outbox) and
 *   warnings only in its log, as this bench has always measured it;
 * - embedded: what `npm start` runs: no DATABASE_URL, a data folder (DATA_DIR, here a temporary one) holding the
 *   embedded database, the settings' defaults; the admin API through the credential it writes there, as the CLI
 *   finds it;
 * - durable: the settings' defaults, with the DATABASE_URL, ENCRYPTION_KEY and ADMIN_TOKEN a PostgreSQL deployment
 *   sets.
 * All: the loopback address and port as ISSUER, and RATE_LIMITS=off.
 */
type GatehouseSetup = { kind: 'throwaway' | 'durable'; databaseUrl: string } | { kind: 'embedded' };

async function startGatehouse(setup: GatehouseSetup): Promise<GatehouseProcess> {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: build first (npm run bench does)`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const profileDir = CPU_PROFILE ? join(root, 'bench', 'results', 'profiles') : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const snapshotDir = setup.kind === 'throwaway' && SELECTED.has('memory') ? mkdtempSync(join(tmpdir(), 'gatehouse-bench-heap-')) : null;
  const flags = [
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ...(snapshotDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] : []),
  ];
  const common = { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ISSUER: url, RATE_LIMITS: 'off' };
  let adminToken = randomBytes(24).toString('hex');
  let dataDir: string | null = null;
  let env: Record<string, string>;
  if (setup.kind === 'embedded') {
    dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-data-'));
    env = { ...common, DATA_DIR: dataDir };
  } else {
    const database = { DATABASE_URL: setup.databaseUrl, ENCRYPTION_KEY: randomBytes(32).toString('hex'), ADMIN_TOKEN: adminToken };
    env = setup.kind === 'throwaway' ? { ...common, ...database, LOG_LEVEL: 'warn', AUDIT_LOG: 'off' } : { ...common, ...database };
  }
  const child = spawn(process.execPath, [...flags, MAIN_JS], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  // Its last 64 kB or so of output, to show if it dies. With the default settings it writes an audit line per event,
  // so this keeps whole chunks and drops old ones rather than copying the text on every chunk.
  const kept: string[] = [];
  let keptLength = 0;
  const keep = (chunk: Buffer) => {
    kept.push(chunk.toString());
    keptLength += chunk.length;
    while (keptLength > 65_536 && kept.length > 1) keptLength -= kept.shift()!.length;
  };
  const output = () => kept.join('');
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`Gatehouse (${setup.kind}) exited with ${code}:\n${output()}`))));
  const ready = (async () => {
    for (let attempt = 0; attempt < 600; attempt++) {
      try {
        if ((await fetch(`${url}/readyz`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`Gatehouse (${setup.kind}) was not ready in 60 s:\n${output()}`);
  })();
  await Promise.race([ready, exited]);
  exited.catch(() => {});
  if (dataDir) {
    const credential = JSON.parse(readFileSync(join(dataDir, 'local-admin.json'), 'utf8')) as { token: string };
    adminToken = credential.token;
    const folder = dataDir;
    child.once('exit', () => rmSync(folder, { recursive: true, force: true }));
  }
  return { child, url, adminToken, output, profileDir, snapshotDir };
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

/** The peer on a PostgreSQL database, or (no URL) on oidc-provider's default in-memory adapter. */
async function startPeer(databaseUrl: string | undefined): Promise<{ target: SideTarget; pid: number }> {
  const client = { id: 'bench-client', secret: randomBytes(32).toString('base64url'), redirectUri: REDIRECT_URI };
  const config: PeerConfig = { ...(databaseUrl ? { databaseUrl } : {}), resource: RESOURCE, opaqueResource: OPAQUE_RESOURCE, scopes: SCOPES, client };
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
async function checkScenarios(http: HttpClient, servers: Server[]): Promise<Map<ServerName, Fixtures>> {
  const fixtures = new Map<ServerName, Fixtures>();
  for (const { name, side, target } of servers) {
    const fail = (what: string): never => {
      throw new Error(`check failed on ${name}: ${what}`);
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
    fixtures.set(name, { introspectionToken: token });
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
async function countStatements(
  postgres: BenchPostgres,
  http: HttpClient,
  servers: Record<Side, Server>,
  fixtures: Map<ServerName, Fixtures>,
): Promise<StatementCounts | null> {
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
      const { target, name } = servers[side];
      for (let i = 0; i < STATEMENT_SAMPLES; i++) {
        const obtained = await obtainCode(http, target);
        let tokens: TokenSet | undefined;
        await sample('authorization_code grant (POST /token)', side, async () => (tokens = await exchangeCode(http, target, obtained)));
        await sample('refresh_token grant (POST /token)', side, () => refresh(http, target, tokens!.refreshToken!));
        const { headers, body } = introspectionRequest(target, fixtures.get(name)!.introspectionToken);
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
  /** Cores' worth of CPU that processes other than the measured parties used meanwhile: background work that shared the machine. */
  otherCores?: number;
  /** How long the machine took to fall quiet before this measurement, and what kept it busy if it never did. */
  settled?: Settled;
}

interface Settled {
  waitedMs: number;
  /** Set when QUIET_MAX_WAIT_MS ran out: the busiest processes of the last window, as `name (pid) cores`. */
  busiest?: string[];
}

/** A window in which the machine used less than QUIET_CORES of CPU is quiet: background work of an earlier scenario (autovacuum, a checkpoint, audit delivery catching up) has ended. */
const QUIET_WINDOW_MS = 250;
const QUIET_CORES = 0.08;
const QUIET_MAX_WAIT_MS = 15_000;

/**
 * Waits until the machine is quiet, so that no scenario shares the 2 cores with what the one before it left running.
 * Gives up after QUIET_MAX_WAIT_MS and names what stayed busy (the measurement then runs anyway).
 */
async function settle(): Promise<Settled> {
  const started = performance.now();
  for (;;) {
    // Every process is read only for the last window, to name the busiest: reading /proc is work of its own.
    const lastWindow = performance.now() - started + QUIET_WINDOW_MS >= QUIET_MAX_WAIT_MS;
    const [busyBefore, processesBefore, windowStarted] = [machineBusyMilliseconds(), lastWindow ? processTimes() : null, performance.now()];
    await new Promise((resolve) => setTimeout(resolve, QUIET_WINDOW_MS));
    const windowMs = performance.now() - windowStarted;
    const waitedMs = Math.round(performance.now() - started);
    if ((machineBusyMilliseconds() - busyBefore) / windowMs < QUIET_CORES) return { waitedMs };
    if (processesBefore) {
      const processesAfter = processTimes();
      const busiest = [...processesAfter]
        .map(([pid, { name, ms }]) => ({ pid, name, cores: (ms - (processesBefore.get(pid)?.ms ?? ms)) / windowMs }))
        .filter((entry) => entry.cores >= 0.01)
        .sort((a, b) => b.cores - a.cores)
        .slice(0, 3)
        .map((entry) => `${entry.name} (${entry.pid}) ${entry.cores.toFixed(2)}`);
      return { waitedMs, busiest };
    }
  }
}

/** Every process's CPU milliseconds so far (user + system, its own only), by pid, with its command name. */
function processTimes(): Map<number, { name: string; ms: number }> {
  const times = new Map<number, { name: string; ms: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      times.set(Number(entry), { name, ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND });
    } catch {
      // ended between the listing and the reading
    }
  }
  return times;
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

/** CPU milliseconds the whole machine has spent busy (every state but idle and iowait), from /proc/stat's first line. */
function machineBusyMilliseconds(): number {
  const stat = readFileSync('/proc/stat', 'utf8');
  const [, ...ticks] = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
  return ((user! + nice! + system! + irq! + softirq! + steal!) * 1000) / TICKS_PER_SECOND;
}

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
  server: Server,
  send: (message: LoadRequest) => Promise<LoadResult>,
  prepare: (server: Server) => Promise<number | undefined>,
): Promise<MemoryReport> {
  const target = server.target;
  const issue = async (amount: number) => {
    await prepare(server);
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
  return unit.server === 'hello' ? unit.scenario : `${unit.scenario}:${unit.server}`;
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
  /** Sequential flows: each request's median time, the median over rounds. */
  steps?: FlowStep[];
}

function report(input: {
  servers: Server[];
  /** The throwaway setup's scenarios (none when it did not run). */
  throwawayScenarios: Scenario[];
  rounds: Array<Record<string, Measured>>;
  loadAverages: number[];
  statements: StatementCounts | null;
  memory: MemoryReport | null;
  profiles: Array<{ server: ServerName; profile: ProfileSummary }>;
  databases: string[];
  elapsedSeconds: number;
}): void {
  const { servers, throwawayScenarios: scenarios, rounds, statements, memory, profiles } = input;
  const summarise = (name: string): Summary => {
    const first = rounds[0]![name]!;
    return {
      perSecond: round(median(rounds.map((round) => round[name]!.perSecond)), 1),
      latencyP50Ms: median(rounds.map((round) => round[name]!.latencyP50Ms)),
      latencyP99Ms: median(rounds.map((round) => round[name]!.latencyP99Ms)),
      latencyMeanMs: round(median(rounds.map((round) => round[name]!.latencyMeanMs))),
      ...(first.cpuMsPerOperation && {
        cpuMsPerOperation: {
          server: round(median(rounds.map((round) => round[name]!.cpuMsPerOperation!.server)), 3),
          database: round(median(rounds.map((round) => round[name]!.cpuMsPerOperation!.database)), 3),
          load: round(median(rounds.map((round) => round[name]!.cpuMsPerOperation!.load)), 3),
        },
      }),
      ...(first.steps && {
        steps: first.steps.map((step, i) => ({ request: step.request, medianMs: round(median(rounds.map((round) => round[name]!.steps?.[i]?.medianMs ?? NaN))) })),
      }),
    };
  };
  const summary: Record<string, Summary> = {};
  if (rounds.length) {
    for (const name of Object.keys(rounds[0]!)) summary[name] = summarise(name);
  }
  const machine = { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version };
  const settings = {
    rounds: ROUNDS,
    durationSeconds: DURATION_S,
    warmupSeconds: WARMUP_S,
    connections: CONNECTIONS,
    memoryTokens: MEMORY_TOKENS,
    memoryMaxSeconds: MEMORY_MAX_S,
    scenarios: [...SELECTED],
    setups: [...SETUPS],
  };

  const lines: string[] = [
    `Authorization server benchmark — ${machine.cores} cores (${machine.cpu}), Node ${machine.node}; PostgreSQL: ${input.databases.join('; ') || 'none'}`,
    `${CONNECTIONS} connections (flows: ${CONNECTIONS} concurrent flows; one flow: one at a time), ${ROUNDS} interleaved rounds × ${DURATION_S} s after ${WARMUP_S} s warm-up; medians over rounds`,
    `Every Gatehouse runs with RATE_LIMITS=off (the peer has no limiter); on the throwaway cluster also with AUDIT_LOG=off (events are still written`,
    `to the outbox) and LOG_LEVEL=warn; embedded and on the durable cluster with the defaults (audit log on stdout, LOG_LEVEL=info).`,
    `Peer: oidc-provider ${peerVersion()}, PostgreSQL adapter in bench/auth/pg-adapter.ts, or its default in-memory adapter. Its introspection rows ask about`,
    `an opaque access token: it refuses JWTs there.`,
    `Every flow signs a new user in and records consent on both sides: Gatehouse through login_method external + consent_uri (/api/login/complete,`,
    `/api/consent/complete), the peer through its interaction URL (interactionFinished with login, then a Grant). Both: confidential client, client_secret_basic.`,
    '',
  ];
  const goals: string[] = [];
  const hello = summary.hello;
  const sameBytes = summary['hello-document'];
  if (rounds.length && scenarios.length && hello) {
    lines.push('Both sides on one throwaway PostgreSQL cluster (fsync off):');
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
    if (sameBytes) lines.push(reference('raw node:http, the metadata bytes and headers', sameBytes));
    lines.push('', `(requests/s, or completed flows/s for the flows; latency in ms — autocannon's whole milliseconds, per flow for the flows)`);

    for (const scenario of scenarios) {
      const g = summary[`${scenario}:gatehouse`]!;
      const p = summary[`${scenario}:peer`]!;
      if (scenario === 'metadata' || scenario === 'jwks') {
        // Each round's share compares requests served in the same seconds (one block of slices); the goal reads their median.
        const shares = (name: string) => rounds.map((round) => round[name]!.perSecond / round.hello!.perSecond);
        const share = median(shares(`${scenario}:gatehouse`));
        const percents = (values: number[]) => values.map((value) => (100 * value).toFixed(0)).join(', ');
        const ofSameBytes = sameBytes ? `; the same metadata bytes and headers from raw node:http reach ${(100 * median(shares('hello-document'))).toFixed(0)} % (${percents(shares('hello-document'))})` : '';
        goals.push(
          `${share >= 0.7 ? 'met ' : 'MISS'}  ${SCENARIO_LABELS[scenario]}: Gatehouse at ${(share * 100).toFixed(0)} % of raw node:http (goal ≥ 70 %; rounds ${percents(shares(`${scenario}:gatehouse`))})` +
            (scenario === 'metadata' ? ofSameBytes : ''),
        );
      } else if (scenario !== 'sequential') {
        const ratio = g.perSecond / p.perSecond;
        const ok = ratio >= 1.5 && g.latencyP99Ms <= p.latencyP99Ms;
        goals.push(`${ok ? 'met ' : 'MISS'}  throwaway cluster, ${SCENARIO_LABELS[scenario]}: ${ratio.toFixed(2)}× the peer's throughput (goal ≥ 1.5×), p99 ${g.latencyP99Ms} vs ${p.latencyP99Ms} ms (goal: no worse)`);
      }
    }
  }

  // Each setup against its peer: refresh and introspection throughput, and one flow's latency.
  const comparisons = COMPARISONS.filter((row) => SETUPS.has(row.setup) && servers.some((server) => server.name === row.gatehouse));
  const cell = (scenario: Scenario, row: Comparison) => {
    const g = summary[`${scenario}:${row.gatehouse}`];
    const p = summary[`${scenario}:${row.peer}`];
    if (!g || !p) return null;
    return { g, p, ratio: g.perSecond / p.perSecond };
  };
  if (rounds.length && comparisons.length) {
    lines.push('', 'Each Gatehouse setup against the peer (refresh and introspection: requests/s; one flow: median ms, one flow at a time, a new user each):');
    lines.push('  rows 1–2: the peer with its in-memory adapter; row 3: the peer on the same PostgreSQL (fsync on); row 4: both on the throwaway cluster (fsync off)');
    const header = `| ${'Gatehouse setup'.padEnd(48)} | ${'refresh /s (peer)'.padEnd(24)} | ${'introspection /s (peer)'.padEnd(24)} | ${'one flow, ms (peer)'.padEnd(20)} |`;
    lines.push(header, `|${header.slice(1, -1).replace(/[^|]/g, '-')}|`);
    for (const row of comparisons) {
      const rate = (scenario: Scenario) => {
        const c = cell(scenario, row);
        return c ? `${c.g.perSecond.toFixed(0)} (${c.p.perSecond.toFixed(0)}) = ${c.ratio.toFixed(2)}×` : '—';
      };
      const flow = cell('sequential', row);
      const flowText = flow ? `${flow.g.latencyP50Ms.toFixed(1)} (${flow.p.latencyP50Ms.toFixed(1)})` : '—';
      lines.push(`| ${row.label.padEnd(48)} | ${rate('refresh').padEnd(24)} | ${rate('introspect').padEnd(24)} | ${flowText.padEnd(20)} |`);
    }
    const goal = (row: Comparison, scenario: 'refresh' | 'introspect', atLeast: number, against: string) => {
      const c = cell(scenario, row);
      if (c) goals.push(`${c.ratio >= atLeast ? 'met ' : 'MISS'}  ${row.label}, ${SCENARIO_LABELS[scenario]}: ${c.ratio.toFixed(2)}× ${against} (goal ≥ ${atLeast}×)`);
    };
    for (const row of comparisons) {
      if (row.gatehouse === 'gatehouse-embedded') {
        goal(row, 'introspect', 1.0, "the peer's in-memory default");
        goal(row, 'refresh', 0.6, "the peer's in-memory default");
        const flow = cell('sequential', row);
        if (flow) goals.push(`${flow.g.latencyP50Ms <= flow.p.latencyP50Ms ? 'met ' : 'MISS'}  ${row.label}, one flow: ${flow.g.latencyP50Ms} vs ${flow.p.latencyP50Ms} ms (goal: no slower than the peer's in-memory default)`);
      } else if (row.gatehouse === 'gatehouse-durable' && row.peer === 'peer-memory') {
        goal(row, 'introspect', 1.2, "the peer's in-memory default");
        goal(row, 'refresh', 0.8, "the peer's in-memory default");
      } else if (row.gatehouse === 'gatehouse-durable') {
        goal(row, 'refresh', 2.5, 'the peer on the same PostgreSQL');
        goal(row, 'introspect', 2.5, 'the peer on the same PostgreSQL');
      }
    }
  }

  // One flow, request by request: where its time goes on each server.
  const sequential = servers.filter((server) => summary[`sequential:${server.name}`]?.steps);
  if (sequential.length) {
    lines.push('', 'One flow at a time, request by request (ms: the median of each measurement, then over rounds; the flow itself is timed from the first request to the token):');
    for (const server of sequential) {
      const row = summary[`sequential:${server.name}`]!;
      lines.push(`  ${SERVER_LABELS[server.name]}: ${row.latencyP50Ms} ms per flow (p99 ${row.latencyP99Ms})`);
      for (const step of row.steps!) lines.push(`    ${step.medianMs.toFixed(2).padStart(7)}  ${step.request}`);
    }
  }

  if (rounds.length) {
    lines.push('', 'CPU per operation in ms (user + system, medians): the server process, its database (the PostgreSQL cluster; embedded and in memory: in the server), the load generator:');
    const ms = (value: number, width: number) => value.toFixed(3).padStart(width);
    const cpuHeader = `| ${'scenario'.padEnd(46)} | ${'server'.padEnd(48)} | ${'server'.padStart(7)} | ${'db'.padStart(6)} | ${'load'.padStart(6)} |`;
    lines.push(cpuHeader, `|${cpuHeader.slice(1, -1).replace(/[^|]/g, '-')}|`);
    for (const scenario of SCENARIOS) {
      for (const server of servers) {
        const cpu = summary[`${scenario}:${server.name}`]?.cpuMsPerOperation;
        if (cpu) lines.push(`| ${SCENARIO_LABELS[scenario].padEnd(46)} | ${SERVER_LABELS[server.name].padEnd(48)} | ${ms(cpu.server, 7)} | ${ms(cpu.database, 6)} | ${ms(cpu.load, 6)} |`);
      }
    }
    for (const [label, row] of [['raw node:http hello-world', hello], ['raw node:http, the metadata bytes and headers', sameBytes]] as const) {
      const cpu = row?.cpuMsPerOperation;
      if (cpu) lines.push(`| ${label.padEnd(46)} | ${''.padEnd(48)} | ${ms(cpu.server, 7)} | ${''.padStart(6)} | ${ms(cpu.load, 6)} |`);
    }
    lines.push(
      `1-minute load average after each round: ${input.loadAverages.join(', ')} — this benchmark alone keeps about 3 processes busy;` +
        ` much more means other work shared the ${machine.cores} cores and the absolute numbers are low (the interleaved ratios suffer less).`,
    );
    const shared = rounds.flatMap((round, at) =>
      Object.entries(round)
        .filter(([, measured]) => (measured.otherCores ?? 0) >= 0.1)
        .map(([name, measured]) => `${name} in round ${at + 1}: ${measured.otherCores}`),
    );
    lines.push(`Cores other processes kept busy while a scenario was measured (0.1 or more): ${shared.length ? shared.join('; ') : 'none'}.`);
    const waits = rounds.flatMap((round) => Object.values(round).map((measured) => measured.settled?.waitedMs ?? 0)).sort((a, b) => a - b);
    const unsettled = rounds.flatMap((round, at) =>
      Object.entries(round)
        .filter(([, measured]) => measured.settled?.busiest)
        .map(([name, measured]) => `${name} in round ${at + 1} (busy: ${measured.settled!.busiest!.join(', ') || 'no one process'})`),
    );
    lines.push(
      `Before each measurement the machine was let fall quiet (below ${QUIET_CORES} cores for ${QUIET_WINDOW_MS} ms): median wait ${waits[Math.floor(waits.length / 2)] ?? 0} ms, longest ${waits.at(-1) ?? 0} ms` +
        `${unsettled.length ? `; never quiet within ${QUIET_MAX_WAIT_MS / 1000} s before ${unsettled.join('; ')}` : ''}.`,
    );
  }
  if (statements) {
    lines.push('', 'Database statements per request, throwaway cluster (median of ' + STATEMENT_SAMPLES + '; BEGIN/COMMIT count, each is a round trip):');
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
  for (const { server, profile } of profiles) {
    lines.push('', `${SERVER_LABELS[server]}: CPU profile (${profile.file}): ${profile.busySeconds} s busy; self time as a share of busy time, by module:`);
    for (const entry of profile.modules) lines.push(`  ${entry.selfPercent.toFixed(1).padStart(5)} %  ${entry.module}`);
    lines.push('', 'and by function:');
    for (const entry of profile.top) lines.push(`  ${entry.selfPercent.toFixed(1).padStart(5)} %  ${entry.function}  ${entry.location}`);
  }
  lines.push('', `(run took ${input.elapsedSeconds.toFixed(0)} s)`);
  console.log(lines.join('\n'));

  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `auth-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const labels = { sides: SIDE_LABELS, scenarios: SCENARIO_LABELS, servers: SERVER_LABELS, comparisons };
  const date = new Date().toISOString();
  writeFileSync(
    file,
    `${JSON.stringify({ date, machine, settings, postgres: input.databases, peer: `oidc-provider ${peerVersion()}`, labels, summary, goals, statements, memory, profiles, loadAverages: input.loadAverages, rounds }, null, 2)}\n`,
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

function selectedSetups(): Set<Setup> {
  const raw = process.env.BENCH_SETUPS;
  if (!raw) return new Set(SETUP_NAMES);
  const names = raw.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(SETUP_NAMES as readonly string[]).includes(name));
  if (unknown.length || !names.length) throw new Error(`BENCH_SETUPS: unknown ${unknown.join(', ') || '(empty)'}; choose from ${SETUP_NAMES.join(', ')}`);
  return new Set(names as Setup[]);
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
