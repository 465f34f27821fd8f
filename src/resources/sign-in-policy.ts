/**
 * Who may sign in to a resource server through Gatehouse's sign-in page: which providers, and which people. A person
 * passes when their provider is allowed and ANY rule matches; `allow: {}` (the default for a new resource server)
 * admits nobody, `allow: 'everyone'` admits anyone the provider vouches for. Development sign-in (`dev`, DEV_LOGIN)
 * vouches for nothing, so no rule matches its names: only `allow: 'everyone'` admits them, and a `providers` list
 * must name `dev` to let them in. Pure: the resources module validates policies with it, the sign-in service
 * evaluates them.
 */

export interface SignInRules {
  /** GitHub logins, case-insensitive. */
  github_users?: string[];
  /** GitHub organisation logins, case-insensitive (GitHub is asked for `read:org`). */
  github_organizations?: string[];
  /** GitHub teams as `org/team-slug`, case-insensitive (GitHub is asked for `read:org`). */
  github_teams?: string[];
  /** Domains of a verified email: `acme.com` exactly, `*.acme.com` any subdomain of it (not acme.com itself). */
  email_domains?: string[];
  /** Groups an OpenID Connect provider puts in its groups claim, exactly. */
  oidc_groups?: string[];
}

export interface SignInPolicy {
  /** `github`, `dev`, `oidc:<provider id>`; null: every configured provider. */
  providers: string[] | null;
  allow: 'everyone' | SignInRules;
}

/** Who is refused until an administrator sets a policy: everyone. */
export const DEFAULT_SIGN_IN_POLICY: SignInPolicy = { providers: null, allow: {} };
/** What resource servers that existed before policies got, so that upgrades lock nobody out. */
export const OPEN_SIGN_IN_POLICY: SignInPolicy = { providers: null, allow: 'everyone' };

/** What a policy decides on: what the provider vouched for (SignedInIdentity has this shape). */
export interface PolicySubject {
  provider: string;
  login: string | null;
  email: string | null;
  emailVerified: boolean;
  groups: string[];
  organizations: string[] | null;
}

export type RefusalReason = 'provider_not_allowed' | 'no_rules' | 'no_rule_matched';
export type PolicyDecision = { allowed: true } | { allowed: false; reason: RefusalReason };

export class InvalidSignInPolicy extends Error {}

const RULE_KINDS = ['github_users', 'github_organizations', 'github_teams', 'email_domains', 'oidc_groups'] as const;
type RuleKind = (typeof RULE_KINDS)[number];

const GITHUB_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38})$/i;
const GITHUB_TEAM = /^[a-z0-9](?:[a-z0-9-]{0,38})\/[a-z0-9_](?:[a-z0-9_.-]{0,99})$/i;
const DOMAIN = /^(?:\*\.)?(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/i;
const PROVIDER = /^(?:github|dev|oidc:[A-Za-z0-9._-]{1,100})$/;
const MAX_ENTRIES = 1000;

/** What each rule kind accepts, and how entries are stored (GitHub names and domains are compared lower-cased). */
const ENTRY: Record<RuleKind, { valid: (entry: string) => boolean; normal: (entry: string) => string; means: string }> = {
  github_users: { valid: (e) => GITHUB_NAME.test(e), normal: lower, means: 'GitHub logins' },
  github_organizations: { valid: (e) => GITHUB_NAME.test(e), normal: lower, means: 'GitHub organisation logins' },
  github_teams: { valid: (e) => GITHUB_TEAM.test(e), normal: lower, means: 'GitHub teams written org/team-slug' },
  email_domains: { valid: (e) => DOMAIN.test(e), normal: lower, means: 'email domains (acme.com, or *.acme.com for its subdomains)' },
  oidc_groups: { valid: (e) => e.length > 0 && e.length <= 256 && !/[\u0000-\u001f]/.test(e), normal: (e) => e, means: 'group names' },
};

/** A policy as the admin API sent it, checked and normalised; InvalidSignInPolicy says what is wrong. */
export function parseSignInPolicy(value: unknown): SignInPolicy {
  if (!isRecord(value)) throw new InvalidSignInPolicy('sign_in must be an object: { "providers": [...] | null, "allow": "everyone" | { rules } }');
  const unknown = Object.keys(value).filter((key) => key !== 'providers' && key !== 'allow');
  if (unknown.length) throw new InvalidSignInPolicy(`sign_in has unknown keys: ${unknown.join(', ')}`);
  return { providers: parseProviders(value.providers), allow: parseAllow(value.allow) };
}

function parseProviders(value: unknown): string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.length === 0 || value.length > 50) {
    throw new InvalidSignInPolicy('sign_in.providers must be null (every provider) or a non-empty list such as ["github", "oidc:okta", "dev"]');
  }
  const bad = value.find((entry) => typeof entry !== 'string' || !PROVIDER.test(entry));
  if (bad !== undefined) throw new InvalidSignInPolicy(`sign_in.providers: ${JSON.stringify(bad)} is not a provider (github, dev, or oidc:<provider id>)`);
  return [...new Set(value as string[])];
}

