import { Controller, Get, Logger, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { contextOf } from '../common/http.js';
import { AuditLog } from '../audit/audit-log.js';
import { AuditEventRepository } from '../audit/audit-event.repository.js';
import { AuditEventStream } from '../audit/audit-stream.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { ConsoleAccess } from './console-access.js';
import { sendConsolePage, type SignedInOperator } from './console-layout.js';
import { auditQueryString, exportFileName, readAuditForm, type AuditForm, type AuditFormReading } from './console-audit-query.js';
import { AUDIT_EXPORT_LIMIT, AUDIT_TABLE_ROWS, auditPage } from './console-audit-views.js';
import { writeJsonLines } from './console-audit-export.js';

/** Events per query of an export: keyset pages by seq, so each is one short index-ordered read. */
const EXPORT_PAGE = 1000;
const SEQ = /^\d{1,15}$/;

/**
 * The console's audit section: the newest events matching a filter form, new ones live (the admin API's stream,
 * with the console's session instead of the admin token), and the matching range as JSON lines. All reads: a viewer
 * may use every part of it.
 */
@Controller('console/audit')
@RateLimit('authorize')
export class ConsoleAuditController {
  private readonly logger = new Logger('ConsoleAudit');

  constructor(
    private readonly access: ConsoleAccess,
    private readonly events: AuditEventRepository,
    private readonly stream: AuditEventStream,
    private readonly audit: AuditLog,
  ) {}

  @Get()
  async page(@Req() req: Request, @Res() res: Response): Promise<void> {
    const read = await this.readAsViewer(req, res);
    if (!read) return;
    const { operator, reading } = read;
    const { filter, since, until } = reading.selection;
    // The newest seq first, and the table only up to it: the stream starts after it, so no event is shown twice or missed.
    const upTo = await this.events.horizon();
    const events = await this.events.find({ ...filter, since, until, upTo, newestFirst: true, limit: AUDIT_TABLE_ROWS });
    const streamUrl = until ? null : `/console/audit/stream?${auditQueryString(reading.form, ['type', 'client_id', 'sub', 'resource', 'outcome'], { cursor: String(upTo) })}`;
    sendConsolePage(res, 200, auditPage(operator, { form: reading.form, events, problem: null, streamUrl }));
  }

  /**
   * Server-Sent Events for the page's script, as GET /admin/audit/stream sends them (the same filters, `cursor`, and
   * Last-Event-ID). A request without a console session gets a bare 401, a person without a role a bare 403: an
   * EventSource cannot show a page, and on such an answer it stops instead of retrying. The stream ends (and the
   * page's reconnect is refused) once the session expires or the role is taken away.
   */
  @Get('stream')
  async streamEvents(@Req() req: Request, @Res() res: Response): Promise<void> {
    const access = await this.access.reader(req);
    if ('refused' in access) {
      sendText(res, access.refused, access.refused === 401 ? 'Sign in to the console first.' : 'You have no role in this server’s console.');
      return;
    }
    const reading = readAuditForm(req.query);
    const cursor = req.query.cursor;
    if (reading.problem !== null || (cursor !== undefined && (typeof cursor !== 'string' || !SEQ.test(cursor)))) {
      sendText(res, 400, reading.problem ?? 'cursor must be a seq.');
      return;
    }
    const stillAnOperator = async () => 'operator' in (await this.access.reader(req));
    await this.stream.serve(res, reading.selection.filter, await this.stream.start(req, cursor), stillAnOperator);
  }

  /**
   * The matching events from since to until as JSON lines, oldest first, each as the admin API shows it. Up to the
   * newest event when the export began (a busy server cannot keep it going), and at most AUDIT_EXPORT_LIMIT events:
   * when there were more, the last line is `{"truncated":true,…}` saying where the next export should start.
   */
  @Get('export')
  async export(@Req() req: Request, @Res() res: Response): Promise<void> {
    const read = await this.readAsViewer(req, res);
    if (!read) return;
    const { operator, reading } = read;
    const selection = reading.selection;
    const upTo = await this.events.horizon();
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    res.status(200).set({
      'content-type': 'application/jsonl; charset=utf-8',
      'content-disposition': `attachment; filename="${exportFileName(selection, new Date())}"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    let result = { count: 0, truncated: false };
    let complete = false;
    try {
      result = await writeJsonLines({
        find: (after, limit) => this.events.find({ ...selection.filter, since: selection.since, until: selection.until, after, upTo, limit }),
        write: async (chunk) => {
          await write(res, chunk);
          return !closed;
        },
        max: AUDIT_EXPORT_LIMIT,
        pageSize: EXPORT_PAGE,
      });
      complete = !closed;
      res.end();
    } catch (error) {
      if (!res.headersSent) {
        // Nothing sent yet: the error page, not a download of it.
        res.removeHeader('content-disposition');
        throw error;
      }
      // A download under way can only be cut short, so that it cannot pass for a whole one.
      this.logger.warn({ msg: 'audit export failed', error: error instanceof Error ? error.message : String(error) });
      res.destroy();
    } finally {
      this.recordExport(operator, reading.form, req, { ...result, complete });
    }
  }

  /**
   * The viewer and the filters of a page or export request; null once the answer is sent (the sign-in page, a 403,
   * or the page naming the filter's problem, 400).
   */
  private async readAsViewer(req: Request, res: Response): Promise<{ operator: SignedInOperator; reading: Extract<AuditFormReading, { problem: null }> } | null> {
    const operator = await this.access.viewer(req, res);
    if (!operator) return null;
    const reading = readAuditForm(req.query);
    if (reading.problem !== null) {
      sendConsolePage(res, 400, auditPage(operator, { form: reading.form, events: [], problem: reading.problem, streamUrl: null }));
      return null;
    }
    return { operator, reading };
  }

  /** An export describes no change: it is recorded as an observation (written behind), with the operator as actor. */
  private recordExport(operator: SignedInOperator, form: AuditForm, req: Request, result: { count: number; truncated: boolean; complete: boolean }): void {
    const given = (value: string) => (value === '' ? null : value);
    this.audit.recordObservation({
      type: 'audit.exported',
      actor: { kind: 'user', id: operator.userId },
      request: contextOf(req),
      data: {
        filter_type: given(form.type),
        filter_client_id: given(form.client_id),
        filter_sub: given(form.sub),
        filter_resource: given(form.resource),
        filter_outcome: given(form.outcome),
        since: given(form.since),
        until: given(form.until),
        ...result,
      },
    });
  }
}

/** Writes `chunk`, waiting for the client to take it in when its buffer is full (or for it to go away). */
function write(res: Response, chunk: string): Promise<void> {
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function sendText(res: Response, status: number, text: string): void {
  res.status(status).set({ 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).send(text);
}
