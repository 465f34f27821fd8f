import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import type { RequestContext } from '../common/http.js';
import { BrowserError } from '../common/oauth-errors.js';
import { parseUrl } from '../common/urls.js';
import { SignInChoices } from '../authorization/sign-in-choices.js';
import { KeyService, type SigningKeySummary } from '../keys/key.service.js';
import { ResourcesService } from '../resources/resources.service.js';
import { openToEveryone } from '../resources/sign-in-policy-warnings.js';
import { ConsoleRepository, type ConsoleCounts, type ConsoleUser } from './console.repository.js';
import { consolePage, consoleSignInPage, type ConsoleNotice } from './console-views.js';
import { OperatorsService } from './operators.service.js';

/** An active key older than this is due for rotation (the overview warns). */
export const KEY_ROTATION_DUE_DAYS = 90;

/** Facts the overview's warnings are drawn from. */
export interface WarningFacts {
  githubConfigured: boolean;
  counts: Pick<ConsoleCounts, 'identityProviders'>;
  openResourceNames: string[];
  devLogin: boolean;
  keys: SigningKeySummary[];
  now: Date;
}

/** The console's overview for a signed-in person, and what an operator may do there. */
@Injectable()
export class ConsoleService {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly operators: OperatorsService,
    private readonly repository: ConsoleRepository,
    private readonly keys: KeyService,
    private readonly resources: ResourcesService,
    private readonly choices: SignInChoices,
  ) {}

  /** The overview; the sign-in page for nobody (or a user that no longer exists); a 403 page for a non-operator. */
  async page(userId: string | null, csrfToken: string | null, notice: ConsoleNotice | null, request: RequestContext | undefined): Promise<string> {
    const user = userId && csrfToken ? await this.operators.signedIn(userId, request) : null;
    if (!user || !csrfToken) {
      return consoleSignInPage({ serverName: this.serverName, providers: await this.choices.forConsole(), notice, devLogin: this.config.devLogin });
    }
    const role = requireOperator(user);
    const [counts, keys, resources] = await Promise.all([this.repository.counts(), this.keys.list(), this.resources.list()]);
    const now = new Date();
    return consolePage({
      serverName: this.serverName,
      operatorName: user.displayName ?? user.identities.map((identity) => identity.login ?? identity.email).find(Boolean) ?? user.userId,
      role,
      csrfToken,
      notice,
      counts,
      warnings: overviewWarnings({
        githubConfigured: this.config.github !== null,
        counts,
        openResourceNames: openToEveryone(resources).map((resource) => resource.name),
        devLogin: this.config.devLogin,
        keys,
        now,
      }),
      keys,
      now,
      devLogin: this.config.devLogin,
    });
  }

  /** Rotates the signing keys for an admin, recorded with the operator as the actor; 403 for anyone else. */
  async rotateKeys(userId: string, request: RequestContext | undefined): Promise<void> {
    const user = await this.operators.signedIn(userId, request);
    if (!user || requireOperator(user) !== 'admin') throw viewerRefused();
    await this.keys.rotate(request, { kind: 'user', id: userId });
  }

  private get serverName(): string {
    return parseUrl(this.config.issuer)?.host ?? this.config.issuer;
  }
}

function requireOperator(user: ConsoleUser): 'admin' | 'viewer' {
  if (user.role === null) {
    throw new BrowserError(403, 'Not an operator', 'You are signed in, but you have no role in this server’s console. Ask one of its administrators to grant you one.');
  }
  return user.role;
}

function viewerRefused(): BrowserError {
  return new BrowserError(403, 'Not allowed', 'Only a console admin can change this server. Your role lets you look, not change.');
}

/** Each a sentence saying what is wrong and what to do about it. */
export function overviewWarnings(facts: WarningFacts): string[] {
  const warnings: string[] = [];
  if (!facts.githubConfigured && facts.counts.identityProviders === 0) {
    warnings.push('No identity provider is configured: set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET, or add an OpenID Connect provider, so that people can sign in.');
  }
  for (const name of facts.openResourceNames) {
    warnings.push(`The sign-in policy of ${name} admits everyone an identity provider vouches for: set its sign-in policy.`);
  }
  if (facts.devLogin) warnings.push('Development sign-in is on (DEV_LOGIN): anyone who reaches this server can sign in as anyone.');
  const active = facts.keys.find((key) => key.state === 'active');
  const since = active?.activatedAt ?? active?.createdAt;
  if (since && facts.now.getTime() - since.getTime() > KEY_ROTATION_DUE_DAYS * 86_400_000) {
    warnings.push(`The active signing key has signed for more than ${KEY_ROTATION_DUE_DAYS} days: rotate the keys.`);
  }
  return warnings;
}
