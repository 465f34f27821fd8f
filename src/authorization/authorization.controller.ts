import { Controller, Get, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { sendPage } from '../common/html.js';
import { contextOf, sendRedirect, type HttpRequest } from '../common/http.js';
import { BrowserError } from '../common/oauth-errors.js';
import { isContentType } from '../common/body-parser.js';
import { AuthorizationService, type BrowserStep } from './authorization.service.js';
import { BrowserSession } from './browser-session.js';
import { GithubCallbackGuard, GithubStartGuard } from './github-login.js';
import type { SignInResult } from './sign-in.service.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { FastPath } from '../common/fast-path.decorator.js';

@Controller()
@RateLimit('authorize')
export class AuthorizationController {
  constructor(
    private readonly authorization: AuthorizationService,
    private readonly session: BrowserSession,
  ) {}

  @Get('authorize')
  @FastPath()
  async authorize(@Req() req: HttpRequest & { query: Record<string, unknown> }, @Res() res: ServerResponse): Promise<void> {
    const { step, binding } = await this.authorization.authorize(req.query, contextOf(req));
    if (binding) this.session.bindInteraction(res, binding.id, binding.secret);
    send(res, step);
  }

  @Get('interaction/:id')
  @FastPath()
  async interaction(@Param('id') id: string, @Req() req: HttpRequest, @Res() res: ServerResponse): Promise<void> {
    send(res, await this.authorization.resume(id, req));
  }

  @Get('interaction/:id/login/return')
  @FastPath()
  async loginReturn(@Param('id') id: string, @Req() req: HttpRequest & { query: Record<string, unknown> }, @Res() res: ServerResponse): Promise<void> {
    send(res, await this.authorization.returnFromLogin(id, req, req.query.ticket));
  }

  /** Passport redirects to GitHub from inside the guard; this handler only runs if it did not. */
  @Get('interaction/:id/login/github')
  @UseGuards(GithubStartGuard)
  startGithub(): void {
    throw new BrowserError(500, 'Sign-in could not start', 'GitHub sign-in did not redirect.');
  }

  @Post('interaction/:id/consent')
  async consent(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (!isContentType(req, 'application/x-www-form-urlencoded') || !req.body) {
      throw new BrowserError(400, 'Request not accepted', 'The consent form must be submitted as a form.');
    }
    const step = await this.authorization.decide(id, req, req.body as Record<string, unknown>);
    if (step.kind === 'redirect') this.session.releaseInteraction(res, id);
    send(res, step, 303);
  }

  @Post('interaction/:id/sign-out')
  async signOut(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (!isContentType(req, 'application/x-www-form-urlencoded') || !req.body) {
      throw new BrowserError(400, 'Request not accepted', 'The sign-out form must be submitted as a form.');
    }
    const step = await this.authorization.signOut(id, req, req.body as Record<string, unknown>);
    this.session.signOut(res);
    send(res, step, 303);
  }

  @Get('login/github/callback')
  @UseGuards(GithubCallbackGuard)
  githubCallback(@Req() req: Request, @Res() res: Response): void {
    finishSignIn(this.session, res, req.user as SignInResult);
  }
}

/**
 * After any provider's callback: the session is the signed-in user's and the browser goes on, or a refusal page.
 * A form post goes on with 303, so that the browser follows with a GET.
 */
export function finishSignIn(session: BrowserSession, res: ServerResponse, result: SignInResult, redirectStatus: 302 | 303 = 302): void {
  if (result.kind === 'refused') {
    sendPage(res, result.status, result.html);
    return;
  }
  session.signIn(res, result.userId, result.provider);
  sendRedirect(res, redirectStatus, result.returnTo);
}

function send(res: ServerResponse, step: BrowserStep, redirectStatus: 302 | 303 = 302): void {
  if (step.kind === 'redirect') sendRedirect(res, redirectStatus, step.location);
  else sendPage(res, step.status, step.html);
}
