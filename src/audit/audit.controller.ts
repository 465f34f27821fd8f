import { Controller, Get, Header, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AdminGuard } from '../admin/admin.guard.js';
import { InvalidRequest } from '../common/oauth-errors.js';
import { strictValidationPipe } from '../common/validation.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { parseAuditFilter, type AuditEventFilter, type AuditFilterQuery } from './audit-filter.js';
import type { AuditEventV1 } from './audit-schema.js';
import { AuditEventStream } from './audit-stream.js';
import { AuditQueryDto, AuditStreamQueryDto } from './dto/audit-query.dto.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** Ops' view of the outbox: a cursor-paginated query, and a live Server-Sent Events stream. */
@Controller('admin/audit')
@RateLimit('admin')
@UseGuards(AdminGuard)
export class AuditController {
  constructor(
    private readonly events: AuditEventRepository,
    private readonly stream: AuditEventStream,
  ) {}

  /** Oldest first; `next_cursor` is set when the page is full (pass it back as `cursor` for the next page). */
  @Get()
  @Header('Cache-Control', 'no-store')
  async list(@Query(strictValidationPipe) query: AuditQueryDto): Promise<{ events: AuditEventV1[]; next_cursor: string | null }> {
    const limit = query.limit === undefined ? DEFAULT_LIMIT : Number(query.limit);
    if (limit < 1 || limit > MAX_LIMIT) throw new InvalidRequest(`limit must be a whole number from 1 to ${MAX_LIMIT}`);
    const since = query.since === undefined ? undefined : new Date(query.since);
    const until = query.until === undefined ? undefined : new Date(query.until);
    const filter = filterOf(query);
    const events = await this.events.find({ ...filter, since, until, after: query.cursor === undefined ? undefined : Number(query.cursor), limit });
    const last = events[events.length - 1];
    return { events, next_cursor: events.length === limit && last ? String(last.seq) : null };
  }

  /**
   * `text/event-stream`: each event as `id: <seq>` + `data: <json>`; a comment line as heartbeat. Resumes after
   * `Last-Event-ID` (what EventSource sends on reconnect), else after `cursor`, else from now on.
   */
  @Get('stream')
  async streamEvents(@Query(strictValidationPipe) query: AuditStreamQueryDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const filter = filterOf(query);
    await this.stream.serve(res, filter, await this.stream.start(req, query.cursor));
  }
}

function filterOf(query: AuditFilterQuery): AuditEventFilter {
  const parsed = parseAuditFilter(query);
  if ('problem' in parsed) throw new InvalidRequest(parsed.problem);
  return parsed.filter;
}
