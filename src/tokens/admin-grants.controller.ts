import { Controller, Delete, Get, Param } from '@nestjs/common';
import { AdminApi } from '../admin/admin.guard.js';
import { NotFound } from '../common/oauth-errors.js';
import { UserRepository } from '../authorization/user.repository.js';
import { ClientsService } from '../registration/clients.service.js';
import { isUuid } from '../resources/resources.service.js';
import { GrantsService, toGrantView, type GrantView } from './grants.service.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import type { RequestContext } from '../common/http.js';
import { InRequest } from '../common/request-context.middleware.js';

/** A user's grants (e.g. to cut everything off on account deactivation), and revoking all of a client's. */
@Controller('admin')
@RateLimit('admin')
@AdminApi()
export class AdminGrantsController {
  constructor(
    private readonly grants: GrantsService,
    private readonly users: UserRepository,
    private readonly clients: ClientsService,
  ) {}

  @Get('users/:id/grants')
  async list(@Param('id') id: string): Promise<GrantView[]> {
    await this.requireUser(id);
    return (await this.grants.listForUser(id)).map(toGrantView);
  }

  @Delete('users/:id/grants')
  async revokeForUser(@Param('id') id: string, @InRequest() request?: RequestContext): Promise<{ revoked: number; consents_cleared: number }> {
    await this.requireUser(id);
    const result = await this.grants.revokeAll({ userId: id }, request);
    return { revoked: result.revoked, consents_cleared: result.consentsCleared };
  }

  @Delete('clients/:clientId/grants')
  async revokeForClient(@Param('clientId') clientId: string, @InRequest() request?: RequestContext): Promise<{ revoked: number; consents_cleared: number }> {
    if (!(await this.clients.find(clientId))) throw new NotFound(`no client with id ${clientId}`);
    const result = await this.grants.revokeAll({ clientId }, request);
    return { revoked: result.revoked, consents_cleared: result.consentsCleared };
  }

  private async requireUser(id: string): Promise<void> {
    if (!isUuid(id) || !(await this.users.findById(id))) throw new NotFound(`no user with id ${id}`);
  }
}
