import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Request, Response } from 'express';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { InvalidRequest } from '../common/oauth-errors.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { matchesAuditFilter, type AuditEventFilter } from './audit-filter.js';
import { AuditNotifier } from './audit-notifier.js';

const STREAM_BATCH = 100;

/** Open SSE streams, ended before the HTTP server closes (it would otherwise wait for them forever). */
@Injectable()
export class AuditStreams implements BeforeApplicationShutdown {
  private readonly open = new Set<AbortController>();
  private closing = false;

  get size(): number {
    return this.open.size;
  }

  /** A stream's abort handle; already aborted once shutdown has begun (the stream then ends at once). */
  add(): AbortController {
    const controller = new AbortController();
    if (this.closing) {
      controller.abort();
      return controller;
    }
    this.open.add(controller);
    controller.signal.addEventListener('abort', () => this.open.delete(controller), { once: true });
    return controller;
  }

  beforeApplicationShutdown(): void {
    this.closing = true;
    for (const controller of [...this.open]) controller.abort();
  }
}

/**
 * Audit events as Server-Sent Events, for every route that streams them (the admin API's and the console's): each
 * event as `id: <seq>` + `data: <json>`, a comment line as heartbeat. Each stream registers with AuditStreams, so
 * shutdown ends it, and marks its response long-lived, so graceful shutdown does not wait for it.
 */
@Injectable()
export class AuditEventStream {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly events: AuditEventRepository,
    private readonly notifier: AuditNotifier,
    private readonly streams: AuditStreams,
  ) {}

  /**
   * Where a stream starts: after `Last-Event-ID` (what EventSource sends on reconnect), else after `cursor`, else
   * at the newest event (only new ones are sent). InvalidRequest for a Last-Event-ID that is no seq.
   */
  async start(req: Request, cursor: string | undefined): Promise<number> {
    const lastEventId = req.headers['last-event-id'];
    if (lastEventId !== undefined && (typeof lastEventId !== 'string' || !/^\d{1,15}$/.test(lastEventId))) {
      throw new InvalidRequest('Last-Event-ID must be the id (seq) of an event this stream sent');
    }
    if (lastEventId !== undefined) return Number(lastEventId);
    return cursor !== undefined ? Number(cursor) : this.events.horizon();
  }

  /**
   * Sends the events after seq `after` that match `filter`, then each new one, until the client goes or shutdown.
   * `allowed`, when given, is asked again once per heartbeat interval: the stream ends when the caller's right to it
   * has (a console session that expired, an operator whose role was taken away), so it lasts no longer than a page would.
   */
  async serve(res: Response, filter: AuditEventFilter, after: number, allowed?: () => Promise<boolean>): Promise<void> {
    let cursor = after;
    const controller = this.streams.add();
    const signal = controller.signal;
    res.on('close', () => controller.abort());
    res.locals.longLived = true;
    res.status(200).set({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    let lastWrite = Date.now();
    const write = async (chunk: string): Promise<void> => {
      lastWrite = Date.now();
      if (!res.write(chunk)) await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        res.on('drain', done);
        signal.addEventListener('abort', done, { once: true });
      });
    };

    try {
      await write('retry: 2000\n\n');
      const heartbeatMs = this.config.audit.streamHeartbeatMs;
      let checked = Date.now();
      while (!signal.aborted) {
        if (allowed && Date.now() - checked >= heartbeatMs) {
          if (!(await allowed())) break;
          checked = Date.now();
        }
        const batch = await this.events.after(cursor, STREAM_BATCH);
        for (const event of batch) {
          if (signal.aborted) break;
          cursor = event.seq;
          if (matchesAuditFilter(event, filter)) await write(`id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`);
        }
        if (batch.length === STREAM_BATCH || signal.aborted) continue;
        const idle = Date.now() - lastWrite;
        if (idle >= heartbeatMs) {
          await write(': heartbeat\n\n');
          continue;
        }
        await this.notifier.wait(Math.min(this.config.audit.pollIntervalMs, heartbeatMs - idle), signal);
      }
    } finally {
      controller.abort();
      res.end();
    }
  }
}
