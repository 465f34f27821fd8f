import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import express, { type Request } from 'express';
import { InvalidRequest } from './oauth-errors.js';
import { bodyParser, drainLimitsFor, isContentType, parseForm, type DrainLimits } from './body-parser.js';

const MAX_BYTES = 64;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: any;
}

interface Send {
  method?: string;
  contentType?: string;
  body?: string | Buffer;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length), in these pieces. */
  chunks?: Array<string | Buffer>;
  /** Declare this Content-Length instead of the real one. */
  contentLength?: number;
}

/** One real HTTP request over loopback; resolves with the parsed reply even if the server closes the upload early. */
function send(port: number, options: Send): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    if (options.chunks) headers['transfer-encoding'] = 'chunked';
    else if (options.body !== undefined) headers['content-length'] = options.contentLength ?? Buffer.byteLength(options.body);
    let answered = false;
    const req = request({ host: '127.0.0.1', port, path: '/echo', method: options.method ?? 'POST', headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined });
      });
      res.on('error', reject);
    });
    // The server may close the connection while we are still uploading an oversized body; that is expected.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (options.chunks) {
      for (const chunk of options.chunks) req.write(chunk);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

describe('bodyParser middleware', () => {
  let server: Server;
  let port: number;
  let handled = 0;

  before(async () => {
    const app = express();
    app.use(bodyParser(MAX_BYTES));
    app.use((req: Request, res) => {
      handled++;
      res.json({ parsed: req.body !== undefined, body: req.body ?? null, prototype: req.body === undefined ? 'none' : Object.getPrototypeOf(req.body) === null ? 'null' : 'object' });
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('parses a JSON object', async () => {
    const reply = await send(port, { contentType: 'application/json', body: JSON.stringify({ a: 1, b: ['x'] }) });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { parsed: true, body: { a: 1, b: ['x'] }, prototype: 'object' });
  });

  it('parses JSON sent with parameters or a +json type', async () => {
    for (const contentType of ['application/json; charset=utf-8', 'Application/JSON', 'application/merge-patch+json']) {
      const reply = await send(port, { contentType, body: '{"ok":true}' });
      assert.equal(reply.status, 200, contentType);
      assert.deepEqual(reply.body.body, { ok: true }, contentType);
    }
  });

  it('parses a form into a prototype-less object of strings', async () => {
    const reply = await send(port, { contentType: 'application/x-www-form-urlencoded', body: 'code=a%2Bb&uri=http%3A%2F%2Fh%2Fcb&note=two+words' });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, {
      parsed: true,
      body: { code: 'a+b', uri: 'http://h/cb', note: 'two words' },
      prototype: 'null',
    });
  });

  it('accepts a body of exactly the limit', async () => {
    const body = JSON.stringify({ v: 'x'.repeat(MAX_BYTES - 8) });
    assert.equal(Buffer.byteLength(body), MAX_BYTES);
    const reply = await send(port, { contentType: 'application/json', body });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.parsed, true);
  });

  it('answers 413 request_too_large when Content-Length exceeds the limit, without running the handler', async () => {
    const before = handled;
    const reply = await send(port, { contentType: 'application/json', body: JSON.stringify({ v: 'x'.repeat(4 * MAX_BYTES) }) });
    assert.equal(reply.status, 413);
    assert.equal(reply.body.error, 'request_too_large');
    assert.equal(reply.headers.connection, 'close');
    assert.equal(reply.headers['cache-control'], 'no-store');
    assert.equal(handled, before);
  });

  it('answers 413 when a chunked body grows past the limit', async () => {
    const before = handled;
    const reply = await send(port, { contentType: 'application/x-www-form-urlencoded', chunks: ['a=' + 'x'.repeat(MAX_BYTES / 2), '&b=' + 'y'.repeat(MAX_BYTES)] });
    assert.equal(reply.status, 413);
    assert.equal(reply.body.error, 'request_too_large');
    assert.equal(handled, before);
  });

  it('answers 400 invalid_request for malformed JSON', async () => {
    for (const body of ['{', '{"a":1,}', "{'a':1}", 'undefined']) {
      const reply = await send(port, { contentType: 'application/json', body });
      assert.equal(reply.status, 400, body);
      assert.equal(reply.body.error, 'invalid_request', body);
      assert.equal(reply.body.error_description, 'request body is not valid JSON', body);
    }
  });

  it('answers 400 invalid_request for JSON that is not an object, or no JSON at all', async () => {
    for (const body of ['[]', '[{"a":1}]', 'null', '"text"', '42', 'true', '', '   ']) {
      const reply = await send(port, { contentType: 'application/json', body });
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.equal(reply.body.error, 'invalid_request', JSON.stringify(body));
    }
  });

  it('answers 400 invalid_request for a form with a repeated parameter', async () => {
    const reply = await send(port, { contentType: 'application/x-www-form-urlencoded', body: 'scope=a&client_id=x&scope=b' });
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error, 'invalid_request');
    assert.match(reply.body.error_description, /'scope'/);
  });

  it('leaves bodies of other content types unparsed and lets the request through', async () => {
    for (const contentType of ['text/plain', 'multipart/form-data; boundary=x', 'application/xml', undefined]) {
      const before = handled;
      const reply = await send(port, { contentType, body: '{"a":1}' });
      assert.equal(reply.status, 200, String(contentType));
      assert.deepEqual(reply.body, { parsed: false, body: null, prototype: 'none' }, String(contentType));
      assert.equal(handled, before + 1);
    }
  });

  it('does not apply the size limit to bodies it does not read', async () => {
    const reply = await send(port, { contentType: 'application/octet-stream', body: Buffer.alloc(8 * MAX_BYTES) });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.parsed, false);
  });

  it('does not read bodies of GET requests', async () => {
    const reply = await send(port, { method: 'GET', contentType: 'application/json', body: '{"a":1}' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.parsed, false);
  });

  it('reads bodies of PUT, PATCH and DELETE', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const reply = await send(port, { method, contentType: 'application/json', body: '{"m":1}' });
      assert.deepEqual(reply.body.body, { m: 1 }, method);
    }
  });
});

