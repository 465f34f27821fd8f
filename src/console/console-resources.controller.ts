import { Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { contextOf, sendRedirect } from '../common/http.js';
import { BrowserError, InvalidRequest, NotFound } from '../common/oauth-errors.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { CreateResourceServerDto, UpdateResourceServerDto } from '../resources/dto/resource-server.dto.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { ResourcesService } from '../resources/resources.service.js';
import { ConsoleAccess } from './console-access.js';
import { noticeOf, sendConsolePage, type SignedInOperator } from './console-layout.js';
import { bodyFromForm, EMPTY_FORM, fieldOf, formFromBody, validateBody, type FieldError } from './console-resources-form.js';
import { newResourcePage, RESOURCE_NOTICES, RESOURCES_NOTICES, resourcePage, resourcesListPage, rotationNotice, SECRET_OVERLAPS, secretPage } from './console-resources-views.js';

/**
 * The console's resource servers: list, register, edit, rotate the registration secret, delete. Every change goes
 * through ResourcesService, as the admin API's do, after the admin API's DTOs have validated the form; a refused form
 * comes back with status 400, as it was sent, with what is wrong, and nothing written. A registration secret is
 * shown once, in the answer to the post that made it (200, no-store), never in a URL.
 */
@Controller('console/resources')
@RateLimit('authorize')
export class ConsoleResourcesController {
  constructor(
    private readonly resources: ResourcesService,
    private readonly access: ConsoleAccess,
  ) {}

  @Get()
  async list(@Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.viewer(req, res);
    if (!operator) return;
    sendConsolePage(res, 200, resourcesListPage(operator, await this.resources.list(), noticeOf(req, RESOURCES_NOTICES)));
  }

  @Get('new')
  async newForm(@Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.viewer(req, res);
    if (!operator) return;
    if (operator.role !== 'admin') throw notAdmin();
    sendConsolePage(res, 200, newResourcePage(operator, EMPTY_FORM));
  }

  @Post()
  async create(@Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.admin(req);
    const form = formFromBody(req.body);
    const checked = await validateBody(CreateResourceServerDto, bodyFromForm(form, 'create'));
    if (!checked.dto) return sendConsolePage(res, 400, newResourcePage(operator, form, checked.errors));
    try {
      const { resource, registrationSecret } = await this.resources.create(checked.dto, contextOf(req), actorOf(operator));
      sendConsolePage(res, 200, secretPage(operator, resource, registrationSecret, 'created', ''));
    } catch (error) {
      sendConsolePage(res, 400, newResourcePage(operator, form, refusal(error)));
    }
  }

  @Get(':id')
  async show(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.viewer(req, res);
    if (!operator) return;
    const resource = await this.find(id);
    sendConsolePage(res, 200, resourcePage(operator, resource, { notice: noticeOf(req, RESOURCE_NOTICES) }));
  }

  @Post(':id')
  async update(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.admin(req);
    const current = await this.find(id);
    const form = formFromBody(req.body);
    const checked = await validateBody(UpdateResourceServerDto, bodyFromForm(form, 'update'));
    const refused = (errors: FieldError[]) => sendConsolePage(res, 400, resourcePage(operator, current, { form, errors }));
    if (!checked.dto) return refused(checked.errors);
    try {
      await this.resources.update(current.id, checked.dto, contextOf(req), actorOf(operator));
    } catch (error) {
      return refused(refusal(error));
    }
    sendRedirect(res, 303, `/console/resources/${current.id}?status=saved`);
  }

  @Post(':id/secret')
  async rotateSecret(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.admin(req);
    const current = await this.find(id);
    const rotated = await this.resources.rotateSecret(current.id, overlapOf(req), contextOf(req), actorOf(operator));
    sendConsolePage(res, 200, secretPage(operator, rotated.resource, rotated.registrationSecret, 'rotated', rotationNotice(rotated.previousSecretExpiresAt)));
  }

  @Post(':id/delete')
  async delete(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.admin(req);
    const current = await this.find(id);
    if ((req.body as Record<string, unknown>).confirm !== 'yes') {
      const deleteError = `Tick the box to confirm that ${current.name} and its grants should be deleted.`;
      return sendConsolePage(res, 400, resourcePage(operator, current, { deleteError }));
    }
    await this.resources.delete(current.id, contextOf(req), actorOf(operator));
    sendRedirect(res, 303, '/console/resources?status=deleted');
  }

  /** The resource server, or a 404 page (ResourcesService answers the admin API's JSON NotFound). */
  private async find(id: string): Promise<ResourceServerEntity> {
    try {
      return await this.resources.get(id);
    } catch (error) {
      if (error instanceof NotFound) throw new BrowserError(404, 'Not found', 'There is no such resource server. It may have been deleted.');
      throw error;
    }
  }
}

function actorOf(operator: SignedInOperator): { kind: 'user'; id: string } {
  return { kind: 'user', id: operator.userId };
}

function notAdmin(): BrowserError {
  return new BrowserError(403, 'Not allowed', 'Only a console admin can change this server. Your role lets you look, not change.');
}

/** What ResourcesService refused (its InvalidRequest, as the admin API would answer 400), on the field it is about. */
function refusal(error: unknown): FieldError[] {
  if (error instanceof InvalidRequest) return [{ field: fieldOf(error.description), message: error.description }];
  throw error;
}

/** The overlap the rotation form chose; anything but one of its choices is refused, as a tampered form. */
function overlapOf(req: Request): number {
  const chosen = Number((req.body as Record<string, unknown>).overlap);
  const choice = SECRET_OVERLAPS.find((overlap) => overlap.seconds === chosen);
  if (!choice) throw new BrowserError(400, 'Request not accepted', 'Choose how long the old secret keeps working from the list.');
  return choice.seconds;
}
