import { Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import { AdminApi } from '../admin/admin.guard.js';
import { OAuthBody } from '../common/oauth-body.decorator.js';
import type { ParsedBody } from '../common/body-parser.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import type { RequestContext } from '../common/http.js';
import { InRequest } from '../common/request-context.middleware.js';
import { ClientCredentialsService, type ClientCredentialsGrantView } from './client-credentials.service.js';

/** Which resource servers a confidential client may get tokens for without a user (the client credentials grant). */
@Controller('admin/clients/:clientId/client-credentials')
@RateLimit('admin')
@AdminApi()
export class AdminClientCredentialsController {
  constructor(private readonly clientCredentials: ClientCredentialsService) {}

  @Get()
  list(@Param('clientId') clientId: string): Promise<ClientCredentialsGrantView[]> {
    return this.clientCredentials.list(clientId);
  }

  /** `{ "scopes": [...] }`: allows the grant for the resource server, or replaces its scopes. */
  @Put(':resourceId')
  put(
    @Param('clientId') clientId: string,
    @Param('resourceId') resourceId: string,
    @OAuthBody('json') body: ParsedBody,
    @InRequest() request?: RequestContext,
  ): Promise<ClientCredentialsGrantView> {
    return this.clientCredentials.allow(clientId, resourceId, body, request);
  }

  @Delete(':resourceId')
  @HttpCode(204)
  async delete(@Param('clientId') clientId: string, @Param('resourceId') resourceId: string, @InRequest() request?: RequestContext): Promise<void> {
    await this.clientCredentials.remove(clientId, resourceId, request);
  }
}
