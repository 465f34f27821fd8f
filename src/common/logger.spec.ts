import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { JsonLogger, redact, type LogLevel } from './logger.js';

const secret = () => randomBytes(16).toString('hex');

function capture(level: LogLevel): { logger: JsonLogger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new JsonLogger(level, (line) => lines.push(line)), lines };
}

describe('redact', () => {
  it('hides token, secret, code, authorization, cookie and similar fields', () => {
    const values = Array.from({ length: 12 }, secret);
    const input = {
      access_token: values[0],
      refresh_token: values[1],
      client_secret: values[2],
      code: values[3],
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

  it('hides sensitive fields inside nested objects and arrays', () => {
    const token = secret();
    const out = redact({ req: { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }, items: [{ refresh_token: token, id: 1 }] });
    assert.deepEqual(out, { req: { headers: { authorization: '[redacted]', accept: 'application/json' } }, items: [{ refresh_token: '[redacted]', id: 1 }] });
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

describe('JsonLogger', () => {
  it('writes one JSON line per call, with time, level, context and redacted fields', () => {
    const { logger, lines } = capture('debug');
    const token = secret();
    logger.log({ msg: 'token issued', client_id: 'c1', access_token: token }, 'Tokens');
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.equal(line.includes('\n'), false);
    assert.equal(line.includes(token), false);
    const entry = JSON.parse(line) as Record<string, unknown>;
    assert.equal(entry.level, 'info');
    assert.equal(entry.context, 'Tokens');
    assert.equal(entry.msg, 'token issued');
    assert.equal(entry.client_id, 'c1');
    assert.equal(entry.access_token, '[redacted]');
    assert.ok(!Number.isNaN(Date.parse(String(entry.time))));
  });

  it('keeps a multi-line message on one line', () => {
    const { logger, lines } = capture('info');
    logger.warn('first line\nsecond line');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.includes('\n'), false);
    assert.equal((JSON.parse(lines[0]!) as { msg: string }).msg, 'first line\nsecond line');
  });

  it('logs an error with its stack in extra, and redacts object extras', () => {
    const { logger, lines } = capture('info');
    const token = secret();
    logger.error({ msg: 'unhandled error' }, new Error('boom'), { cookie: token }, 'Errors');
    const entry = JSON.parse(lines[0]!) as { level: string; context: string; extra: unknown[] };
    assert.equal(entry.level, 'error');
    assert.equal(entry.context, 'Errors');
    assert.match(String(entry.extra[0]), /^Error: boom\n\s+at /);
    assert.deepEqual(entry.extra[1], { cookie: '[redacted]' });
    assert.equal(lines[0]!.includes(token), false);
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
      const { logger, lines } = capture(level);
      logger.verbose('v');
      logger.debug('d');
      logger.log('i');
      logger.warn('w');
      logger.error('e');
      assert.deepEqual(lines.map((line) => (JSON.parse(line) as { level: string }).level), expected, level);
    }
  });
});
