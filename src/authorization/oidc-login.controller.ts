import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { sendRedirect, type HttpRequest } from '../common/http.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { AuthorizationService } from './authorization.service.js';
import { BrowserSession } from './browser-session.js';
import { finishSignIn } from './authorization.controller.js';
import { OidcLogin } from './oidc-login.js';

/** Sign-in through the OpenID Connect providers configured with the admin API (see OidcLogin). */
@Controller()
@RateLimit('authorize')
export class OidcLoginController {
  constructor(
    private readonly oidcLogin: OidcLogin,
    private readonly authorization: AuthorizationService,
    private readonly session: BrowserSession,
  ) {}

  /** For an authorization request this browser started. */
  @Get('interaction/:id/login/oidc/:provider')
  async startForInteraction(@Param('id') id: string, @Param('provider') provider: string, @Req() req: HttpRequest, @Res() res: ServerResponse): Promise<void> {
    const interaction = await this.authorization.loadBound(id, req);
    await this.authorization.resourceForSignIn(interaction, `oidc:${provider}`, await this.oidcLogin.displayName(provider));
    sendRedirect(res, 302, await this.oidcLogin.start(provider, { interactionId: interaction.id }, res));
  }

  /** For the person's own account page. */
  @Get('account/login/oidc/:provider')
  async startForAccount(@Param('provider') provider: string, @Res() res: ServerResponse): Promise<void> {
    sendRedirect(res, 302, await this.oidcLogin.start(provider, { account: true }, res));
  }

  /** For the operator console. */
  @Get('console/login/oidc/:provider')
  async startForConsole(@Param('provider') provider: string, @Res() res: ServerResponse): Promise<void> {
    sendRedirect(res, 302, await this.oidcLogin.start(provider, { console: true }, res));
  }

  @Get('login/oidc/:provider/callback')
  async callback(@Param('provider') provider: string, @Req() req: HttpRequest, @Res() res: ServerResponse): Promise<void> {
    finishSignIn(this.session, res, await this.oidcLogin.callback(provider, req, res));
  }
}
