import { Controller, Get, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
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
    this.session.formUser(req, 'your account page');
    this.session.signOut(res);
    sendRedirect(res, 303, '/account?status=signed-out');
  }

  @Post('grants/:id/revoke')
  async revoke(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const userId = this.session.formUser(req, 'your account page');
    const outcome = await this.account.revoke(userId, id, contextOf(req));
    sendRedirect(res, 303, `/account?status=${outcome}`);
  }
}
