import { Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { contextOf, sendRedirect } from '../common/http.js';
import { BrowserError, NotFound } from '../common/oauth-errors.js';
import type { ManagedUser } from '../authorization/user.repository.js';
import { clientName } from '../authorization/authorization.service.js';
import { AccountService } from '../account/account.service.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { isUuid } from '../resources/resources.service.js';
import { GrantsService } from '../tokens/grants.service.js';
import { USER_SEARCH_LIMIT, UserManagementService } from '../tokens/user-management.service.js';
import type { AuditActor } from '../audit/audit-schema.js';
import { ConsoleAccess } from './console-access.js';
import { noticeOf, sendConsolePage, type SignedInOperator } from './console-layout.js';
import { USER_NOTICES, userPage, usersPage, type UserNotice } from './console-users-views.js';
import { ConsoleUsersRepository } from './console-users.repository.js';

/** Longest search term or provider the page accepts, as the admin API. */
const MAX_TERM = 320;

/**
 * The console's users: finding them, one user's identities and grants, and (for an admin) revoking a grant or all of
 * them, disabling and enabling. Each change is a CSRF-checked form post answered 303 back to the user's page, and
 * audited with the operator as the actor.
 */
@Controller('console/users')
@RateLimit('authorize')
export class ConsoleUsersController {
  constructor(
    private readonly access: ConsoleAccess,
    private readonly users: UserManagementService,
    private readonly grants: GrantsService,
    private readonly account: AccountService,
    private readonly repository: ConsoleUsersRepository,
  ) {}

  @Get()
  async search(@Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.viewer(req, res);
    if (!operator) return;
    const q = term(req.query.q, 'search');
    const provider = term(req.query.provider, 'provider');
    // No term and no provider finds every user with an identity: the newest come first.
    const [found, providers] = await Promise.all([this.users.find({ q: q || null, provider: provider || null, login: null, email: null }), this.repository.providers()]);
    const roles = await this.repository.roles(found.map((user) => user.id));
    const rows = found.map((user) => ({
      id: user.id,
      name: user.displayName,
      identities: user.identities,
      disabled: user.disabledAt !== null,
      grants: user.liveGrants,
      role: roles.get(user.id) ?? null,
    }));
    sendConsolePage(res, 200, usersPage(operator, { q, provider, providers, users: rows, limit: USER_SEARCH_LIMIT }));
  }

  @Get(':id')
  async show(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.viewer(req, res);
    if (!operator) return;
    const user = await this.requireUser(id);
    const [grants, lastSignIn, roles] = await Promise.all([this.repository.grants(user.id), this.repository.lastSignIn(user.id), this.repository.roles([user.id])]);
    const view = {
      id: user.id,
      name: user.displayName,
      createdAt: user.createdAt,
      disabledAt: user.disabledAt,
      lastSignIn,
      role: roles.get(user.id) ?? null,
      identities: user.identities,
      grants: grants.map((grant) => ({
        ...grant,
        clientName: clientName({ id: grant.clientId, metadata: grant.clientMetadata }),
      })),
      self: user.id === operator.userId,
    };
    sendConsolePage(res, 200, userPage(operator, view, noticeOf(req, USER_NOTICES)));
  }

  /** One grant, revoked as the user would on their account page (the consent behind it forgotten too). */
  @Post(':id/grants/:grantId/revoke')
  async revokeGrant(@Param('id') id: string, @Param('grantId') grantId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.admin(req);
    const user = await this.requireUser(id);
    // The account page answers a grant that is not the user's as unknown; say it in the console's words first.
    const owned = isUuid(grantId) && (await this.grants.listForUser(user.id)).some((grant) => grant.id === grantId.toLowerCase());
    if (!owned) throw new BrowserError(404, 'Not found', 'This user has no such grant. Return to the user’s page and try again.');
    const outcome = await this.account.revoke(user.id, grantId, contextOf(req), actorOf(operator));
    this.back(res, user, outcome);
  }

  @Post(':id/grants/revoke-all')
  async revokeAll(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.admin(req);
    const user = await this.requireUser(id);
    const result = await this.grants.revokeAll({ userId: user.id }, contextOf(req), actorOf(operator));
    this.back(res, user, result.revoked === 0 && result.consentsCleared === 0 ? 'nothing-to-revoke' : 'revoked-all');
  }

  /** An operator may not disable themselves: their session would end and nobody might be left to enable them. */
  @Post(':id/disable')
  async disable(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.admin(req);
    const user = await this.requireUser(id);
    if (user.id === operator.userId) {
      throw new BrowserError(409, 'Not disabled', 'You cannot disable yourself: you would lock yourself out of the console. Another admin can disable you.');
    }
    await this.users.disable(user.id, contextOf(req), actorOf(operator));
    this.back(res, user, 'disabled');
  }

  @Post(':id/enable')
  async enable(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.admin(req);
    const user = await this.requireUser(id);
    await this.users.enable(user.id, contextOf(req), actorOf(operator));
    this.back(res, user, 'enabled');
  }

  private async requireUser(id: string): Promise<ManagedUser> {
    const user = isUuid(id) ? await this.users.get(id).catch((error: unknown) => (error instanceof NotFound ? null : Promise.reject(error))) : null;
    if (!user) throw new BrowserError(404, 'Not found', 'There is no such user. Return to the users page and search again.');
    return user;
  }

  private back(res: Response, user: ManagedUser, notice: UserNotice): void {
    sendRedirect(res, 303, `/console/users/${user.id}?status=${notice}`);
  }
}

/** A console operator's changes are recorded as theirs. */
function actorOf(operator: SignedInOperator): AuditActor {
  return { kind: 'user', id: operator.userId };
}

/** A query parameter as typed, trimmed ('' when absent); a repeated or overlong one is a bad request. */
function term(value: unknown, name: string): string {
  if (value === undefined) return '';
  if (typeof value !== 'string' || value.length > MAX_TERM) throw new BrowserError(400, 'Search not accepted', `The ${name} must be one value of at most ${MAX_TERM} characters.`);
  return value.trim();
}
