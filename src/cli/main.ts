import { CommanderError } from 'commander';
import { AdminApiError, ServerUnreachable } from './admin-client.js';
import { UsageError } from './parsers.js';
import { buildProgram, type CliJob, type TargetOptions } from './program.js';

/** sysexits.h: EX_USAGE is commander's 1 here turned 2 (the shell convention); EX_CONFIG for invalid configuration. */
const EXIT_USAGE = 2;
const EXIT_CONFIG = 78;

const out = (text: string) => process.stdout.write(text);
const err = (text: string) => process.stderr.write(text);

/** Runs one command; resolves to the exit code, or to null for `serve`, which keeps the process running. */
export async function main(argv: string[]): Promise<number | null> {
  let job: CliJob | undefined;
  const program = buildProgram((parsed) => (job = parsed), { out, err });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : EXIT_USAGE;
    if (error instanceof UsageError) return usage(error.message);
    throw error;
  }
  if (!job) return usage('no command given');
  if (job.kind === 'serve') {
    await import('../main.js');
    return null;
  }
  // Loaded only now: parsing, --help and usage errors read no configuration and open nothing.
  const [{ ConfigError }, { EncryptionKeyMismatch }, { CliFailure, execute }] = await Promise.all([
    import('../config/config.js'),
    import('../config/secrets.js'),
    import('./run.js'),
  ]);
  try {
    const result = await execute(job, program.opts<TargetOptions>());
    out(JSON.stringify(result, null, 2) + '\n');
    return 0;
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message);
    if (error instanceof ConfigError) {
      err(`${error.message}\n`);
      return EXIT_CONFIG;
    }
    if (error instanceof AdminApiError) {
      err(JSON.stringify(error) + '\n');
      return 1;
    }
    if (error instanceof CliFailure || error instanceof ServerUnreachable || error instanceof EncryptionKeyMismatch) {
      err(`gatehouse: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

function usage(message: string): number {
  err(`error: ${message}\n(add --help for usage)\n`);
  return EXIT_USAGE;
}
