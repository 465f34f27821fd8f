import { afterEach, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer, request, Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import type { LoggerService } from '@nestjs/common';
import { GracefulShutdown } from './graceful-shutdown.js';
import { connectionOutcome } from '../../test/support/net.js';

/** The shutdown sequence on a bare HTTP server; the end-to-end test runs it in the real process. */

type Handler = (req: IncomingMessage, res: ServerResponse & { locals?: Record<string, unknown> }) => void;

class Recorder implements LoggerService {
  readonly lines: Array<Record<string, unknown>> = [];
  log(message: Record<string, unknown>): void {
    this.lines.push({ level: 'info', ...message });
  }
  warn(message: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', ...message });
  }
  error(message: Record<string, unknown>): void {
    this.lines.push({ level: 'error', ...message });
  }
}

async function setUp(handler: Handler, options: { graceMs?: number; close?: (server: Server) => Promise<void> } = {}) {
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const logger = new Recorder();
  const exits: number[] = [];
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  const steps: string[] = [];
  const shutdown = new GracefulShutdown({
    server,
    graceMs: options.graceMs ?? 5000,
    logger,
    exit: (code) => {
      exits.push(code);
      resolveExit(code);
    },
    close: async () => {
      steps.push('close');
      await (options.close ?? ((s: Server) => new Promise<void>((resolve) => s.close(() => resolve()))))(server);
    },
  });
  cleanups.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, port, shutdown, logger, exits, exited, steps };
}

/** Servers and client sockets to destroy after each test, also when it failed or timed out half-way. */
const cleanups: Array<() => void> = [];

/** Sends a POST's headers and the first part of its body; the request is in flight from then on. */
async function startRequest(port: number, body: string, sent: number): Promise<{ socket: Socket; finish: () => void; reply: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  await once(socket, 'connect');
  socket.write(`POST /work HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, sent)}`);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const reply = new Promise<string>((resolve) => socket.on('close', () => resolve(text)));
  return { socket, finish: () => socket.write(body.slice(sent)), reply };
}

/** Echoes the body once it has all arrived; `arrived` resolves when a POST /work reached the handler. */
function echo(): { handler: Handler; arrived: Promise<void> } {
  let resolveArrived!: () => void;
  const arrived = new Promise<void>((resolve) => (resolveArrived = resolve));
  return {
    arrived,
    handler: (req, res) => {
      if (req.url === '/work') resolveArrived();
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => res.end(`echo ${body}`));
    },
  };
}

