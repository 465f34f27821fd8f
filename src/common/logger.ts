import type { LoggerService } from '@nestjs/common';

const NEST_BOOT_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Field names whose values never reach a log, whatever they hold. */
const SENSITIVE_KEY = /token|secret|password|authorization|cookie|code|verifier|assertion|key/i;

export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  // Past the depth limit nothing is inspected, so nothing is shown: returning the object as-is would leak its secrets.
  if (depth > 5) return '[truncated]';
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SENSITIVE_KEY.test(key) && item !== undefined && item !== null ? '[redacted]' : redact(item, depth + 1);
  }
  return out;
}

/** JSON-lines logger for Nest: one object per line, sensitive fields redacted by name. */
export class JsonLogger implements LoggerService {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {}

  log(message: unknown, ...rest: unknown[]): void {
    // Nest's own boot chatter (one line per module and route) is debug detail, not information for operators.
    const context = rest[rest.length - 1];
    this.emit(typeof context === 'string' && NEST_BOOT_CONTEXTS.has(context) ? 'debug' : 'info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.emit('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.emit('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.emit('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.emit('debug', message, rest);
  }

  private emit(level: Exclude<LogLevel, 'silent'>, message: unknown, rest: unknown[]): void {
    if (LEVELS[level] < LEVELS[this.level]) return;
    // Nest passes the context as the last string argument.
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const fields = typeof message === 'object' && message !== null ? (redact(message) as Record<string, unknown>) : { msg: String(message) };
    const extra = rest.filter((item) => item !== undefined).map((item) => (item instanceof Error ? item.stack : redact(item)));
    // time, level and context are written last so that no message field can overwrite them.
    this.write(JSON.stringify({ ...fields, ...(extra.length ? { extra } : {}), time: new Date().toISOString(), level, context }));
  }
}
