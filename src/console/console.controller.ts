import { Controller, Get, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { sendPage } from '../common/html.js';
import { contextOf, sendRedirect } from '../common/http.js';
import { BrowserError } from '../common/oauth-errors.js';
import { BrowserSession } from '../authorization/browser-session.js';
import { AccountGithubStartGuard } from '../account/account-sign-in.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { CONSOLE_NOTICES, type ConsoleNotice } from './console-views.js';
import { ConsoleService } from './console.service.js';

/**
 * The operator console. Its sign-in and session are the account page's (the same session cookie and the CSRF token
 * bound to it); every change is a CSRF-protected form post answered 303 back to the page.
 */
@Controller('console')
@RateLimit('authorize')
export class ConsoleController {
  constructor(
    private readonly console: ConsoleService,
    private readonly session: BrowserSession,
  ) {}

  @Get()
  async show(@Req() req: Request, @Res() res: Response): Promise<void> {
    const status = req.query.status;
    const notice = typeof status === 'string' && Object.hasOwn(CONSOLE_NOTICES, status) ? (status as ConsoleNotice) : null;
    sendPage(res, 200, await this.console.page(this.session.userId(req), this.session.sessionCsrfToken(req), notice, contextOf(req)));
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
    await this.console.rotateKeys(this.session.formUser(req, 'the console'), contextOf(req));
    sendRedirect(res, 303, '/console?status=rotated');
  }
}
