import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request } from 'express';
import { InvalidRequest } from './oauth-errors.js';
import { bodyParser, isContentType, parseForm } from './body-parser.js';

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
