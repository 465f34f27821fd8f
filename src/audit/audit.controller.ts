import { Controller, Get, Header, Inject, Injectable, Query, Req, Res, UseGuards, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Request, Response } from 'express';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { AdminGuard } from '../admin/admin.guard.js';
import { InvalidRequest } from '../common/oauth-errors.js';
import { isStorableText, strictValidationPipe } from '../common/validation.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { AuditNotifier } from './audit-notifier.js';
import { AUDIT_EVENT_TYPES, isAuditEventType, type AuditEventV1 } from './audit-schema.js';
import { AuditQueryDto, AuditStreamQueryDto } from './dto/audit-query.dto.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const STREAM_BATCH = 100;

interface Filter {
  types?: string[];
  clientId?: string;
  subject?: string;
}

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

/** Ops' view of the outbox: a cursor-paginated query, and a live Server-Sent Events stream. */
@Controller('admin/audit')
@RateLimit('admin')
@UseGuards(AdminGuard)
export class AuditController {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly events: AuditEventRepository,
    private readonly notifier: AuditNotifier,
    private readonly streams: AuditStreams,
  ) {}

  /** Oldest first; `next_cursor` is set when the page is full (pass it back as `cursor` for the next page). */
  @Get()
  @Header('Cache-Control', 'no-store')
  async list(@Query(strictValidationPipe) query: AuditQueryDto): Promise<{ events: AuditEventV1[]; next_cursor: string | null }> {
    const limit = query.limit === undefined ? DEFAULT_LIMIT : Number(query.limit);
    if (limit < 1 || limit > MAX_LIMIT) throw new InvalidRequest(`limit must be a whole number from 1 to ${MAX_LIMIT}`);
    const since = query.since === undefined ? undefined : new Date(query.since);
    const until = query.until === undefined ? undefined : new Date(query.until);
    const filter = parseFilter(query);
    const events = await this.events.find({ ...filter, since, until, after: query.cursor === undefined ? undefined : Number(query.cursor), limit });
    const last = events[events.length - 1];
    return { events, next_cursor: events.length === limit && last ? String(last.seq) : null };
  }

  /**
   * `text/event-stream`: each event as `id: <seq>` + `data: <json>`; a comment line as heartbeat. Resumes after
   * `Last-Event-ID` (what EventSource sends on reconnect), else after `cursor`, else from now on.
   */
  @Get('stream')
  async stream(@Query(strictValidationPipe) query: AuditStreamQueryDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const filter = parseFilter(query);
    const lastEventId = req.headers['last-event-id'];
    if (lastEventId !== undefined && (typeof lastEventId !== 'string' || !/^\d{1,15}$/.test(lastEventId))) {
      throw new InvalidRequest('Last-Event-ID must be the id (seq) of an event this stream sent');
    }
    let cursor = lastEventId !== undefined ? Number(lastEventId) : query.cursor !== undefined ? Number(query.cursor) : await this.events.maxSeq();

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
      while (!signal.aborted) {
        const batch = await this.events.after(cursor, STREAM_BATCH);
        for (const event of batch) {
          if (signal.aborted) break;
          cursor = event.seq;
          if (matches(event, filter)) await write(`id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`);
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

function parseFilter(query: { type?: string; client_id?: string; sub?: string }): Filter {
  for (const value of [query.client_id, query.sub]) {
    if (value !== undefined && !isStorableText(value)) throw new InvalidRequest('client_id and sub must not contain NUL characters');
  }
  let types: string[] | undefined;
  if (query.type !== undefined) {
    types = query.type.split(',');
    for (const type of types) {
      const known = type.endsWith('.*') ? AUDIT_EVENT_TYPES.some((candidate) => candidate.startsWith(type.slice(0, -1))) : isAuditEventType(type);
      if (!known) throw new InvalidRequest(`unknown event type ${type}`);
    }
  }
  return { types, clientId: query.client_id, subject: query.sub };
}

function matches(event: AuditEventV1, filter: Filter): boolean {
  if (filter.clientId !== undefined && event.client_id !== filter.clientId) return false;
  if (filter.subject !== undefined && event.subject !== filter.subject) return false;
  if (filter.types && !filter.types.some((type) => (type.endsWith('.*') ? event.type.startsWith(type.slice(0, -1)) : event.type === type))) return false;
  return true;
}
