import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Logger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Nest's own boot chatter (one line per module and route) is debug detail, not information for operators. */
const NEST_BOOT_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

/** Field names whose values never reach a log, wherever they are nested. */
const SENSITIVE_KEY = /token|secret|password|passwd|authorization|cookie|verifier|assertion|credential|key/i;

/**
 * Containers of OAuth request parameters: there `code` is an authorization code. Anywhere else it is an error
 * code (`ECONNREFUSED`, `23505`), which an operator needs to see.
 */
const REQUEST_PARAMETERS = new Set(['body', 'query', 'params', 'form']);
const PARAMETER_KEY = /^code$/i;

const REDACTED = '[redacted]';
/** Past this depth nothing is inspected, so nothing is shown: passing the value on as-is would leak its secrets. */
const MAX_DEPTH = 5;

/**
 * A copy of `value` fit for a log line: sensitive fields replaced by name (and `code` inside request parameters),
 * Errors turned into plain objects that keep their type, message, stack, `code`, `errno`, `syscall` and cause.
 */
export function redact(value: unknown, depth = 0, parentKey = ''): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[truncated]';
  if (value instanceof Error) return redact(pino.stdSerializers.err(value), depth, parentKey);
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, parentKey));
  const inParameters = REQUEST_PARAMETERS.has(parentKey.toLowerCase());
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const sensitive = SENSITIVE_KEY.test(key) || (inParameters && PARAMETER_KEY.test(key));
    out[key] = sensitive && item !== undefined && item !== null ? REDACTED : redact(item, depth + 1, key);
  }
  return out;
}

type EmitLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * Nest's LoggerService over pino: one JSON object per line with `level` (a name), `time` (ISO 8601), `context`
 * (Nest's logger name), the fields of an object message, `msg`, and `err` for an Error passed anywhere in the call.
 */
export class PinoLogger implements LoggerService {
  constructor(readonly pino: Logger) {}

  log(message: unknown, ...rest: unknown[]): void {
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
  fatal(message: unknown, ...rest: unknown[]): void {
    this.emit('fatal', message, rest);
  }

  private emit(level: EmitLevel, message: unknown, rest: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const params = [...rest];
    // Nest passes the context as the last string argument; a stack trace (Nest's own error(message, stack)) is not one.
    const last = params[params.length - 1];
    const context = typeof last === 'string' && !isStack(last) ? (params.pop() as string) : undefined;
    const entry: Record<string, unknown> = {};
    let msg: string | undefined;
    if (message instanceof Error) {
      entry.err = message;
      msg = message.message;
    } else if (typeof message === 'object' && message !== null) {
      const { msg: text, level: _level, time: _time, ...fields } = message as Record<string, unknown>;
      Object.assign(entry, fields);
      if (text !== undefined) msg = String(text);
    } else {
      msg = String(message);
    }
    const extra: unknown[] = [];
    for (const item of params) {
      if (item === undefined) continue;
      if (item instanceof Error && entry.err === undefined) entry.err = item;
      else if (typeof item === 'string' && isStack(item) && entry.stack === undefined) entry.stack = item;
      else extra.push(item);
    }
    if (extra.length > 0) entry.extra = extra;
    if (context !== undefined) entry.context = context;
    this.pino[level](entry, msg);
  }
}

function isStack(text: string): boolean {
  return /\n\s+at /.test(text);
}

/** Where log lines go when nobody says otherwise: stderr, so that stdout is left to the audit events. */
export function stderrDestination(): DestinationStream {
  // Synchronous: lines written just before process.exit() are not lost, and boot failures print in order.
  return pino.destination({ fd: 2, sync: true });
}

/** The application logger: pino at `level`, JSON lines to `destination` (default stderr), redacted. */
export function createLogger(level: LogLevel, destination: DestinationStream = stderrDestination()): PinoLogger {
  return new PinoLogger(
    pino(
      {
        level,
        base: undefined,
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: {
          level: (label) => ({ level: label }),
          log: (object) => redact(object) as Record<string, unknown>,
        },
        // redact() has already turned Errors into plain objects with pino's err serializer; pino's default one
        // would run again on the result and call its type Object.
        serializers: { err: (value: unknown) => value },
      },
      destination,
    ),
  );
}

/** A logger that hands each line (without its newline) to `write`, for callers that collect or filter lines. */
export class JsonLogger extends PinoLogger {
  constructor(level: LogLevel = 'info', write?: (line: string) => void) {
    super(createLogger(level, write ? { write: (chunk: string) => write(chunk.replace(/\n$/, '')) } : stderrDestination()).pino);
  }
}
