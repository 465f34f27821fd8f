import { Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { contextOf, sendRedirect } from '../common/http.js';
import { BrowserError, NotFound } from '../common/oauth-errors.js';
import { isStorableText } from '../common/validation.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { ClientsService } from '../registration/clients.service.js';
import type { ClientKind } from '../registration/client.entity.js';
import { GrantsService } from '../tokens/grants.service.js';
import { ConsoleAccess } from './console-access.js';
import { noticeOf, sendConsolePage, type SignedInOperator } from './console-layout.js';
import { CLIENT_NOTICES, clientHref, clientPage, CLIENTS_NOTICES, clientsPage, KIND_LABELS } from './console-clients-views.js';
import { CLIENT_ACTIVITIES, ConsoleClientsRepository, type ClientActivity, type ClientListFilter } from './console-clients.repository.js';

/** Longer than any client id Gatehouse accepts (a UUID, or a metadata document URL). */
const MAX_CLIENT_ID_LENGTH = 4096;

/**
 * The console's clients: the list filtered by kind and activity, one client's details and live grants, and (for an
 * admin) revoking all its grants or deleting it. The changes go through the same services as the admin API, so
 * tokens, caches and audit events behave the same; the events name the operator as the actor.
 */
@Controller('console/clients')
@RateLimit('authorize')
export class ConsoleClientsController {
  constructor(
    private readonly access: ConsoleAccess,
    private readonly repository: ConsoleClientsRepository,
    private readonly clients: ClientsService,
    private readonly grants: GrantsService,
  ) {}

  @Get()
  async list(@Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.viewer(req, res);
    if (!operator) return;
    const filter = filterOf(req.query);
    sendConsolePage(res, 200, clientsPage(operator, { filter, page: await this.repository.list(filter), now: new Date() }, noticeOf(req, CLIENTS_NOTICES)));
  }

  @Get(':clientId')
  async details(@Param('clientId') clientId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.viewer(req, res);
    if (!operator) return;
    const client = await this.repository.client(clientId);
    if (!client) throw noSuchClient();
    const grants = client.liveGrants ? await this.repository.grants(client.id) : [];
    sendConsolePage(res, 200, clientPage(operator, { client, grants, now: new Date() }, noticeOf(req, CLIENT_NOTICES)));
  }

  @Post(':clientId/delete')
  async delete(@Param('clientId') clientId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.admin(req);
    if (!confirmed(req)) return sendRedirect(res, 303, `${clientHref(clientId)}?status=not-confirmed`);
    try {
      await this.clients.delete(clientId, 'admin.client_deleted', contextOf(req), actorOf(operator));
    } catch (error) {
      // Deleted meanwhile (another operator, the expiry job): the page a browser would reach next says so.
      if (error instanceof NotFound) throw noSuchClient();
      throw error;
    }
    sendRedirect(res, 303, '/console/clients?status=deleted');
  }

  @Post(':clientId/revoke-grants')
  async revokeGrants(@Param('clientId') clientId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.admin(req);
    if (!confirmed(req)) return sendRedirect(res, 303, `${clientHref(clientId)}?status=not-confirmed`);
    if (!(await this.repository.client(clientId))) throw noSuchClient();
    const result = await this.grants.revokeAll({ clientId }, contextOf(req), actorOf(operator));
    sendRedirect(res, 303, `${clientHref(clientId)}?status=${result.revoked ? 'grants-revoked' : 'nothing-revoked'}`);
  }
}

/** The list's filter from the query; a value the form cannot send falls back to showing everything. */
export function filterOf(query: Request['query']): ClientListFilter {
  const kind = typeof query.kind === 'string' && Object.hasOwn(KIND_LABELS, query.kind) ? (query.kind as ClientKind) : null;
  const activity = typeof query.activity === 'string' && (CLIENT_ACTIVITIES as readonly string[]).includes(query.activity) ? (query.activity as ClientActivity) : 'all';
  const after = typeof query.after === 'string' && query.after.length > 0 && query.after.length <= MAX_CLIENT_ID_LENGTH && isStorableText(query.after) ? query.after : null;
  return { kind, activity, after };
}

/** The change's confirmation box was ticked (the browser requires it; a form sent without it changes nothing). */
function confirmed(req: Request): boolean {
  return (req.body as Record<string, unknown>).confirm === 'yes';
}

function actorOf(operator: SignedInOperator): { kind: 'user'; id: string } {
  return { kind: 'user', id: operator.userId };
}

function noSuchClient(): BrowserError {
  return new BrowserError(404, 'No such client', 'There is no client with this id: it may have been deleted, or it expired.');
}
