import type { LoggerService } from '@nestjs/common';
import { JsonLogger } from '../common/logger.js';

export interface QuietBootLogger extends LoggerService {
  /** From now on errors are logged too. */
  booted(): void;
}

/**
 * Warnings and errors, as JSON lines. Until the application has started, errors are left out: Nest logs a boot
 * failure with its stack before it throws, and the CLI explains that failure itself, in one line.
 */
export function quietBootLogger(write: (line: string) => void): QuietBootLogger {
  const logger = new JsonLogger('warn', write);
  let booted = false;
  return {
    log: (message: unknown, ...rest: unknown[]) => logger.log(message, ...rest),
    warn: (message: unknown, ...rest: unknown[]) => logger.warn(message, ...rest),
    error: (message: unknown, ...rest: unknown[]) => (booted ? logger.error(message, ...rest) : undefined),
    debug: (message: unknown, ...rest: unknown[]) => logger.debug(message, ...rest),
    verbose: (message: unknown, ...rest: unknown[]) => logger.verbose(message, ...rest),
    booted: () => {
      booted = true;
    },
  };
}
