import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import type { RequestContext } from '../common/http.js';
import { KeyService, type SigningKeySummary } from '../keys/key.service.js';
import { ResourcesService } from '../resources/resources.service.js';
import { openToEveryone } from '../resources/sign-in-policy-warnings.js';
import type { SignedInOperator } from './console-layout.js';
import { ConsoleRepository, type ConsoleCounts } from './console.repository.js';
import type { OverviewView } from './console-views.js';
import { activityView, activityWindow, type ActivityRange } from './console-activity.js';

/** An active key older than this is due for rotation (the overview warns). */
export const KEY_ROTATION_DUE_DAYS = 90;

/** Facts the overview's warnings are drawn from. */
export interface WarningFacts {
  githubConfigured: boolean;
  counts: Pick<ConsoleCounts, 'identityProviders'>;
  openResourceNames: string[];
  devLogin: boolean;
  keys: SigningKeySummary[];
  /** KEY_ROTATION_DAYS in milliseconds; 0: rotation is by hand. */
  keyRotationMs: number;
  now: Date;
}

/** What the console's overview and keys pages show, and the changes they make. */
@Injectable()
export class ConsoleService {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly repository: ConsoleRepository,
    private readonly signingKeys: KeyService,
    private readonly resources: ResourcesService,
  ) {}

  /** The overview's counts, warnings and charts of `range`: its reads run side by side. */
  async overview(range: ActivityRange, now = new Date()): Promise<OverviewView> {
    const window = activityWindow(range, now);
    const [counts, keys, resources, activity] = await Promise.all([
      this.repository.counts(),
      this.signingKeys.list(),
      this.resources.list(),
      this.repository.activity(window),
    ]);
    const warnings = overviewWarnings({
      githubConfigured: this.config.github !== null,
      counts,
      openResourceNames: openToEveryone(resources).map((resource) => resource.name),
      devLogin: this.config.devLogin,
      keys,
      keyRotationMs: this.config.keyRotationMs,
      now,
    });
    return { counts, warnings, activity: activityView(window, activity) };
  }

  listKeys(): Promise<SigningKeySummary[]> {
    return this.signingKeys.list();
  }

  /** Rotates the signing keys, recorded with the operator as the actor (ConsoleAccess.admin made sure they may). */
  async rotateKeys(operator: SignedInOperator, request: RequestContext | undefined): Promise<void> {
    await this.signingKeys.rotate(request, { kind: 'user', id: operator.userId });
  }
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
  const age = since ? facts.now.getTime() - since.getTime() : 0;
  if (facts.keyRotationMs > 0) {
    // The job looks every quarter of an hour: an hour past due means it is failing.
    if (age > facts.keyRotationMs + 3_600_000) {
      warnings.push(`The active signing key has signed for longer than KEY_ROTATION_DAYS (${facts.keyRotationMs / 86_400_000}) allows: scheduled rotation is failing (see the logs); rotate the keys.`);
    }
  } else if (age > KEY_ROTATION_DUE_DAYS * 86_400_000) {
    warnings.push(`The active signing key has signed for more than ${KEY_ROTATION_DUE_DAYS} days: rotate the keys.`);
  }
  return warnings;
}
