import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/http.js';
import { errorPage } from '../common/exception.filter.js';
import { ClientsService } from '../registration/clients.service.js';
import { ResourcesService } from '../resources/resources.service.js';
import { evaluate, type SignInPolicy } from '../resources/sign-in-policy.js';
import { CodeIssuer, expiredInteraction } from './code-issuer.js';
import { InteractionRepository } from './interaction.repository.js';
import { SignInChoices } from './sign-in-choices.js';
import type { SignedInIdentity } from './signed-in-identity.js';
import { refusedPage } from './views.js';

/** What the gate found: the person may go on, or is refused with this page (a SignInResult). */
export type GateDecision = { kind: 'admitted' } | { kind: 'refused'; result: { kind: 'refused'; status: number; html: string } };

/**
 * The resource server's sign-in policy, applied when a provider has vouched for a person signing in for an
 * authorization request. A refused person gets no user row: the interaction ends with access_denied (the page
 * links to the client's redirect URI with it) and a `login.refused` event records who tried.
 */
@Injectable()
export class SignInPolicyGate {
  constructor(
    private readonly interactions: InteractionRepository,
    private readonly resources: ResourcesService,
    private readonly clients: ClientsService,
    private readonly codeIssuer: CodeIssuer,
    private readonly choices: SignInChoices,
  ) {}

  async check(identity: SignedInIdentity, interactionId: string, request: RequestContext | undefined): Promise<GateDecision> {
    const interaction = await this.interactions.findById(interactionId);
    if (!interaction || interaction.completedAt || interaction.expiresAt.getTime() <= Date.now()) return expired();
    const resource = await this.resources.get(interaction.resourceId).catch(() => null);
    if (!resource) return expired();
    // The product's own login decides who signs in for `external` resources.
    if (resource.loginMethod === 'external') return { kind: 'admitted' };
    const decision = evaluate(resource.signIn, identity);
    if (decision.allowed) return { kind: 'admitted' };
    const account = identity.login ?? identity.email;
    const returnHref = await this.codeIssuer.refuseSignIn(interaction, resource, { provider: identity.provider, login: account, reason: decision.reason }, request);
    if (returnHref === null) return expired();
    const client = await this.clients.find(interaction.clientId);
    const html = refusedPage({
      resourceName: resource.name,
      logoUri: resource.logoUri,
      clientName: client?.metadata.client_name ?? 'the application',
      providerName: await this.choices.providerName(identity.provider),
      account,
      returnHref,
    });
    return { kind: 'refused', result: { kind: 'refused', status: 403, html } };
  }
}

/**
 * Whether a browser's session may stand in for signing in to an authorization request for a resource with this
 * policy: only when the policy admits everyone through every provider. Otherwise the person signs in for each
 * request, so that the policy is checked against what the provider says now.
 */
export function sessionSuffices(policy: SignInPolicy): boolean {
  return policy.providers === null && policy.allow === 'everyone';
}

function expired(): GateDecision {
  const error = expiredInteraction();
  return { kind: 'refused', result: { kind: 'refused', status: error.status, html: errorPage(error.title, error.detail) } };
}
