import { Controller, Get, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isContentType } from '../common/body-parser.js';
import { sendPage } from '../common/html.js';
import { contextOf, sendRedirect } from '../common/http.js';
import { BrowserError } from '../common/oauth-errors.js';
import { BrowserSession } from '../authorization/browser-session.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { AccountGithubStartGuard } from './account-sign-in.js';
import { AccountService } from './account.service.js';
import { ACCOUNT_NOTICES, type AccountNotice } from './account-views.js';

/** The person's own account page and its two actions, each a CSRF-protected form post answered 303 back to it. */
@Controller('account')
@RateLimit('authorize')
export class AccountController {
  constructor(
    private readonly account: AccountService,
    private readonly session: BrowserSession,
  ) {}

  @Get()
  async show(@Req() req: Request, @Res() res: Response): Promise<void> {
    const status = req.query.status;
    const notice = typeof status === 'string' && Object.hasOwn(ACCOUNT_NOTICES, status) ? (status as AccountNotice) : null;
    sendPage(res, 200, await this.account.page(this.session.userId(req), this.session.sessionCsrfToken(req), notice));
  }

  /** Passport redirects to GitHub from inside the guard; this handler only runs if it did not. */
  @Get('login/github')
  @UseGuards(AccountGithubStartGuard)
  startGithub(): void {
    throw new BrowserError(500, 'Sign-in could not start', 'GitHub sign-in did not redirect.');
  }

  @Post('sign-out')
  signOut(@Req() req: Request, @Res() res: Response): void {
    this.checkForm(req);
    this.session.signOut(res);
    sendRedirect(res, 303, '/account?status=signed-out');
  }

  @Post('grants/:id/revoke')
  async revoke(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const userId = this.checkForm(req);
    const outcome = await this.account.revoke(userId, id, contextOf(req));
    sendRedirect(res, 303, `/account?status=${outcome}`);
  }

  /** A form post from this browser's own account page: the signed-in user, or a 400 or 403 page. */
  private checkForm(req: Request): string {
    if (!isContentType(req, 'application/x-www-form-urlencoded') || !req.body) {
      throw new BrowserError(400, 'Request not accepted', 'This form must be submitted as a form.');
    }
    const userId = this.session.userId(req);
    if (!userId || !this.session.sessionCsrfValid(req, (req.body as Record<string, unknown>).csrf_token)) {
      throw new BrowserError(403, 'Request not accepted', 'This request did not come from your account page, or you are no longer signed in. Open your account page and try again.');
    }
    return userId;
  }
}
