import { Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { NoStore, OAuthBody, requiredParam } from '../common/oauth-body.decorator.js';
import type { HttpRequest } from '../common/http.js';
import { UnsupportedGrantType } from '../common/oauth-errors.js';
import type { ParsedBody } from '../common/body-parser.js';
import { ClientAuthenticator } from '../registration/client-authenticator.js';
import { GRANT_HANDLERS, type GrantHandler, type TokenResponse } from './grants/grant-handler.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { PublicCors } from '../common/cors.middleware.js';
import { FastPath } from '../common/fast-path.decorator.js';

/** POST /token: parse the form → find the grant handler → authenticate the client → let the handler act. */
@PublicCors()
@Controller()
@RateLimit('token')
export class TokensController {
  private readonly handlers: Map<string, GrantHandler>;

  constructor(
    private readonly clientAuth: ClientAuthenticator,
    @Inject(GRANT_HANDLERS) handlers: GrantHandler[],
  ) {
    this.handlers = new Map(handlers.map((handler) => [handler.grantType, handler]));
  }

  /** `/api/oauth/token` is the same endpoint under the path product backends already use. */
  @Post(['token', 'api/oauth/token'])
  @HttpCode(200)
  @NoStore()
  @FastPath()
  async token(@OAuthBody('form') params: ParsedBody, @Req() req: HttpRequest): Promise<TokenResponse> {
    const grantType = requiredParam(params, 'grant_type', 200);
    const handler = this.handlers.get(grantType);
    if (!handler) throw new UnsupportedGrantType(`grant_type ${grantType} is not supported; use ${[...this.handlers.keys()].join(', ')}`);
    const client = await this.clientAuth.authenticate(req, params);
    return handler.handle({ client, params, req });
  }
}
