import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/http.js';
import { Database } from '../database/database.module.js';
import { AuditLog } from '../audit/audit-log.js';
import { UserRepository } from './user.repository.js';
import type { SignedInIdentity } from './signed-in-identity.js';
import { interactionPath } from './browser-session.js';
import { InteractionRepository } from './interaction.repository.js';
import { SignInPolicyGate } from './sign-in-policy-gate.js';
import { accountDisabledPage } from './views.js';

/** What a sign-in is for: an authorization request (its interaction), the person's own account page, or the operator console. */
export type SignInPurpose = { interactionId: string } | { account: true } | { console: true };

/** Signed in (the browser's session is then this user's, and it goes on to `returnTo`), or refused with a page. */
export type SignInResult = { kind: 'signed-in'; userId: string; provider: string; returnTo: string } | { kind: 'refused'; status: number; html: string };

/** The purpose a sign-in's state carries, as it was stored; null when it is not one. */
export function parsePurpose(value: unknown): SignInPurpose | null {
  if (typeof value !== 'object' || value === null) return null;
  if ('interactionId' in value && typeof value.interactionId === 'string') return { interactionId: value.interactionId };
  if ('account' in value && value.account === true) return { account: true };
  if ('console' in value && value.console === true) return { console: true };
  return null;
}

/** Where the browser goes once signed in: back to what it was doing. */
function returnPath(purpose: SignInPurpose): string {
  if ('interactionId' in purpose) return interactionPath(purpose.interactionId);
  return 'console' in purpose ? '/console' : '/account';
}

/**
 * What every upstream provider's callback does once the provider has vouched for a person: the identity is found or
 * created (its profile replaced by what the provider said now) and the sign-in recorded. One place, so that every
 * provider gets the same rules.
 */
@Injectable()
export class SignInService {
  constructor(
    private readonly database: Database,
    private readonly users: UserRepository,
    private readonly audit: AuditLog,
    private readonly policyGate: SignInPolicyGate,
    private readonly interactions: InteractionRepository,
  ) {}

  async complete(identity: SignedInIdentity, purpose: SignInPurpose, request: RequestContext | undefined): Promise<SignInResult> {
    // The resource's sign-in policy, before anything is stored: a refused person leaves no user behind.
    if ('interactionId' in purpose) {
      const gate = await this.policyGate.check(identity, purpose.interactionId, request);
      if (gate.kind === 'refused') return gate.result;
    }
    const { userId, disabled } = await this.database.transaction(async (tx) => {
      const result = await this.users.findOrCreateByIdentity(tx, {
        provider: identity.provider,
        subject: identity.subject,
        login: identity.login,
        displayName: identity.name ?? identity.login,
        profile: { name: identity.name, email: identity.email, emailVerified: identity.emailVerified, groups: identity.groups },
      });
      if (await this.users.isDisabled(result.userId, tx)) {
        await this.audit.record(tx, { type: 'login.failed', subject: result.userId, request, data: { provider: identity.provider, reason: 'user_disabled' } });
        return { userId: result.userId, disabled: true };
      }
      await this.audit.record(tx, { type: 'login.succeeded', subject: result.userId, request, data: { provider: identity.provider, created: result.created } });
      // The interaction remembers who signed in for it after its policy was checked (see sessionSuffices).
      if ('interactionId' in purpose) await this.interactions.setUser(purpose.interactionId, result.userId, tx);
      return { userId: result.userId, disabled: false };
    });
    if (disabled) return { kind: 'refused', status: 403, html: accountDisabledPage() };
    return { kind: 'signed-in', userId, provider: identity.provider, returnTo: returnPath(purpose) };
  }
}
