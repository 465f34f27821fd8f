import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { IdentityProvidersService } from '../identity-providers/identity-providers.service.js';
import { interactionPath } from './browser-session.js';
import type { SignInChoice } from './views.js';
import { DEV_PROVIDER, DEV_PROVIDER_NAME } from './signed-in-identity.js';

/**
 * The providers a sign-in page offers: GitHub when configured, then the OpenID Connect providers by display name,
 * then development sign-in while DEV_LOGIN is on (authorization requests only: its form needs the interaction's CSRF
 * token, which the account page's sign-in does not have).
 */
@Injectable()
export class SignInChoices {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly providers: IdentityProvidersService,
  ) {}

  /** For an authorization request's sign-in page: each starts at `/interaction/<id>/login/…`. */
  async forInteraction(interactionId: string): Promise<SignInChoice[]> {
    const prefix = `${interactionPath(interactionId)}/login`;
    const choices = await this.startingAt(prefix);
    if (this.config.devLogin) choices.push({ id: DEV_PROVIDER, name: DEV_PROVIDER_NAME, href: `${prefix}/dev`, nameForm: true });
    return choices;
  }

  /** For the account page's sign-in: each starts at `/account/login/…`. */
  forAccount(): Promise<SignInChoice[]> {
    return this.startingAt('/account/login');
  }

  /** For the operator console's sign-in: each starts at `/console/login/…` and returns to the console. */
  forConsole(): Promise<SignInChoice[]> {
    return this.startingAt('/console/login');
  }

  /** How pages name a provider (`github`, `oidc:<id>`): GitHub, or the OpenID Connect provider's display name. */
  async providerName(provider: string): Promise<string> {
    if (provider === 'github') return 'GitHub';
    if (provider === DEV_PROVIDER) return DEV_PROVIDER_NAME;
    const configured = provider.startsWith('oidc:') ? await this.providers.find(provider.slice('oidc:'.length)) : null;
    return configured?.displayName ?? provider;
  }

  private async startingAt(prefix: string): Promise<SignInChoice[]> {
    const choices: SignInChoice[] = this.config.github ? [{ id: 'github', name: 'GitHub', href: `${prefix}/github` }] : [];
    for (const provider of await this.providers.list()) {
      choices.push({ id: `oidc:${provider.id}`, name: provider.displayName, href: `${prefix}/oidc/${provider.id}` });
    }
    return choices;
  }
}
