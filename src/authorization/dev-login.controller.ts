import { Controller, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isContentType } from '../common/body-parser.js';
import { BrowserError } from '../common/oauth-errors.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { finishSignIn } from './authorization.controller.js';
import { BrowserSession } from './browser-session.js';
import { DevLogin } from './dev-login.js';

/** Development sign-in's form (see DevLogin); answered like any provider's callback. */
@Controller()
@RateLimit('authorize')
export class DevLoginController {
  constructor(
    private readonly devLogin: DevLogin,
    private readonly session: BrowserSession,
  ) {}

  @Post('interaction/:id/login/dev')
  async signIn(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (!isContentType(req, 'application/x-www-form-urlencoded') || !req.body) {
      throw new BrowserError(400, 'Request not accepted', 'The sign-in form must be submitted as a form.');
    }
    finishSignIn(this.session, res, await this.devLogin.signIn(id, req, req.body as Record<string, unknown>), 303);
  }
}
