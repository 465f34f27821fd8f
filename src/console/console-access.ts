import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { contextOf } from '../common/http.js';
import { sendPage } from '../common/html.js';
import { BrowserError } from '../common/oauth-errors.js';
import { parseUrl } from '../common/urls.js';
import { BrowserSession } from '../authorization/browser-session.js';
import { SignInChoices } from '../authorization/sign-in-choices.js';
import type { OperatorRole } from './console-operator.entity.js';
import type { ConsoleUser } from './console.repository.js';
import type { SignedInOperator } from './console-layout.js';
import { consoleSignInPage } from './console-views.js';
import { OperatorsService } from './operators.service.js';

/**
 * Who may see and change the console: every console page and form goes through here. A page is for an operator of
 * either role; a change is a CSRF-checked form post from an `admin`. The session is the account page's.
 */
@Injectable()
export class ConsoleAccess {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly session: BrowserSession,
    private readonly operators: OperatorsService,
    private readonly choices: SignInChoices,
  ) {}

  /**
   * The operator a page is for; null after answering with the sign-in page (nobody signed in, or a user that no
   * longer exists). A signed-in person without a role gets a 403 page.
   */
  async viewer(req: Request, res: Response, notice: string | null = null): Promise<SignedInOperator | null> {
    const userId = this.session.userId(req);
    const csrfToken = this.session.sessionCsrfToken(req);
    const user = userId && csrfToken ? await this.operators.signedIn(userId, contextOf(req)) : null;
    if (!user || !csrfToken) {
      const signIn = consoleSignInPage({ serverName: this.serverName, providers: await this.choices.forConsole(), notice, devLogin: this.config.devLogin });
      sendPage(res, 200, signIn);
      return null;
    }
    return this.operator(user, requireRole(user), csrfToken);
  }

  /**
   * The operator behind a script's request (the audit page's EventSource), which has no use for a page: `refused` is
   * 401 when nobody is signed in, 403 when the person signed in has no role. The caller answers with that status.
   */
  async reader(req: Request): Promise<{ operator: SignedInOperator } | { refused: 401 | 403 }> {
    const userId = this.session.userId(req);
    const csrfToken = this.session.sessionCsrfToken(req);
    const user = userId && csrfToken ? await this.operators.signedIn(userId, contextOf(req)) : null;
    if (!user || !csrfToken) return { refused: 401 };
    if (user.role === null) return { refused: 403 };
    return { operator: this.operator(user, user.role, csrfToken) };
  }

  /** The admin behind a form post from a console page; 400/403 pages for a bad form, a missing CSRF token or a viewer. */
  async admin(req: Request): Promise<SignedInOperator> {
    const userId = this.session.formUser(req, 'the console');
    const user = await this.operators.signedIn(userId, contextOf(req));
    const csrfToken = this.session.sessionCsrfToken(req);
    if (!user || !csrfToken) throw new BrowserError(403, 'Request not accepted', 'You are no longer signed in. Open the console and try again.');
    if (requireRole(user) !== 'admin') {
      throw new BrowserError(403, 'Not allowed', 'Only a console admin can change this server. Your role lets you look, not change.');
    }
    return this.operator(user, 'admin', csrfToken);
  }

  private operator(user: ConsoleUser, role: OperatorRole, csrfToken: string): SignedInOperator {
    const name = user.displayName ?? user.identities.map((identity) => identity.login ?? identity.email).find(Boolean) ?? user.userId;
    return { userId: user.userId, name, role, csrfToken, serverName: this.serverName, devLogin: this.config.devLogin };
  }

  private get serverName(): string {
    return parseUrl(this.config.issuer)?.host ?? this.config.issuer;
  }
}

function requireRole(user: ConsoleUser): OperatorRole {
  if (user.role === null) {
    throw new BrowserError(403, 'Not an operator', 'You are signed in, but you have no role in this server’s console. Ask one of its administrators to grant you one.');
  }
  return user.role;
}