function parseAllow(value: unknown): SignInPolicy['allow'] {
  if (value === 'everyone') return 'everyone';
  if (!isRecord(value)) throw new InvalidSignInPolicy('sign_in.allow must be "everyone" or an object of rules ({} admits nobody)');
  const unknown = Object.keys(value).filter((key) => !(RULE_KINDS as readonly string[]).includes(key));
  if (unknown.length) throw new InvalidSignInPolicy(`sign_in.allow has unknown rules: ${unknown.join(', ')} (known: ${RULE_KINDS.join(', ')})`);
  const rules: SignInRules = {};
  for (const kind of RULE_KINDS) {
    const entries = value[kind];
    if (entries === undefined) continue;
    const { valid, normal, means } = ENTRY[kind];
    if (!Array.isArray(entries) || entries.length > MAX_ENTRIES) throw new InvalidSignInPolicy(`sign_in.allow.${kind} must be a list of ${means} (at most ${MAX_ENTRIES})`);
    const bad = entries.find((entry) => typeof entry !== 'string' || !valid(entry));
    if (bad !== undefined) throw new InvalidSignInPolicy(`sign_in.allow.${kind}: ${JSON.stringify(bad)} is not one of ${means}`);
    rules[kind] = [...new Set((entries as string[]).map(normal))];
  }
  return rules;
}

/** Whether `subject` may sign in under `policy`. */
export function evaluate(policy: SignInPolicy, subject: PolicySubject): PolicyDecision {
  if (!providerAllowed(policy, subject.provider)) return { allowed: false, reason: 'provider_not_allowed' };
  if (policy.allow === 'everyone') return { allowed: true };
  const rules = policy.allow;
  if (!RULE_KINDS.some((kind) => (rules[kind]?.length ?? 0) > 0)) return { allowed: false, reason: 'no_rules' };
  return RULE_KINDS.some((kind) => matches(kind, rules[kind] ?? [], subject)) ? { allowed: true } : { allowed: false, reason: 'no_rule_matched' };
}

export function providerAllowed(policy: SignInPolicy, provider: string): boolean {
  return policy.providers === null || policy.providers.includes(provider);
}

/** Admits anyone any allowed provider vouches for (logged as a warning at boot). */
export function admitsEveryone(policy: SignInPolicy): boolean {
  return policy.allow === 'everyone';
}

/**
 * The GitHub OAuth scopes a sign-in must ask for so that the policy can be checked: `read:org` for organisation and
 * team rules, `user:email` for email-domain rules (GitHub's verified emails); none otherwise.
 */
export function githubScopesFor(policy: SignInPolicy): string[] {
  if (policy.allow === 'everyone' || !providerAllowed(policy, 'github')) return [];
  const rules = policy.allow;
  const scopes: string[] = [];
  if (rules.github_organizations?.length || rules.github_teams?.length) scopes.push('read:org');
  if (rules.email_domains?.length) scopes.push('user:email');
  return scopes;
}

function matches(kind: RuleKind, entries: string[], subject: PolicySubject): boolean {
  if (entries.length === 0) return false;
  const github = subject.provider === 'github';
  switch (kind) {
    case 'github_users':
      return github && subject.login !== null && entries.includes(lower(subject.login));
    case 'github_organizations':
      return github && (subject.organizations ?? []).some((org) => entries.includes(lower(org)));
    case 'github_teams':
      return github && subject.groups.some((team) => entries.includes(lower(team)));
    case 'email_domains':
      return subject.emailVerified && subject.email !== null && domainMatches(entries, subject.email);
    case 'oidc_groups':
      return subject.provider.startsWith('oidc:') && subject.groups.some((group) => entries.includes(group));
  }
}

function domainMatches(entries: string[], email: string): boolean {
  const at = email.lastIndexOf('@');
  if (at < 1) return false;
  const domain = lower(email.slice(at + 1));
  return entries.some((entry) => (entry.startsWith('*.') ? domain.endsWith(entry.slice(1)) : domain === entry));
}

function lower(value: string): string {
  return value.toLowerCase();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
