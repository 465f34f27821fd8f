import { Controller, Get, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { contextOf, sendRedirect } from '../common/http.js';
import { BrowserError } from '../common/oauth-errors.js';
import { BrowserSession } from '../authorization/browser-session.js';
import { AccountGithubStartGuard } from '../account/account-sign-in.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { ConsoleAccess } from './console-access.js';
import { noticeOf, sendConsolePage } from './console-layout.js';
import { KEYS_NOTICES, keysPage, overviewPage, SIGN_IN_NOTICES } from './console-views.js';
import { ConsoleService } from './console.service.js';
import { activityRange } from './console-activity.js';

/**
 * The operator console's overview, keys, sign-in and sign-out. Its session is the account page's (the same session
 * cookie and the CSRF token bound to it); every change is a CSRF-protected form post answered 303 back to its page.
 */
@Controller('console')
@RateLimit('authorize')
export class ConsoleController {
  constructor(
    private readonly console: ConsoleService,
    private readonly access: ConsoleAccess,
    private readonly session: BrowserSession,
  ) {}

  @Get()
  async overview(@Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.viewer(req, res, noticeOf(req, SIGN_IN_NOTICES));
    if (!operator) return;
    sendConsolePage(res, 200, overviewPage(operator, await this.console.overview(activityRange(req.query.range))));
  }

  @Get('keys')
  async keys(@Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.viewer(req, res);
    if (!operator) return;
    sendConsolePage(res, 200, keysPage(operator, await this.console.listKeys(), new Date(), noticeOf(req, KEYS_NOTICES)));
  }

  /** Passport redirects to GitHub from inside the guard (the state says the sign-in is for the console). */
  @Get('login/github')
  @UseGuards(AccountGithubStartGuard)
  startGithub(): void {
    throw new BrowserError(500, 'Sign-in could not start', 'GitHub sign-in did not redirect.');
  }

  @Post('sign-out')
  signOut(@Req() req: Request, @Res() res: Response): void {
    this.session.formUser(req, 'the console');
    this.session.signOut(res);
    sendRedirect(res, 303, '/console?status=signed-out');
  }

  @Post('keys/rotate')
  async rotateKeys(@Req() req: Request, @Res() res: Response): Promise<void> {
    const operator = await this.access.admin(req);
    await this.console.rotateKeys(operator, contextOf(req));
    sendRedirect(res, 303, '/console/keys?status=rotated');
  }
}
