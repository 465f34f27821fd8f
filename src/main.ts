import { ConfigError, loadConfig } from './config/config.js';
import { EncryptionKeyMismatch } from './config/secrets.js';
import { startServer } from './bootstrap.js';
import { createLogger } from './common/logger.js';
import { GracefulShutdown } from './common/graceful-shutdown.js';
import { DatabaseUnreachable, EX_UNAVAILABLE } from './database/connect.js';
import { SignInPolicyWarnings } from './resources/sign-in-policy-warnings.js';
import { LocalAdminAccess } from './admin/local-admin-access.js';

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
  const logger = createLogger(config.logLevel);
  const app = await startServer(config, { logger });
  // SIGTERM/SIGINT: stop accepting connections, let in-flight requests finish, end streams, close the database,
  // exit 0 — or exit 1 if that takes longer than SHUTDOWN_GRACE_SECONDS.
  new GracefulShutdown({
    server: app.getHttpServer(),
    close: () => app.close(),
    graceMs: config.shutdownGraceSeconds * 1000,
    logger,
    exit: (code) => process.exit(code),
  }).listen();
  // The CLI on this machine administers the running server with it; a server that cannot write it still serves.
  const localAdmin = await app
    .get(LocalAdminAccess)
    .publish(app.getHttpServer().address())
    .catch((error: unknown) => {
      logger.warn({ msg: 'local admin credential not written; the CLI cannot reach this server', reason: (error as Error).message });
      return null;
    });
  logger.log({
    msg: 'gatehouse listening',
    issuer: config.issuer,
    port: config.port,
    database: config.database.kind === 'postgres' ? 'postgres' : `embedded PGlite in ${config.database.dataDir}`,
    github_sign_in: config.github ? 'configured' : `not configured (set ${config.githubMissing.join(', ')})`,
    admin_api: config.adminToken ? 'enabled' : 'local only (ADMIN_TOKEN unset): the CLI on this machine, npx gatehouse --help',
    local_admin_credential: localAdmin ?? 'none (HOST is not reachable over loopback)',
    sign_in_open_to_everyone: app.get(SignInPolicyWarnings).openResources,
  });
}

main().catch((error: unknown) => {
  if (error instanceof DatabaseUnreachable) {
    process.stderr.write(`gatehouse failed to start: ${error.message}\n`);
    process.exit(EX_UNAVAILABLE);
  }
  if (error instanceof EncryptionKeyMismatch) {
    // The message says what to do; a stack trace would only bury it.
    process.stderr.write(`gatehouse failed to start: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`gatehouse failed to start: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
