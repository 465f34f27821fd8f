import type { LoggerService } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const DRAIN_POLL_MS = 100;

export interface GracefulShutdownOptions {
  /** The listening HTTP server. */
  server: Server;
  /** The application's own shutdown, run once ordinary requests are done: ends streams, stops work, closes the DB. */
  close: () => Promise<void>;
  /** The whole shutdown must end within this; otherwise the process exits with 1. */
  graceMs: number;
  logger: LoggerService;
  exit: (code: number) => void;
}

/**
 * Stopping without dropping requests, for SIGTERM (an orchestrator replacing the instance) and SIGINT (Ctrl-C):
 *
 * 1. Stop accepting connections: the listening socket closes, so new connections are refused (a load balancer
 *    moves on to another instance), and idle keep-alive connections are closed.
 * 2. Let every request already received finish. Its response carries `Connection: close`, so nothing more comes
 *    on that connection; a connection that goes idle later is closed then.
 * 3. Run the application's shutdown (`close`). Long-lived responses (`res.locals.longLived`: the audit SSE stream)
 *    do not hold up step 2; their owners end them here. Then workers stop and the database closes, after the last
 *    request that could need it.
 * 4. Exit 0. If this takes longer than the grace period, log what is still in flight and exit 1. A second signal
 *    while stopping exits 1 at once.
 *
 * Until a signal comes, this costs little per request and listens to no response: each open connection keeps the
 * responses its requests received, in order (one, unless the client pipelines), and the first not yet finished is
 * the connection's request in flight. A finished one is dropped when the next request arrives on the connection,
 * and the list goes with the connection when it closes.
 */
export class GracefulShutdown {
  /** Each open connection and the responses of its requests, oldest first; finished ones are dropped lazily. */
  private readonly connections = new Map<Socket, ServerResponse[]>();
  /** The responses whenDone has seen to, while stopping. */
  private readonly watched = new WeakSet<ServerResponse>();
  private stopping = false;
  private exited = false;
  private onDrained: (() => void) | null = null;

  constructor(private readonly options: GracefulShutdownOptions) {
    options.server.on('connection', (socket: Socket) => this.track(socket));
    // Prepended, so the response is recorded even when a later listener answers it at once or throws.
    options.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const responses = this.connections.get(req.socket) ?? this.track(req.socket);
      while (responses[0]?.writableFinished) responses.shift();
      responses.push(res);
    });
  }

  private track(socket: Socket): ServerResponse[] {
    const responses: ServerResponse[] = [];
    this.connections.set(socket, responses);
    socket.once('close', () => this.connections.delete(socket));
    return responses;
  }

  /** Requests received and not yet answered, long-lived streams included. */
  get inFlightCount(): number {
    return this.inFlight().length;
  }

  /** Shuts down on the first of these signals; a second one exits at once. */
  listen(signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): void {
    for (const signal of signals) process.on(signal, () => void this.shutdown(signal));
  }

  async shutdown(signal: string): Promise<void> {
    const { server, logger, graceMs } = this.options;
    if (this.stopping) {
      logger.warn({ msg: 'second signal while shutting down: exiting now', signal, in_flight: this.inFlightCount });
      this.exit(1);
      return;
    }
    this.stopping = true;
    const deadline = setTimeout(() => {
      logger.error({
        msg: 'shutdown took longer than SHUTDOWN_GRACE_SECONDS: exiting with work unfinished',
        grace_seconds: graceMs / 1000,
        in_flight: this.inFlightCount,
      });
      this.exit(1);
    }, graceMs);
    // Stops listening and closes idle keep-alive connections (Node ≥ 19); the application's close() later calls
    // server.close() again, which then resolves once the last connection has ended.
    server.close();
    // Prepended, so that a request arriving now (on a connection already open) is marked before it is answered.
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => this.whenDone(res));
    const inFlight = this.inFlight();
    for (const res of inFlight) this.whenDone(res);
    logger.log({ msg: 'shutting down', signal, in_flight: inFlight.length, grace_seconds: graceMs / 1000 });
    try {
      await this.ordinaryRequestsDone();
      await this.options.close();
    } catch (error) {
      clearTimeout(deadline);
      logger.error({ msg: 'shutdown failed' }, error);
      this.exit(1);
      return;
    }
    clearTimeout(deadline);
    logger.log({ msg: 'stopped', signal });
    this.exit(0);
  }

  /**
   * The responses in flight: each open connection's first unfinished one. A pipelined request behind it is not in
   * flight yet: Node answers a connection's requests in order, and this one becomes its last when it comes up.
   */
  private inFlight(): ServerResponse[] {
    const inFlight: ServerResponse[] = [];
    for (const responses of this.connections.values()) {
      const current = responses.find((res) => !res.writableFinished);
      if (current) inFlight.push(current);
    }
    return inFlight;
  }

  /** While stopping: `res` closes its connection, and when it is done, idle connections close and the drain is checked. */
  private whenDone(res: ServerResponse): void {
    if (this.watched.has(res)) return;
    this.watched.add(res);
    closeConnectionAfter(res);
    res.once('close', () => {
      // A pipelined request's response takes the connection next: it is the last on it now.
      for (const next of this.inFlight()) this.whenDone(next);
      this.options.server.closeIdleConnections();
      if (this.onDrained && this.ordinaryCount() === 0) this.onDrained();
    });
  }

  private ordinaryRequestsDone(): Promise<void> {
    if (this.ordinaryCount() === 0) return Promise.resolve();
    return new Promise((resolve) => {
      // Checked when a response closes, and now and then: a request may turn into a stream while in flight.
      const poll = setInterval(() => this.ordinaryCount() === 0 && done(), DRAIN_POLL_MS).unref();
      const done = () => {
        clearInterval(poll);
        this.onDrained = null;
        resolve();
      };
      this.onDrained = done;
    });
  }

  private ordinaryCount(): number {
    return this.inFlight().filter((res) => !isLongLived(res)).length;
  }

  private exit(code: number): void {
    if (this.exited) return;
    this.exited = true;
    this.options.exit(code);
  }
}

function closeConnectionAfter(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
}

/** Express's res.locals; handlers that stream indefinitely set `longLived` (metrics leave them out too). */
function isLongLived(res: ServerResponse): boolean {
  return (res as ServerResponse & { locals?: { longLived?: unknown } }).locals?.longLived === true;
}
