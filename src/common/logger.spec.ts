import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { createLogger, JsonLogger, redact, type LogLevel, type PinoLogger } from './logger.js';

const secret = () => randomBytes(16).toString('hex');

function capture(level: LogLevel): { logger: PinoLogger; lines: string[]; entries: () => Array<Record<string, any>> } {
  const lines: string[] = [];
  const logger = createLogger(level, { write: (chunk: string) => void lines.push(chunk) });
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, any>) };
}

function connectionRefused(): NodeJS.ErrnoException {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: '127.0.0.1', port: 5432 });
}

describe('redact', () => {
  it('hides token, secret, authorization, cookie, password, assertion, verifier and key fields', () => {
    const values = Array.from({ length: 12 }, secret);
    const input = {
      access_token: values[0],
      refresh_token: values[1],
      client_secret: values[2],
      client_assertion: values[3],
      code_verifier: values[4],
      authorization: `Bearer ${values[5]}`,
      Authorization: `Basic ${values[6]}`,
      cookie: `gatehouse_session=${values[7]}`,
      'set-cookie': [`a=${values[8]}`],
      password: values[9],
      registrationAccessToken: values[10],
      encryptionKey: values[11],
      client_id: 'visible-client',
      method: 'POST',
      status: 400,
    };
    const out = redact(input) as Record<string, unknown>;
    for (const key of Object.keys(input).filter((k) => !['client_id', 'method', 'status'].includes(k))) {
      assert.equal(out[key], '[redacted]', key);
    }
    assert.equal(out.client_id, 'visible-client');
    assert.equal(out.method, 'POST');
    assert.equal(out.status, 400);
    const text = JSON.stringify(out);
    for (const value of values) assert.equal(text.includes(value!), false);
  });

  it('hides a token in a nested object and in arrays', () => {
    const token = secret();
    const out = redact({ req: { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }, items: [{ refresh_token: token, id: 1 }] });
    assert.deepEqual(out, { req: { headers: { authorization: '[redacted]', accept: 'application/json' } }, items: [{ refresh_token: '[redacted]', id: 1 }] });
  });

  it('hides the OAuth code in request bodies and queries, and keeps error codes', () => {
    const code = secret();
    const out = redact({ body: { grant_type: 'authorization_code', code, code_verifier: secret() }, query: { code, state: 's' }, code: 'ECONNREFUSED' });
    assert.deepEqual(out, {
      body: { grant_type: 'authorization_code', code: '[redacted]', code_verifier: '[redacted]' },
      query: { code: '[redacted]', state: 's' },
      code: 'ECONNREFUSED',
    });
  });

  it("keeps an Error's type, message, stack, code, errno and syscall, and redacts what else it carries", () => {
    const token = secret();
    const error = Object.assign(connectionRefused(), { request: { headers: { authorization: `Bearer ${token}` } } });
    const out = redact({ msg: 'database unreachable', err: error }) as { err: Record<string, any> };
    assert.equal(out.err.type, 'Error');
    assert.equal(out.err.message, 'connect ECONNREFUSED 127.0.0.1:5432');
    assert.equal(out.err.stack, error.stack);
    assert.equal(out.err.code, 'ECONNREFUSED');
    assert.equal(out.err.errno, -111);
    assert.equal(out.err.syscall, 'connect');
    assert.equal(out.err.request.headers.authorization, '[redacted]');
    assert.equal(JSON.stringify(out).includes(token), false);
  });

  it("keeps an Error's cause", () => {
    const out = redact(new Error('migration failed', { cause: connectionRefused() })) as Record<string, any>;
    assert.equal(out.message, 'migration failed: connect ECONNREFUSED 127.0.0.1:5432');
    assert.match(out.stack, /caused by: Error: connect ECONNREFUSED/);
  });

  it('never lets a sensitive value through, however deep it is nested', () => {
    for (const depth of [3, 6, 7, 12, 40]) {
      const token = secret();
      let value: Record<string, unknown> = { access_token: token, cookie: `s=${token}` };
      for (let i = 0; i < depth; i++) value = { nested: value };
      const text = JSON.stringify(redact(value));
      assert.equal(text.includes(token), false, `depth ${depth}: ${text}`);
    }
  });

  it('still redacts by name at the deepest level it inspects, and truncates below it', () => {
    const wrap = (value: unknown, levels: number): unknown => (levels === 0 ? value : wrap({ nested: value }, levels - 1));
    const unwrap = (value: unknown, levels: number): unknown => (levels === 0 ? value : unwrap((value as { nested: unknown }).nested, levels - 1));
    assert.deepEqual(unwrap(redact(wrap({ token: secret(), id: 1 }, 5)), 5), { token: '[redacted]', id: 1 });
    assert.equal(unwrap(redact(wrap({ token: secret(), id: 1 }, 6)), 6), '[truncated]');
  });

  it('copies instead of mutating, and passes primitives, null and absent values through', () => {
    const input = { token: secret(), keep: 'x' };
    const copy = { ...input };
    redact(input);
    assert.deepEqual(input, copy);
    assert.equal(redact('text'), 'text');
    assert.equal(redact(null), null);
    assert.deepEqual(redact({ token: null, secret: undefined }), { token: null, secret: undefined });
  });
});

