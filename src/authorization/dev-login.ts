import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { contextOf, type HttpRequest } from '../common/http.js';
import { BrowserError } from '../common/oauth-errors.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { AuthorizationService } from './authorization.service.js';
import { BrowserSession } from './browser-session.js';
import { SignInService, type SignInResult } from './sign-in.service.js';
import { DEV_PROVIDER, DEV_PROVIDER_NAME } from './signed-in-identity.js';

/** The names development sign-in accepts: short, and harmless wherever a login is shown or logged. */
export const DEV_LOGIN_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Development sign-in (DEV_LOGIN, loopback issuers only): the person types a name and is signed in as the identity
 * `dev:<name>`, so that a whole flow can be tried without an account anywhere. Everything after the name is what
 * any provider's sign-in does (SignInService): the resource's sign-in policy, the user row, the audit events.
 */
@Injectable()
export class DevLogin implements OnApplicationBootstrap {
  private readonly logger = new Logger('DevLogin');

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly authorization: AuthorizationService,
    private readonly session: BrowserSession,
    private readonly signInService: SignInService,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.devLogin) return;
    this.logger.warn({
      msg: 'DEVELOPMENT SIGN-IN IS ON: anyone who can reach this server can sign in as anyone (DEV_LOGIN=true)',
      issuer: this.config.issuer,
      host: this.config.host,
      hint: 'for trying Gatehouse on this computer only; unset DEV_LOGIN before anyone else uses this server',
    });
  }

  /** POST /interaction/:id/login/dev: this browser's own sign-in page (CSRF token), a valid name, the policy. */
  async signIn(interactionId: string, req: HttpRequest, form: Record<string, unknown>): Promise<SignInResult> {
    if (!this.config.devLogin) {
      throw new BrowserError(404, 'Development sign-in is off', 'This server does not offer development sign-in. Go back and choose another way to sign in.');
    }
    const interaction = await this.authorization.loadBound(interactionId, req);
    // Like a hand-made link to another provider's start: refused before anything else when the policy excludes dev.
    await this.authorization.resourceForSignIn(interaction, DEV_PROVIDER, DEV_PROVIDER_NAME);
    if (!this.session.csrfValid(interaction.id, this.session.interactionSecret(req)!, form.csrf_token)) {
      throw new BrowserError(403, 'Request not accepted', 'The sign-in form was not submitted from this server’s sign-in page (missing or invalid CSRF token).');
    }
    const name = form.name;
    if (typeof name !== 'string' || !DEV_LOGIN_NAME.test(name)) {
      throw new BrowserError(400, 'Name not accepted', 'Type a name of 1 to 64 letters, digits, hyphens, underscores or dots. Go back and try again.');
    }
    return this.signInService.complete(
      { provider: DEV_PROVIDER, subject: name, login: name, name: null, email: null, emailVerified: false, groups: [], organizations: null },
      { interactionId: interaction.id },
      contextOf(req),
    );
  }
}