describe('GracefulShutdown', { timeout: 10_000 }, () => {
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it('finishes a request in flight, refuses new connections, closes idle keep-alive ones, then closes the application and exits 0', async () => {
    const { handler, arrived } = echo();
    const { port, shutdown, exits, exited, steps, logger } = await setUp(handler);
    // An idle keep-alive connection, as a load balancer or a client's pool keeps them.
    const agent = new Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    const idleSocket = await new Promise<Socket>((resolve) => {
      const warm = request({ port, host: '127.0.0.1', method: 'POST', path: '/warm', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(warm.socket!));
      });
      warm.end('x');
    });
    const idleClosed = once(idleSocket, 'close');

    const inFlight = await startRequest(port, 'hello world', 5);
    await arrived;
    assert.equal(shutdown.inFlightCount, 1);

    const stopping = shutdown.shutdown('SIGTERM');
    assert.equal(await connectionOutcome(port), 'ECONNREFUSED', 'no new connections once stopping');
    await idleClosed;
    assert.deepEqual(steps, [], 'the application is not closed while a request is in flight');
    assert.deepEqual(exits, []);

    inFlight.finish();
    const reply = await inFlight.reply;
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(reply, /\r\nConnection: close\r\n/i, 'the connection closes after the response');
    assert.match(reply, /\r\n\r\necho hello world$/);
    await stopping;
    assert.deepEqual(steps, ['close']);
    assert.equal(await exited, 0);
    assert.deepEqual(exits, [0]);
    assert.deepEqual(logger.lines.map((line) => line.msg), ['shutting down', 'stopped']);
    assert.equal(logger.lines[0]!.in_flight, 1);
  });

  it('counts one request in flight per connection: not those it answered, not those pipelined behind it', async () => {
    const held: ServerResponse[] = [];
    let resolveHeld!: () => void;
    const holding = new Promise<void>((resolve) => (resolveHeld = resolve));
    const { port, shutdown } = await setUp((req, res) => {
      if (req.url !== '/hold') return void res.end('quick');
      held.push(res);
      resolveHeld();
    });
    const socket = connect(port, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const answers = async (count: number) => {
      while ((text.match(/HTTP\/1\.1 200 OK/g) ?? []).length < count) await once(socket, 'data');
    };
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

    socket.write(get('/quick'));
    await answers(1);
    socket.write(get('/quick'));
    await answers(2);
    assert.equal(shutdown.inFlightCount, 0, 'answered requests are not in flight');

    socket.write(get('/hold') + get('/quick'));
    await holding;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(shutdown.inFlightCount, 1, 'the held request, not the one pipelined behind it');

    held[0]!.end('held');
    await answers(4);
    assert.equal(shutdown.inFlightCount, 0);
  });

  it('marks a request whose headers were still arriving when the signal came: it is answered, with Connection: close, and waited for', async () => {
    const { handler, arrived } = echo();
    const { port, shutdown, exited, steps } = await setUp(handler);
    // A request in flight, so that the shutdown waits; and a connection half-way through its request's headers.
    const first = await startRequest(port, 'first', 2);
    await arrived;
    const late = connect(port, '127.0.0.1');
    cleanups.push(() => late.destroy());
    await once(late, 'connect');
    late.write('POST /late HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let lateText = '';
    late.on('data', (chunk: Buffer) => (lateText += chunk.toString()));
    const lateReply = new Promise<string>((resolve) => late.on('close', () => resolve(lateText)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(shutdown.inFlightCount, 1, 'headers still arriving are not a request yet');

    const stopping = shutdown.shutdown('SIGTERM');
    late.write('Content-Length: 4\r\n\r\nlate');
    const reply = await lateReply;
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(reply, /\r\nConnection: close\r\n/i);
    assert.match(reply, /\r\n\r\necho late$/);
    assert.deepEqual(steps, [], 'still waiting for the first request');

    first.finish();
    assert.match(await first.reply, /\r\nConnection: close\r\n[\s\S]*echo first$/i);
    await stopping;
    assert.deepEqual(steps, ['close']);
    assert.equal(await exited, 0);
  });

  it('does not wait for long-lived responses: the application ends them when it closes', async () => {
    const streams = new Set<ServerResponse>();
    const { port, shutdown, exited, steps } = await setUp(
      (_req, res) => {
        res.locals = { longLived: true };
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': open\n\n');
        streams.add(res);
      },
      {
        close: async (server) => {
          for (const stream of streams) stream.end();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      },
    );
    const response = await new Promise<IncomingMessage>((resolve) => request({ port, host: '127.0.0.1', path: '/stream' }, resolve).end());
    const ended = once(response.resume(), 'end');
    await shutdown.shutdown('SIGTERM');
    await ended;
    assert.deepEqual(steps, ['close']);
    assert.equal(await exited, 0);
  });

  it('exits 1 and says so when in-flight work outlasts the grace period', async () => {
    const { handler, arrived } = echo();
    const { port, shutdown, exited, steps, logger } = await setUp(handler, { graceMs: 100 });
    await startRequest(port, 'never finished', 3);
    await arrived;
    const started = Date.now();
    void shutdown.shutdown('SIGTERM');
    assert.equal(await exited, 1);
    assert.ok(Date.now() - started >= 90, 'not before the grace period');
    assert.deepEqual(steps, [], 'never got as far as closing the application');
    const last = logger.lines[logger.lines.length - 1]!;
    assert.equal(last.level, 'error');
    assert.match(String(last.msg), /SHUTDOWN_GRACE_SECONDS/);
    assert.equal(last.in_flight, 1);
  });

  it('exits 1 at once on a second signal', async () => {
    const { handler, arrived } = echo();
    const { port, shutdown, exits } = await setUp(handler);
    await startRequest(port, 'never finished', 3);
    await arrived;
    void shutdown.shutdown('SIGTERM');
    await shutdown.shutdown('SIGINT');
    assert.deepEqual(exits, [1]);
  });
});
