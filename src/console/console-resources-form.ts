import { plainToInstance } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';
import { CreateResourceServerDto, UpdateResourceServerDto } from '../resources/dto/resource-server.dto.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { IDENTITY_CLAIMS, type IdentityClaimName } from '../resources/identity-claims.js';
import type { SignInRules } from '../resources/sign-in-policy.js';

/**
 * The resource server form of the console: what the operator typed, field by field, as strings (so that a refused
 * form comes back exactly as it was sent), turned into the admin API's DTOs, which validate it as the API does.
 */
export interface ResourceForm {
  name: string;
  resource: string;
  /** One scope a line, optionally followed by its description: `docs:read — Read your documents`. */
  scopes: string;
  /** Scopes separated by spaces or commas. */
  default_scopes: string;
  access_token_ttl: string;
  refresh_token_ttl: string;
  is_default: boolean;
  login_method: string;
  login_uri: string;
  consent_uri: string;
  logo_uri: string;
  policy_uri: string;
  tos_uri: string;
  /** Provider ids separated by spaces or commas; empty: every configured provider. */
  sign_in_providers: string;
  sign_in_allow: 'everyone' | 'rules';
  /** Each rule list: entries separated by spaces, commas or lines. */
  github_users: string;
  github_organizations: string;
  github_teams: string;
  email_domains: string;
  oidc_groups: string;
  identity_claims: IdentityClaimName[];
  require_dpop: boolean;
}

export const RULE_FIELDS = ['github_users', 'github_organizations', 'github_teams', 'email_domains', 'oidc_groups'] as const satisfies ReadonlyArray<keyof SignInRules & keyof ResourceForm>;

/** The ids of the form's controls: where an error summary links to. */
export type ResourceField = keyof ResourceForm;

export interface FieldError {
  field: ResourceField;
  message: string;
}

/** A blank form for a new resource server, with the admin API's defaults filled in. */
export const EMPTY_FORM: ResourceForm = {
  name: '',
  resource: '',
  scopes: '',
  default_scopes: '',
  access_token_ttl: '3600',
  refresh_token_ttl: String(30 * 24 * 3600),
  is_default: false,
  login_method: 'gatehouse',
  login_uri: '',
  consent_uri: '',
  logo_uri: '',
  policy_uri: '',
  tos_uri: '',
  sign_in_providers: '',
  sign_in_allow: 'rules',
  github_users: '',
  github_organizations: '',
  github_teams: '',
  email_domains: '',
  oidc_groups: '',
  identity_claims: [],
  require_dpop: false,
};

/** The form prefilled with a stored resource server. */
export function formFromEntity(entity: ResourceServerEntity): ResourceForm {
  const rules: SignInRules = entity.signIn.allow === 'everyone' ? {} : entity.signIn.allow;
  return {
    name: entity.name,
    resource: entity.resource,
    scopes: entity.scopes.map((scope) => (Object.hasOwn(entity.scopeDescriptions, scope) ? `${scope} — ${entity.scopeDescriptions[scope]}` : scope)).join('\n'),
    default_scopes: entity.defaultScopes.join(' '),
    access_token_ttl: String(entity.accessTokenTtl),
    refresh_token_ttl: String(entity.refreshTokenTtl),
    is_default: entity.isDefault,
    login_method: entity.loginMethod,
    login_uri: entity.loginUri ?? '',
    consent_uri: entity.consentUri ?? '',
    logo_uri: entity.logoUri ?? '',
    policy_uri: entity.policyUri ?? '',
    tos_uri: entity.tosUri ?? '',
    sign_in_providers: (entity.signIn.providers ?? []).join(' '),
    sign_in_allow: entity.signIn.allow === 'everyone' ? 'everyone' : 'rules',
    github_users: (rules.github_users ?? []).join('\n'),
    github_organizations: (rules.github_organizations ?? []).join('\n'),
    github_teams: (rules.github_teams ?? []).join('\n'),
    email_domains: (rules.email_domains ?? []).join('\n'),
    oidc_groups: (rules.oidc_groups ?? []).join('\n'),
    identity_claims: [...entity.identityClaims],
    require_dpop: entity.requireDpop,
  };
}

/** The form as posted (the body parser gives one string per name; a checkbox is present only when ticked). */
export function formFromBody(body: unknown): ResourceForm {
  const source = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const text = (name: string): string => (typeof source[name] === 'string' ? (source[name] as string) : '');
  return {
    name: text('name'),
    resource: text('resource'),
    scopes: text('scopes'),
    default_scopes: text('default_scopes'),
    access_token_ttl: text('access_token_ttl'),
    refresh_token_ttl: text('refresh_token_ttl'),
    is_default: text('is_default') === 'on',
    login_method: text('login_method'),
    login_uri: text('login_uri'),
    consent_uri: text('consent_uri'),
    logo_uri: text('logo_uri'),
    policy_uri: text('policy_uri'),
    tos_uri: text('tos_uri'),
    sign_in_providers: text('sign_in_providers'),
    sign_in_allow: text('sign_in_allow') === 'everyone' ? 'everyone' : 'rules',
    github_users: text('github_users'),
    github_organizations: text('github_organizations'),
    github_teams: text('github_teams'),
    email_domains: text('email_domains'),
    oidc_groups: text('oidc_groups'),
    identity_claims: IDENTITY_CLAIMS.filter((claim) => text(`identity_claim_${claim}`) === 'on'),
    require_dpop: text('require_dpop') === 'on',
  };
}

/**
 * The scope lines: the scope is the line up to its first space (a scope-token has none), the rest, after an optional
 * `—`, `-` or `:`, its description. consent-preview.js reads the lines the same way.
 */
