import { Controller, Delete, Get, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { AdminGuard } from '../admin/admin.guard.js';
import { OAuthBody } from '../common/oauth-body.decorator.js';
import { contextOf } from '../common/http.js';
import type { ParsedBody } from '../common/body-parser.js';
import { ClientsService, type ClientRegistrationView } from './clients.service.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';

/** Pre-registered clients: the same RFC 7591 metadata as dynamic registration, created by an administrator. */
@Controller('admin/clients')
@RateLimit('admin')
@UseGuards(AdminGuard)
export class AdminClientsController {
  constructor(private readonly clients: ClientsService) {}

  @Post()
  async create(@OAuthBody('json') body: ParsedBody, @Req() req: Request): Promise<ClientRegistrationView & { kind: string }> {
    return { ...this.clients.view(await this.clients.register(body, 'static', contextOf(req))), kind: 'static' };
  }

  /** Every client, including the records of metadata-document clients (with until when their document is used). */
  @Get()
  async list(): Promise<Array<ClientRegistrationView & { kind: string; metadata_expires_at?: string }>> {
    return (await this.clients.list()).map((client) => ({
      ...this.clients.view(client),
      kind: client.kind,
      ...(client.metadataExpiresAt ? { metadata_expires_at: client.metadataExpiresAt.toISOString() } : {}),
    }));
  }

  @Delete(':clientId')
  @HttpCode(204)
  async delete(@Param('clientId') clientId: string, @Req() req: Request): Promise<void> {
    await this.clients.delete(clientId, 'admin.client_deleted', contextOf(req));
  }
}
