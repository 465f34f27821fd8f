import { ConfigError, loadConfig } from './config/config.js';
import { startServer } from './bootstrap.js';
import { JsonLogger } from './common/logger.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = new JsonLogger(config.logLevel);
  const app = await startServer(config, { logger });
  // On SIGTERM/SIGINT: stop accepting connections, let in-flight requests finish, close the database, exit 0.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log({ msg: 'shutting down', signal });
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ msg: 'shutdown failed' }, error);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  logger.log({
    msg: 'gatehouse listening',
    issuer: config.issuer,
    port: config.port,
    database: config.database.kind === 'postgres' ? 'postgres' : `embedded PGlite in ${config.database.dataDir}`,
    github_sign_in: config.github ? 'configured' : `not configured (set ${config.githubMissing.join(', ')})`,
    admin_api: config.adminToken ? 'enabled' : 'disabled (ADMIN_TOKEN unset; use npm run cli)',
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`gatehouse failed to start: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