describe('PinoLogger', () => {
  it('writes one JSON line per call, with level name, ISO time, context, msg and redacted fields', () => {
    const { logger, lines, entries } = capture('debug');
    const token = secret();
    logger.log({ msg: 'token issued', client_id: 'c1', access_token: token }, 'Tokens');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.trimEnd().includes('\n'), false);
    assert.equal(lines[0]!.includes(token), false);
    const [entry] = entries();
    assert.equal(entry!.level, 'info');
    assert.equal(entry!.context, 'Tokens');
    assert.equal(entry!.msg, 'token issued');
    assert.equal(entry!.client_id, 'c1');
    assert.equal(entry!.access_token, '[redacted]');
    assert.match(String(entry!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('keeps a multi-line message on one line', () => {
    const { logger, lines, entries } = capture('info');
    logger.warn('first line\nsecond line');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.trimEnd().includes('\n'), false);
    assert.equal(entries()[0]!.msg, 'first line\nsecond line');
  });

  it("logs an Error passed after the message as err, with its message, stack and code", () => {
    const { logger, lines, entries } = capture('info');
    const token = secret();
    const error = connectionRefused();
    // What `new Logger('Database').warn({ msg }, error)` hands to the application logger.
    logger.warn({ msg: 'after-commit hook failed' }, error, 'Database');
    logger.error({ msg: 'unhandled error' }, new Error('boom'), { cookie: token }, 'Errors');
    const [warning, failure] = entries();
    assert.equal(warning!.msg, 'after-commit hook failed');
    assert.equal(warning!.context, 'Database');
    assert.deepEqual([warning!.err.message, warning!.err.code, warning!.err.errno, warning!.err.syscall], [error.message, 'ECONNREFUSED', -111, 'connect']);
    assert.equal(warning!.err.stack, error.stack);
    assert.equal(warning!.err.type, 'Error');
    assert.equal(failure!.level, 'error');
    assert.equal(failure!.context, 'Errors');
    assert.match(failure!.err.stack, /^Error: boom\n\s+at /);
    assert.deepEqual(failure!.extra, [{ cookie: '[redacted]' }]);
    assert.equal(lines.join('').includes(token), false);
  });

  it('logs an Error given as the message, and the stack string Nest passes with its own errors', () => {
    const { logger, entries } = capture('info');
    logger.error(connectionRefused());
    const stack = new Error('inner').stack!;
    logger.error('Nest could not resolve a dependency', stack, 'ExceptionHandler');
    const [fromError, fromNest] = entries();
    assert.equal(fromError!.msg, 'connect ECONNREFUSED 127.0.0.1:5432');
    assert.equal(fromError!.err.code, 'ECONNREFUSED');
    assert.equal(fromNest!.msg, 'Nest could not resolve a dependency');
    assert.equal(fromNest!.stack, stack);
    assert.equal(fromNest!.context, 'ExceptionHandler');
  });

  it("does not let a message's fields replace level or time", () => {
    const { logger, entries } = capture('info');
    logger.warn({ msg: 'm', level: 'debug', time: 'never' });
    const [entry] = entries();
    assert.equal(entry!.level, 'warn');
    assert.notEqual(entry!.time, 'never');
  });

  it("puts Nest's boot chatter at debug", () => {
    const { logger, entries } = capture('debug');
    logger.log('AppModule dependencies initialized', 'InstanceLoader');
    logger.log('Mapped {/token, POST} route', 'RouterExplorer');
    logger.log('ready', 'Gatehouse');
    assert.deepEqual(entries().map((entry) => entry.level), ['debug', 'debug', 'info']);
    const quiet = capture('info');
    quiet.logger.log('AppModule dependencies initialized', 'InstanceLoader');
    assert.equal(quiet.lines.length, 0);
  });

  it('honours the level: lower levels are dropped, silent drops everything', () => {
    const expectations: Array<[LogLevel, string[]]> = [
      ['debug', ['debug', 'debug', 'info', 'warn', 'error']],
      ['info', ['info', 'warn', 'error']],
      ['warn', ['warn', 'error']],
      ['error', ['error']],
      ['silent', []],
    ];
    for (const [level, expected] of expectations) {
      const { logger, entries } = capture(level);
      logger.verbose('v');
      logger.debug('d');
      logger.log('i');
      logger.warn('w');
      logger.error('e');
      assert.deepEqual(entries().map((entry) => entry.level), expected, level);
    }
  });

  it('JsonLogger hands each line, without its newline, to the given writer', () => {
    const lines: string[] = [];
    const logger = new JsonLogger('warn', (line) => lines.push(line));
    logger.log('dropped');
    logger.warn({ msg: 'kept', client_secret: secret() });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.endsWith('\n'), false);
    assert.deepEqual([JSON.parse(lines[0]!).msg, JSON.parse(lines[0]!).client_secret], ['kept', '[redacted]']);
  });
});