export function parseScopeLines(text: string): { scopes: string[]; descriptions: Record<string, string> } {
  const scopes: string[] = [];
  const descriptions: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const [scope = '', ...rest] = trimmed.split(/\s+/);
    const description = rest.join(' ').replace(/^(?:—|–|-|:)\s*/, '').trim();
    scopes.push(scope);
    if (description) descriptions[scope] = description;
  }
  return { scopes, descriptions };
}

function list(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** A number field: digits become a number; anything else goes to the validator as typed, which says what is wrong. */
function integer(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  return /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : trimmed;
}

/**
 * The admin API's request body the form stands for. Every field is sent, so an update replaces each with what the
 * form shows (PATCH semantics with a complete form); an emptied login or consent URI is cleared (null) on update.
 */
export function bodyFromForm(form: ResourceForm, mode: 'create' | 'update'): Record<string, unknown> {
  const { scopes, descriptions } = parseScopeLines(form.scopes);
  const url = (text: string): string | null | undefined => (text.trim() ? text.trim() : mode === 'update' ? null : undefined);
  const optional = (text: string): string | undefined => (text.trim() ? text.trim() : undefined);
  const rules: SignInRules = {};
  for (const field of RULE_FIELDS) {
    const entries = list(form[field]);
    if (entries.length) rules[field] = entries;
  }
  const providers = list(form.sign_in_providers);
  return {
    name: form.name.trim(),
    resource: form.resource.trim(),
    scopes,
    scope_descriptions: descriptions,
    default_scopes: list(form.default_scopes),
    access_token_ttl: integer(form.access_token_ttl),
    refresh_token_ttl: integer(form.refresh_token_ttl),
    branding: { logo_uri: optional(form.logo_uri), policy_uri: optional(form.policy_uri), tos_uri: optional(form.tos_uri) },
    is_default: form.is_default,
    login_method: form.login_method,
    login_uri: url(form.login_uri),
    consent_uri: url(form.consent_uri),
    sign_in: { providers: providers.length ? providers : null, allow: form.sign_in_allow === 'everyone' ? 'everyone' : rules },
    identity_claims: form.identity_claims,
    require_dpop: form.require_dpop,
  };
}

/**
 * The body checked by the admin API's DTO with strictValidationPipe's options (whitelist, forbidNonWhitelisted,
 * forbidUnknownValues), each failed constraint as an error on its form field; or the DTO when nothing failed.
 * validate() rather than the pipe itself: the pipe stops at the first message, the form shows them all.
 */
export async function validateBody<Dto extends CreateResourceServerDto | UpdateResourceServerDto>(
  dtoClass: new () => Dto,
  body: Record<string, unknown>,
): Promise<{ dto: Dto; errors: [] } | { dto: null; errors: FieldError[] }> {
  // Undefined members are what the API sees for an absent key: leave them out, as JSON would.
  const plain = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
  const dto = plainToInstance(dtoClass, plain);
  const failures = await validate(dto, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true });
  if (failures.length === 0) return { dto, errors: [] };
  return { dto: null, errors: failures.flatMap((failure) => fieldErrors(failure, '')) };
}

function fieldErrors(error: ValidationError, parent: string): FieldError[] {
  const path = parent ? `${parent}.${error.property}` : error.property;
  // The first failed constraint of each property (`ten` is not an integer, nor at least 60), worded as
  // describeValidationErrors words the admin API's answer.
  const own = Object.values(error.constraints ?? {}).slice(0, 1).map((message) => ({
    field: fieldOf(path),
    message: message.startsWith(error.property) ? `${parent ? `${parent}.` : ''}${message}` : `${path}: ${message}`,
  }));
  return [...own, ...(error.children ?? []).flatMap((child) => fieldErrors(child, path))];
}

/** The DTO property an API message is about, as the form field that holds it. */
const FIELD_OF_PROPERTY: ReadonlyArray<[prefix: string, field: ResourceField]> = [
  ['scope_descriptions', 'scopes'],
  ['default_scopes', 'default_scopes'],
  ['scopes', 'scopes'],
  ['scope', 'scopes'],
  ['access_token_ttl', 'access_token_ttl'],
  ['refresh_token_ttl', 'refresh_token_ttl'],
  ['branding.logo_uri', 'logo_uri'],
  ['branding.policy_uri', 'policy_uri'],
  ['branding.tos_uri', 'tos_uri'],
  ['logo_uri', 'logo_uri'],
  ['policy_uri', 'policy_uri'],
  ['tos_uri', 'tos_uri'],
  ['is_default', 'is_default'],
  ['login_method', 'login_method'],
  ['login_uri', 'login_uri'],
  ['consent_uri', 'consent_uri'],
  ['sign_in.providers', 'sign_in_providers'],
  ...RULE_FIELDS.map((rule): [string, ResourceField] => [`sign_in.allow.${rule}`, rule]),
  ['sign_in', 'sign_in_allow'],
  ['identity_claims', 'identity_claims'],
  ['identity claim', 'identity_claims'],
  ['name', 'name'],
  ['resource', 'resource'],
  ['a resource server for', 'resource'],
];

/** The field a message (a DTO path or one of ResourcesService's InvalidRequest descriptions) is about; `name` when none. */
export function fieldOf(message: string): ResourceField {
  const lower = message.toLowerCase();
  return FIELD_OF_PROPERTY.find(([prefix]) => lower.startsWith(prefix) || lower.startsWith(`each ${prefix}`))?.[1] ?? 'name';
}
