import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { GithubLogin } from '../authorization/github-login.js';

/**
 * Starts GitHub sign-in for the account page or the operator console. The route has no interaction id, so the state
 * GitHub carries back says the sign-in is for the account or, under /console, the console (see CookieStateStore), and
 * the callback returns there.
 */
@Injectable()
export class AccountGithubStartGuard implements CanActivate {
  constructor(private readonly github: GithubLogin) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    return (await this.github.startGuardFor().canActivate(context)) as boolean;
  }
}
