import { Controller, Delete, Get, HttpCode, Param, Post, Put, Req } from '@nestjs/common';
import type { Request } from 'express';
import { NoStore, OAuthBody } from '../common/oauth-body.decorator.js';
import { contextOf } from '../common/http.js';
import type { ParsedBody } from '../common/body-parser.js';
import { ClientsService, type ClientRegistrationView } from './clients.service.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { PublicCors } from '../common/cors.middleware.js';

/**
 * Dynamic client registration (RFC 7591). Its own controller so that DYNAMIC_REGISTRATION=false can leave the route
 * out altogether (DynamicRegistrationModule), while the clients registered earlier keep their configuration endpoint.
 */
@PublicCors()
@Controller('register')
@RateLimit('register')
@NoStore()
export class RegistrationController {
  constructor(private readonly clients: ClientsService) {}

  @Post()
  async register(@OAuthBody('json') body: ParsedBody, @Req() req: Request): Promise<ClientRegistrationView> {
    // RFC 7591 §3: an initial access token, when one is presented or required, comes as a bearer token.
    return this.clients.view(await this.clients.register(body, 'dynamic', contextOf(req), req.headers.authorization));
  }
}

/** The client configuration endpoint (RFC 7592) of dynamically registered clients. */
@PublicCors()
@Controller('register')
@RateLimit('register')
@NoStore()
export class ClientConfigurationController {
  constructor(private readonly clients: ClientsService) {}

  @Get(':clientId')
  async read(@Param('clientId') clientId: string, @Req() req: Request): Promise<ClientRegistrationView> {
    return this.clients.view(await this.clients.authenticateRegistration(clientId, req.headers.authorization));
  }

  @Put(':clientId')
  async update(@Param('clientId') clientId: string, @OAuthBody('json') body: ParsedBody, @Req() req: Request): Promise<ClientRegistrationView> {
    const client = await this.clients.authenticateRegistration(clientId, req.headers.authorization);
    return this.clients.view(await this.clients.updateRegistration(client, body, contextOf(req)));
  }

  @Delete(':clientId')
  @HttpCode(204)
  async delete(@Param('clientId') clientId: string, @Req() req: Request): Promise<void> {
    await this.clients.authenticateRegistration(clientId, req.headers.authorization);
    await this.clients.delete(clientId, 'client.deleted', contextOf(req));
  }
}
