import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import { NoStore, OAuthBody, requiredParam, stringParam } from '../common/oauth-body.decorator.js';
import { contextOf, type HttpRequest } from '../common/http.js';
import type { ParsedBody } from '../common/body-parser.js';
import { CallerAuthenticator } from './caller-authenticator.js';
import { TokenInspector, type IntrospectionResponse } from './token-inspector.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { PublicCors } from '../common/cors.middleware.js';
import { FastPath } from '../common/fast-path.decorator.js';

const MAX_TOKEN = 4096;

@Controller()
@RateLimit('introspect')
@NoStore()
export class IntrospectionController {
  constructor(
    private readonly callers: CallerAuthenticator,
    private readonly inspector: TokenInspector,
  ) {}

  /** RFC 7662. Confidential clients and resource servers only: a public client cannot prove who is asking. */
  @Post('introspect')
  @HttpCode(200)
  @FastPath()
  async introspect(@OAuthBody('formOrJson') params: ParsedBody, @Req() req: HttpRequest): Promise<IntrospectionResponse> {
    const token = requiredParam(params, 'token', MAX_TOKEN);
    stringParam(params, 'token_type_hint', 100);
    const caller = await this.callers.authenticate(req, params, { publicClients: false });
    return this.inspector.introspect(caller, token, contextOf(req));
  }

  /**
   * RFC 7009: 200 for every well-formed, authenticated request, whether or not the token was known, live or
   * the caller's. `/api/oauth/revoke` is the same endpoint under the path product backends already use.
   */
  @Post(['revoke', 'api/oauth/revoke'])
  @HttpCode(200)
  @PublicCors()
  async revoke(@OAuthBody('formOrJson') params: ParsedBody, @Req() req: HttpRequest): Promise<void> {
    const token = requiredParam(params, 'token', MAX_TOKEN);
    stringParam(params, 'token_type_hint', 100);
    const caller = await this.callers.authenticate(req, params, { publicClients: true });
    await this.inspector.revoke(caller, token, contextOf(req));
  }
}
