import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { loadConfig, type GatehouseConfig } from '../config/config.js';
import { localAdminFile, readLocalAdminCredential } from '../admin/local-admin-file.js';
import { DataDirLocked } from '../database/data-dir-lock.js';
import { HttpAdminClient, type AdminClient } from './admin-client.js';
import { UsageError } from './parsers.js';
import type { CliJob, TargetOptions } from './program.js';
import { quietBootLogger } from './quiet-logger.js';

/** A failure the CLI explains in one line (exit code 1). */
export class CliFailure extends Error {}

type AdminJob = Extract<CliJob, { kind: 'admin' }>;
type MigrateJob = Extract<CliJob, { kind: 'migrate' }>;

/**
 * Runs a parsed job where it can run: the server named by --server; else the server running on this machine's
 * DATA_DIR, through the local credential it published; else the database itself (the embedded one only when no
 * process holds it).
 */
export async function execute(job: AdminJob | MigrateJob, target: TargetOptions, env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
  if (target.server) {
    const api = new HttpAdminClient(target.server, await remoteToken(target, env));
    return job.kind === 'admin' ? job.run(api) : migrateThroughServer(api, job.action, target.server);
  }
  if (target.tokenFile) throw new UsageError('--token-file goes with --server URL');
  const config = loadConfig(env);
  const running = await runningServer(config.dataDir);
  if (running.api) {
    return job.kind === 'admin' ? job.run(running.api) : migrateThroughServer(running.api, job.action, `the server running as process ${running.pid}`);
  }
  try {
    return job.kind === 'admin' ? await inProcess(config, job.run) : await migrateDirectly(config, job.action);
  } catch (error) {
    if (error instanceof DataDirLocked) {
      throw new CliFailure(
        `the embedded database in ${config.dataDir} is in use by process ${error.holder}, and no server answered through ${localAdminFile(config.dataDir)} (${running.reason}); ` +
          'restart that server so it writes a fresh credential, or use --server URL with its ADMIN_TOKEN',
      );
    }
    throw error;
  }
}

async function remoteToken(target: TargetOptions, env: NodeJS.ProcessEnv): Promise<string> {
  if (target.tokenFile) {
    const text = await readFile(target.tokenFile, 'utf8').catch(() => {
      throw new UsageError(`--token-file: cannot read ${target.tokenFile}`);
    });
    const token = text.trim();
    if (!token) throw new UsageError(`--token-file: ${target.tokenFile} is empty`);
    return token;
  }
  const token = env.GATEHOUSE_ADMIN_TOKEN?.trim();
  if (!token) throw new UsageError('--server needs the server\'s ADMIN_TOKEN: --token-file PATH, or GATEHOUSE_ADMIN_TOKEN in the environment');
  return token;
}

/** The server that published a credential in `dataDir`, if it answers with it; otherwise why not. */
async function runningServer(dataDir: string): Promise<{ api: AdminClient; pid: number } | { api: null; reason: string }> {
  const credential = await readLocalAdminCredential(dataDir);
  if (!credential) return { api: null, reason: 'no credential there' };
  const probe = new HttpAdminClient(credential.url, credential.token, 3_000);
  try {
    await probe.get('/admin/openapi.json');
  } catch (error) {
    return { api: null, reason: `${credential.url} refused it: ${(error as Error).message}` };
  }
  return { api: new HttpAdminClient(credential.url, credential.token), pid: credential.pid };
}

/**
 * No server runs: the CLI starts the application itself on a loopback port of its own, for the duration of one
 * command, and calls its admin API like any other. One code path for every command; the same JSON either way.
 */
async function inProcess(config: GatehouseConfig, run: AdminJob['run']): Promise<unknown> {
  const [{ createApp }, { LocalAdminAccess }] = await Promise.all([import('../bootstrap.js'), import('../admin/local-admin-access.js')]);
  const logger = quietBootLogger((line) => process.stderr.write(line + '\n'));
  const app = await createApp(config, { logger, audit: { delivery: false } });
  try {
    await app.listen(0, '127.0.0.1');
    logger.booted();
    const { port } = app.getHttpServer().address() as AddressInfo;
    return await run(new HttpAdminClient(`http://127.0.0.1:${port}`, app.get(LocalAdminAccess).token));
  } finally {
    await app.close();
  }
}

function migrateThroughServer(api: AdminClient, action: MigrateJob['action'], who: string): Promise<unknown> {
  if (action === 'status') return api.get('/admin/migrations');
  throw new CliFailure(`migrate ${action} changes the schema under ${who}: stop it first (a starting server applies pending migrations itself)`);
}

/** Opens the database without the application, which would apply pending migrations as it starts. */
async function migrateDirectly(config: GatehouseConfig, action: MigrateJob['action']): Promise<unknown> {
  const [{ createDataSource }, runner, { MIGRATIONS }] = await Promise.all([
    import('../database/data-source.js'),
    import('../database/migration-runner.js'),
    import('../../migrations/index.js'),
  ]);
  const dataSource = await createDataSource(config.database, []);
  try {
    await dataSource.initialize().catch((error: unknown) => {
      throw new CliFailure(`cannot open the database: ${(error as Error).message}`);
    });
    if (action === 'status') return await runner.migrationStatus(dataSource, MIGRATIONS);
    if (action === 'up') return { applied: (await runner.runMigrations(dataSource, MIGRATIONS)).applied };
    return { reverted: await runner.revertLastMigration(dataSource, MIGRATIONS) };
  } finally {
    await dataSource.destroy().catch(() => undefined);
  }
}
