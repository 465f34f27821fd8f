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
  await startServer(config, { logger });
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
