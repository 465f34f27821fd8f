import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statfsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * The PostgreSQL both sides run on: BENCH_DATABASE_URL (a server you run; the bench creates and drops its
 * databases there), or else a throwaway cluster started from the machine's binaries the way test/run.mjs does it
 * (`runuser -u postgres` when running as root). The throwaway cluster runs with fsync and synchronous_commit off,
 * as the tests' does: commits cost no disk flush on either side. On it the bench can also log every statement for
 * a moment, to count what one request sends to the database. A durable cluster (`durable: true`) is a second
 * throwaway cluster with PostgreSQL's default durability settings (fsync, synchronous_commit and full_page_writes
 * on): every commit waits for its WAL flush, as on a server run as installed. (fsync cannot be set per database, so
 * it takes a cluster of its own.)
 */
export interface BenchPostgres {
  /** URL of the maintenance database (`postgres`). */
  adminUrl: string;
  /** Where the server's log goes, when the bench started the server (statement counting needs it). */
  logFile: string | null;
  description: string;
  /** The cluster's processes (postmaster and its children) for CPU accounting, when the bench started it. */
  processIds(): number[];
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startPostgres(options: { durable?: boolean } = {}): Promise<BenchPostgres> {
  const external = process.env.BENCH_DATABASE_URL;
  if (external) return usingServer(external, null, `BENCH_DATABASE_URL (${new URL(external).host}, its own settings)`, () => [], async () => {});

  const bin = findPgBin();
  if (!bin) throw new Error('no PostgreSQL binaries found: apt-get install postgresql, or set BENCH_DATABASE_URL');
  const isRoot = process.getuid?.() === 0;
  const asUser = isRoot ? ['runuser', '-u', 'postgres', '--'] : [];
  if (isRoot && spawnSync('id', ['postgres']).status !== 0) throw new Error('running as root and there is no postgres user to run PostgreSQL as');
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const logFile = join(dir, 'log');
  const run = (cmd: string, args: string[]) => {
    const [exe, ...rest] = [...asUser, join(bin, cmd), ...args];
    return spawnSync(exe!, rest, { encoding: 'utf8' });
  };
  const init = run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr.trim().split('\n').pop()}`);
  const port = await freePort();
  const durability = options.durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}${durability} -c max_connections=200`;
  const start = run('pg_ctl', ['-D', data, '-o', opts, '-l', logFile, '-w', 'start']);
  if (start.status !== 0) throw new Error(`PostgreSQL did not start: ${start.stderr.trim()}`);
  const version = run('pg_ctl', ['--version']).stdout.trim();
  const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const processIds = () => [postmaster, ...childrenOf(postmaster)];
  // On tmpfs a flush costs nothing, and "durable" would measure nothing more than the other cluster.
  const onTmpfs = statfsSync(dir).type === TMPFS_MAGIC;
  const settings = options.durable ? `default durability: fsync, synchronous_commit on${onTmpfs ? '; ON TMPFS, where fsync costs nothing: set TMPDIR to a disk' : ''}` : 'fsync, synchronous_commit off';
  return usingServer(`postgres://postgres@127.0.0.1:${port}/postgres`, logFile, `throwaway cluster (${version}; ${settings})`, processIds, async () => {
    run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  });
}

/** statfs(2)'s f_type of a tmpfs. */
const TMPFS_MAGIC = 0x01021994;

/** Processes whose parent is `pid` (field 4 of /proc/<pid>/stat, after the parenthesised command name). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

function usingServer(adminUrl: string, logFile: string | null, description: string, processIds: () => number[], stopServer: () => Promise<void>): BenchPostgres {
  const created: string[] = [];
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    adminUrl,
    logFile,
    description,
    processIds,
    async createDatabase(name) {
      await admin(async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await client.query(`CREATE DATABASE ${name}`);
      });
      created.push(name);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return url.href;
    },
    async stop() {
      if (!logFile) {
        await admin(async (client) => {
          for (const name of created) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        }).catch(() => {});
      }
      await stopServer();
    },
  };
}

/**
 * Logs every statement of every session (log_statement = all, with the database name in each line's prefix) for
 * the duration of `fn`. `mark()` returns the log's current length; `statementsBetween` lists the statements one
 * database received between two marks.
 */
export async function withStatementLog<T>(
  postgres: BenchPostgres,
  fn: (log: { mark(): Promise<number>; statementsBetween(from: number, to: number, database: string): string[] }) => Promise<T>,
): Promise<T> {
  const logFile = postgres.logFile;
  if (!logFile) throw new Error('statement counting needs the throwaway cluster (its log file)');
  const setting = async (statements: string[]) => {
    const client = new pg.Client({ connectionString: postgres.adminUrl });
    await client.connect();
    for (const sql of statements) await client.query(sql);
    await client.end();
    // Sessions read the new settings when their next command starts.
    await new Promise((resolve) => setTimeout(resolve, 300));
  };
  await setting([`ALTER SYSTEM SET log_line_prefix = '%m [%p] db=%d '`, `ALTER SYSTEM SET log_statement = 'all'`, 'SELECT pg_reload_conf()']);
  try {
    return await fn({
      async mark() {
        // The server writes a statement's line before it answers it; a short pause lets stragglers land.
        await new Promise((resolve) => setTimeout(resolve, 30));
        return statSync(logFile).size;
      },
      statementsBetween(from, to, database) {
        const text = readRange(logFile, from, to);
        const statements: string[] = [];
        const line = new RegExp(`^\\S+ \\S+ \\S+ \\[\\d+\\] db=${database} LOG:  (?:statement|execute [^:]*): (.*)$`);
        for (const entry of text.split('\n')) {
          const match = line.exec(entry);
          if (match) statements.push(match[1]!);
        }
        return statements;
      },
    });
  } finally {
    await setting([`ALTER SYSTEM RESET log_statement`, `ALTER SYSTEM RESET log_line_prefix`, 'SELECT pg_reload_conf()']);
  }
}

function readRange(file: string, from: number, to: number): string {
  const buffer = Buffer.alloc(Math.max(0, to - from));
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, buffer.length, from);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('utf8');
}

function findPgBin(): string | null {
  const fromPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (fromPath) return join(fromPath, '..');
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((version) => existsSync(join(base, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
