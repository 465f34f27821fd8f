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
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { dpopHeader, DpopProofVerifier } from './dpop.js';
import { SendsDpopNonce } from './dpop-nonce.js';

/**
 * POST /token: parse the form → find the grant handler → check the DPoP proof, if any (RFC 9449: before anything
 * else is written) → authenticate the client → let the handler act.
 */
@PublicCors()
@Controller()
@RateLimit('token')
export class TokensController {
  private readonly handlers: Map<string, GrantHandler>;
  private readonly issuer: string;

  constructor(
    private readonly clientAuth: ClientAuthenticator,
    private readonly dpop: DpopProofVerifier,
    @Inject(GRANT_HANDLERS) handlers: GrantHandler[],
    @Inject(GATEHOUSE_CONFIG) config: Pick<GatehouseConfig, 'issuer'>,
  ) {
    this.handlers = new Map(handlers.map((handler) => [handler.grantType, handler]));
    this.issuer = config.issuer;
  }

  /** `/api/oauth/token` is the same endpoint under the path product backends already use. */
  @Post(['token', 'api/oauth/token'])
  @HttpCode(200)
  @NoStore()
  @SendsDpopNonce()
  @FastPath()
  async token(@OAuthBody('form') params: ParsedBody, @Req() req: HttpRequest): Promise<TokenResponse> {
    const grantType = requiredParam(params, 'grant_type', 200);
    const handler = this.handlers.get(grantType);
    if (!handler) throw new UnsupportedGrantType(`grant_type ${grantType} is not supported; use ${[...this.handlers.keys()].join(', ')}`);
    const proof = dpopHeader(req.headers.dpop);
    // htu: the URL the client called, under the issuer (either path of the endpoint), as for client assertions' aud.
    const dpop = proof === undefined ? undefined : await this.dpop.verify(proof, `${this.issuer}${(req.url ?? '').split('?')[0] ?? ''}`);
    const client = await this.clientAuth.authenticate(req, params);
    return handler.handle({ client, params, req, dpop });
  }
}
