#!/usr/bin/env node
// Runs every test tier: unit specs (dist/src/**/*.spec.js and the workspace packages' packages/*/dist/**/*.spec.js),
// integration and end-to-end specs (dist/test/**).
// The PostgreSQL tier needs a server: TEST_DATABASE_URL if set, otherwise a throwaway cluster started here from
// the machine's PostgreSQL binaries (apt-get install postgresql). The Redis-backed tests (several instances, shared
// rate limits) start their own throwaway servers from `redis-server` (apt-get install redis-server), whose path is
// passed on as TEST_REDIS_SERVER. Without PostgreSQL or redis-server, the tests that need them are reported as
// skipped with the reason, except under CI=true, where either missing is a failure. Tests that stop PostgreSQL
// under a running Gatehouse start clusters of their own from the binaries, whose folder is passed on as
// TEST_POSTGRES_BIN.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
// GATEHOUSE_DIST lets several builds of the tree live side by side (default: dist).
const dist = join(root, process.env.GATEHOUSE_DIST ?? 'dist');
const filters = process.argv.slice(2);

function specFiles(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...specFiles(path));
    else if (/\.(spec|e2e-spec)\.js$/.test(entry.name)) out.push(path);
  }
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function findPgBin() {
  const fromPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (fromPath) return join(fromPath, '..');
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

async function startPostgres() {
  const bin = findPgBin();
  if (!bin) return { reason: 'no PostgreSQL binaries found (apt-get install postgresql, or set TEST_DATABASE_URL)' };
  const isRoot = process.getuid?.() === 0;
  const asUser = isRoot ? ['runuser', '-u', 'postgres', '--'] : [];
  if (isRoot && spawnSync('id', ['postgres']).status !== 0) return { reason: 'running as root and there is no postgres user to run PostgreSQL as' };
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const run = (cmd, args) => {
    const [exe, ...rest] = [...asUser, join(bin, cmd), ...args];
    return spawnSync(exe, rest, { encoding: 'utf8' });
  };
  const init = run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  if (init.status !== 0) return { reason: `initdb failed: ${init.stderr.trim().split('\n').pop()}` };
  const port = await freePort();
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const start = run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']);
  if (start.status !== 0) return { reason: `PostgreSQL did not start: ${start.stderr.trim()}` };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The redis-server binary: TEST_REDIS_SERVER if set, else the one on PATH or Debian's. Tests start their own servers. */
function findRedisServer() {
  const fromPath = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  const path = process.env.TEST_REDIS_SERVER || fromPath || (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : '');
  if (!path) return { reason: 'no redis-server binary found (apt-get install redis-server, or set TEST_REDIS_SERVER)' };
  const version = spawnSync(path, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) return { reason: `${path} --version failed: ${(version.stderr || String(version.error ?? '')).trim()}` };
  return { path };
}

/** Each workspace package builds into its own dist/ (`npm run build` builds them before the root). */
function packageSpecFiles() {
  const packages = join(root, 'packages');
  if (!existsSync(packages)) return [];
  return readdirSync(packages, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => specFiles(join(packages, entry.name, 'dist')));
}

const files = [...specFiles(join(dist, 'src')), ...packageSpecFiles(), ...specFiles(join(dist, 'test'))]
  .filter((file) => filters.length === 0 || filters.some((f) => relative(root, file).includes(f)))
  .filter((file) => statSync(file).isFile());
if (files.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}

const env = { ...process.env, NODE_ENV: 'test' };
const redis = findRedisServer();
if (redis.path) {
  env.TEST_REDIS_SERVER = redis.path;
  delete env.TEST_REDIS_UNAVAILABLE;
  console.log(`Redis-backed tests: throwaway servers from ${redis.path}`);
} else if (process.env.CI) {
  console.error(`Redis-backed tests cannot run under CI: ${redis.reason}`);
  process.exit(1);
} else {
  delete env.TEST_REDIS_SERVER;
  env.TEST_REDIS_UNAVAILABLE = redis.reason;
  console.log(`Redis-backed tests will be skipped: ${redis.reason}`);
}

// Tests that stop and start PostgreSQL under a running Gatehouse make clusters of their own from these binaries.
const pgBin = findPgBin();
if (pgBin) {
  env.TEST_POSTGRES_BIN = pgBin;
  delete env.TEST_POSTGRES_BIN_UNAVAILABLE;
} else if (process.env.CI) {
  console.error('PostgreSQL outage tests cannot run under CI: no PostgreSQL binaries found (apt-get install postgresql)');
  process.exit(1);
} else {
  delete env.TEST_POSTGRES_BIN;
  env.TEST_POSTGRES_BIN_UNAVAILABLE = 'no PostgreSQL binaries found (apt-get install postgresql)';
}

// PGlite's initdb costs several CPU-seconds; the specs copy one empty cluster made here (test/support/pglite-template.ts).
// A child process makes it, beside the PostgreSQL start below, which blocks this one; only for the tiers that use it.
const pgliteTemplateDir = mkdtempSync(join(tmpdir(), 'gatehouse-pglite-template-'));
process.on('exit', () => rmSync(pgliteTemplateDir, { recursive: true, force: true }));
const needsPglite = files.some((file) => ['e2e', 'integration'].some((tier) => file.startsWith(join(dist, 'test', tier))));
const pgliteTemplate = new Promise((resolve) => {
  if (!needsPglite) return resolve(null);
  const cluster = join(pgliteTemplateDir, 'pglite');
  const script = `const { PGlite } = await import('@electric-sql/pglite'); await (await PGlite.create({ dataDir: process.argv[1] })).close();`;
  const maker = spawn(process.execPath, ['--input-type=module', '-e', script, cluster], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  maker.on('error', () => resolve(null));
  maker.on('exit', (code) => resolve(code === 0 ? cluster : null));
});

let stop = () => {};
if (!env.TEST_DATABASE_URL) {
  const pg = await startPostgres();
  if (pg.url) {
    env.TEST_DATABASE_URL = pg.url;
    stop = pg.stop;
    console.log(`PostgreSQL tier: throwaway cluster at ${pg.url}`);
  } else if (process.env.CI) {
    console.error(`PostgreSQL tier cannot run under CI: ${pg.reason}`);
    process.exit(1);
  } else {
    env.TEST_POSTGRES_UNAVAILABLE = pg.reason;
    console.log(`PostgreSQL tier will be skipped: ${pg.reason}`);
  }
}

const template = await pgliteTemplate;
// Without it each spec process makes its own.
if (template) env.TEST_PGLITE_TEMPLATE = template;
else delete env.TEST_PGLITE_TEMPLATE;

const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...files], { env, stdio: 'inherit', cwd: root });
const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
stop();
process.exit(code);