interface Outcome {
  /** The status line's code, when an answer arrived before the connection closed. */
  status: number | null;
  body: string;
  /** The socket error the client saw (EPIPE, ECONNRESET), if any. */
  error: string | null;
  /** Body bytes the client handed to its socket. */
  sent: number;
}

interface Upload {
  /** Body bytes to send (as fast as the socket takes them); `stallAfter` stops sooner and never finishes the body. */
  total: number;
  /** Announce this Content-Length; without it the body is chunked. */
  contentLength?: number;
  stallAfter?: number;
}

/** A raw HTTP/1.1 upload over loopback, settled when the connection closes: what the client saw, and how much it sent. */
function upload(port: number, { total, contentLength, stallAfter }: Upload): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let error: string | null = null;
    let sent = 0;
    const limit = Math.min(total, stallAfter ?? total);
    const framing = contentLength === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${contentLength}`;
    const pump = (): void => {
      while (sent < limit && !socket.destroyed && socket.writable) {
        const chunk = Buffer.alloc(Math.min(64 * 1024, limit - sent), 0x61);
        sent += chunk.length;
        const framed = contentLength === undefined ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
        if (!socket.write(framed)) return void socket.once('drain', pump);
      }
      if (sent === total && contentLength === undefined && socket.writable) socket.write('0\r\n\r\n');
    };
    socket.on('connect', () => {
      socket.write(`POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`);
      pump();
    });
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', (failure: NodeJS.ErrnoException) => {
      error ??= failure.code ?? failure.message;
    });
    socket.on('close', () => {
      const text = Buffer.concat(received).toString('utf8');
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1];
      resolve({ status: status === undefined ? null : Number(status), body: text.slice(text.indexOf('\r\n\r\n') + 4), error, sent });
    });
  });
}

interface TestServer {
  port: number;
  /** Requests that reached the handler after the parser. */
  handled: number;
  /** The server side of every connection, in order (bytesRead: how much of an upload the server took in). */
  sockets: Socket[];
  close(): Promise<void>;
}

async function startServer(maxBytes: number, drain?: DrainLimits): Promise<TestServer> {
  const app = express();
  app.use(bodyParser(maxBytes, drain));
  const sockets: Socket[] = [];
  const started: TestServer = {
    port: 0,
    handled: 0,
    sockets,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  app.use((_req: Request, res) => {
    started.handled++;
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  server.on('connection', (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  started.port = (server.address() as AddressInfo).port;
  return started;
}

const MiB = 1024 * 1024;

function assertTooLarge(outcome: Outcome, label: string): void {
  assert.equal(outcome.status, 413, `${label}: ${JSON.stringify({ ...outcome, body: outcome.body.slice(0, 200) })}`);
  assert.equal((JSON.parse(outcome.body) as { error: string }).error, 'request_too_large', label);
}

describe('bodyParser: bodies over the limit', () => {
  it('reads off the rest of a body within the drain bound, so the client finishes its upload and reads the 413', async () => {
    const server = await startServer(MAX_BYTES, { bytes: 64 * MiB, ms: 60_000 });
    try {
      // Far more than the sockets' buffers hold: a server that stopped reading would make the client fail with EPIPE.
      const cases: Array<[string, Upload]> = [
        ['Content-Length', { total: 16 * MiB, contentLength: 16 * MiB }],
        ['chunked', { total: 16 * MiB }],
      ];
      for (const [label, sending] of cases) {
        const outcome = await upload(server.port, sending);
        assertTooLarge(outcome, label);
        assert.equal(outcome.error, null, label);
        assert.equal(outcome.sent, 16 * MiB, label);
        assert.ok(server.sockets.at(-1)!.bytesRead > 16 * MiB, `${label}: the server read the whole body`);
      }
      assert.equal(server.handled, 0, 'nothing reached the handler');
    } finally {
      await server.close();
    }
  });

  it('past the drain bound stops reading and closes the connection: the body is never read, let alone kept', async () => {
    const drain = { bytes: MiB, ms: 60_000 };
    const server = await startServer(MAX_BYTES, drain);
    try {
      const cases: Array<[string, Upload]> = [
        ['growing past the bound (chunked)', { total: 256 * MiB }],
        ['announced past the bound', { total: 256 * MiB, contentLength: 256 * MiB }],
      ];
      for (const [label, sending] of cases) {
        const outcome = await upload(server.port, sending);
        // Whether the 413 or a reset reaches the client depends on what is still in flight when the socket closes.
        assert.ok(outcome.status === 413 || outcome.error !== null, `${label}: ${JSON.stringify({ ...outcome, body: outcome.body.slice(0, 200) })}`);
        if (outcome.status !== null) assertTooLarge(outcome, label);
        assert.ok(outcome.sent < 256 * MiB, `${label}: the connection closed before the client could send it all (${outcome.sent})`);
        const read = server.sockets.at(-1)!.bytesRead;
        assert.ok(read < drain.bytes + MiB, `${label}: the server read ${read} bytes`);
      }
      assert.equal(server.handled, 0, 'nothing reached the handler');
      const after = await send(server.port, { contentType: 'application/json', body: '{"a":1}' });
      assert.equal(after.status, 200, 'and the server still answers');
    } finally {
      await server.close();
    }
  });

  it('stops draining after drain.ms: a client that stalls mid-body gets the 413 and a closed connection', async () => {
    const server = await startServer(MAX_BYTES, { bytes: MiB, ms: 50 });
    try {
      const outcome = await upload(server.port, { total: 10_000, contentLength: 10_000, stallAfter: 1000 });
      assertTooLarge(outcome, 'stalled');
      assert.equal(outcome.sent, 1000);
      assert.equal(server.handled, 0);
    } finally {
      await server.close();
    }
  });

  it('drains up to 128 times the limit, for at most 10 s (8 MiB for the 64 KiB limit)', () => {
    assert.deepEqual(drainLimitsFor(64 * 1024), { bytes: 8 * MiB, ms: 10_000 });
  });
});

describe('parseForm', () => {
  it('decodes a form into single string values', () => {
    const form = parseForm('a=1&b=two+words&c=%E2%9C%93&empty=');
    assert.deepEqual({ ...form }, { a: '1', b: 'two words', c: '✓', empty: '' });
    assert.equal(Object.getPrototypeOf(form), null);
  });

  it('keeps __proto__ as plain data', () => {
    const form = parseForm('__proto__=x&constructor=y');
    assert.equal(Object.getPrototypeOf(form), null);
    assert.equal(form['__proto__'], 'x');
    assert.equal(form['constructor'], 'y');
  });

  it('rejects a parameter given twice with invalid_request naming it', () => {
    for (const body of ['a=1&a=2', 'a=1&a=1', 'a=&a=', 'code=x&b=1&code=x', 'a=1&%61=2']) {
      assert.throws(
        () => parseForm(body),
        (error: unknown) => error instanceof InvalidRequest && error.code === 'invalid_request' && error.status === 400 && /included more than once/.test(error.description),
        body,
      );
    }
  });

  it('parses the empty form', () => {
    assert.deepEqual({ ...parseForm('') }, {});
  });
});

describe('isContentType', () => {
  const req = (contentType?: string) => ({ headers: contentType === undefined ? {} : { 'content-type': contentType } }) as unknown as Request;

  it('compares the media type case-insensitively and ignores parameters', () => {
    assert.equal(isContentType(req('application/x-www-form-urlencoded; charset=UTF-8'), 'application/x-www-form-urlencoded'), true);
    assert.equal(isContentType(req('APPLICATION/JSON'), 'application/json'), true);
    assert.equal(isContentType(req('application/json'), 'application/x-www-form-urlencoded'), false);
    assert.equal(isContentType(req('application/jsonx'), 'application/json'), false);
    assert.equal(isContentType(req(), 'application/json'), false);
  });
});
