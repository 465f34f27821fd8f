import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/http.js';
import { digestsEqual, randomToken, sha256 } from '../common/crypto.js';
import { InvalidRequest, InvalidTarget, NotFound } from '../common/oauth-errors.js';
import { parseUrl } from '../common/urls.js';
import { Database } from '../database/database.module.js';
import { RecordCache } from '../database/record-cache.js';
import type { Tx } from '../database/data-source.js';
import { AuditLog, type AuditEvent } from '../audit/audit-log.js';
import { ResourceServerRepository, type NewResourceServer } from './resource-server.repository.js';
import type { ResourceServerEntity } from './resource-server.entity.js';
import { IDENTITY_CLAIMS } from './identity-claims.js';
import {
  DEFAULT_SECRET_OVERLAP_SECONDS,
  MAX_SECRET_OVERLAP_SECONDS,
  type CreateResourceServerDto,
  type ResourceServerView,
  type UpdateResourceServerDto,
} from './dto/resource-server.dto.js';
import { InvalidScopeDescriptions, keepDescribed, parseScopeDescriptions } from './scope-descriptions.js';
import { DEFAULT_SIGN_IN_POLICY, InvalidSignInPolicy, parseSignInPolicy, type SignInPolicy } from './sign-in-policy.js';

export const DEFAULT_ACCESS_TOKEN_TTL = 3600;
export const DEFAULT_REFRESH_TOKEN_TTL = 30 * 24 * 3600;
const SECRET_PREFIX = 'gh_rs_';
export { DEFAULT_SECRET_OVERLAP_SECONDS, MAX_SECRET_OVERLAP_SECONDS };

/** Who changed a resource server, when not the administrator the events name by default (a console operator). */
export type ResourceChangeActor = AuditEvent['actor'];

export interface RotatedSecret {
  resource: ResourceServerEntity;
  /** The new secret, shown once. */
  registrationSecret: string;
  /** Until when the replaced secret is still accepted; null when it was revoked at once (overlap 0). */
  previousSecretExpiresAt: Date | null;
}

/**
 * Canonical form of a resource indicator: the WHATWG URL serialisation (lower-case scheme and host, default port
 * dropped, `/` path for a bare origin). Registered resources are stored in this form and requests are compared
 * against it exactly, so `https://MCP.example.com` and `https://mcp.example.com/` name the same resource.
 */
export function canonicalResource(value: string): string | null {
  const url = parseUrl(value);
  // url.hash is '' for an empty fragment (`https://x/#`), which is still a fragment, and would stay in href.
  if (!url || url.href.includes('#')) return null;
  return url.href;
}

/**
 * Resource servers are read on many requests (the refresh grant, a backend authenticating with its registration
 * secret, /authorize, the metadata document) and change only through the admin API: reads go through the
 * RecordCache (entities returned are frozen), and every write announces itself with `cache.invalidate`, which
 * makes every instance forget all cached resource data (the scope union and the default resource depend on every row).
 */
@Injectable()
export class ResourcesService {
  constructor(
    private readonly database: Database,
    private readonly repository: ResourceServerRepository,
    private readonly audit: AuditLog,
    private readonly cache: RecordCache,
  ) {}

  list(): Promise<ResourceServerEntity[]> {
    return this.repository.list();
  }

  /** The resource server `id`, or NotFound. Inside `tx` when given (a transaction that has not changed resources). */
  async get(id: string, tx?: Tx): Promise<ResourceServerEntity> {
    const found = await this.byId(id, tx);
    if (!found) throw new NotFound(`no resource server with id ${id}`);
    return found;
  }

  async create(
    input: CreateResourceServerDto,
    request?: RequestContext,
    actor?: ResourceChangeActor,
  ): Promise<{ resource: ResourceServerEntity; registrationSecret: string }> {
    const values = this.valuesFrom(input);
    const registrationSecret = SECRET_PREFIX + randomToken();
    const resource = await this.database.transaction(async (tx) => {
      if (await this.repository.findByResource(values.resource, tx)) {
        throw new InvalidRequest(`a resource server for ${values.resource} already exists`);
      }
      if (values.isDefault) await this.repository.clearDefault(tx);
      const created = await this.repository.insert(tx, {
        ...values,
        registrationSecretHash: sha256(registrationSecret),
        previousRegistrationSecretHash: null,
        previousRegistrationSecretExpiresAt: null,
      });
      await this.cache.invalidate(tx, 'resource', [created.id]);
      await this.audit.record(tx, { type: 'admin.resource_created', resource: created.resource, data: { resource_id: created.id }, request, actor });
      return created;
    });
    return { resource, registrationSecret };
  }

  async update(id: string, input: UpdateResourceServerDto, request?: RequestContext, actor?: ResourceChangeActor): Promise<ResourceServerEntity> {
    return this.database.transaction(async (tx) => {
      const current = isUuid(id) ? await this.repository.findById(id, tx) : null;
      if (!current) throw new NotFound(`no resource server with id ${id}`);
      const merged = this.valuesFrom({
        name: input.name ?? current.name,
        resource: input.resource ?? current.resource,
        scopes: input.scopes ?? current.scopes,
        // New scopes without new descriptions: the removed scopes' descriptions go, as their default does.
        scope_descriptions: input.scope_descriptions ?? keepDescribed(current.scopeDescriptions, input.scopes ?? current.scopes),
        default_scopes: input.default_scopes ?? (input.scopes ? current.defaultScopes.filter((s) => input.scopes!.includes(s)) : current.defaultScopes),
        access_token_ttl: input.access_token_ttl ?? current.accessTokenTtl,
        refresh_token_ttl: input.refresh_token_ttl ?? current.refreshTokenTtl,
        branding: {
          logo_uri: input.branding ? input.branding.logo_uri : current.logoUri ?? undefined,
          policy_uri: input.branding ? input.branding.policy_uri : current.policyUri ?? undefined,
          tos_uri: input.branding ? input.branding.tos_uri : current.tosUri ?? undefined,
        },
        is_default: input.is_default ?? current.isDefault,
        login_method: input.login_method ?? current.loginMethod,
        login_uri: input.login_uri === null ? undefined : (input.login_uri ?? current.loginUri ?? undefined),
        consent_uri: input.consent_uri === null ? undefined : (input.consent_uri ?? current.consentUri ?? undefined),
        sign_in: input.sign_in ?? { providers: current.signIn.providers, allow: current.signIn.allow },
        identity_claims: input.identity_claims ?? current.identityClaims,
        require_dpop: input.require_dpop ?? current.requireDpop,
      });
      if (merged.resource !== current.resource) {
        const clash = await this.repository.findByResource(merged.resource, tx);
        if (clash) throw new InvalidRequest(`a resource server for ${merged.resource} already exists`);
      }
      await this.cache.invalidate(tx, 'resource', [id]);
      if (merged.isDefault && !current.isDefault) await this.repository.clearDefault(tx, id);
      await this.repository.update(tx, id, merged);
      await this.audit.record(tx, { type: 'admin.resource_updated', resource: merged.resource, data: { resource_id: id }, request, actor });
      return (await this.repository.findById(id, tx))!;
    });
  }

  async delete(id: string, request?: RequestContext, actor?: ResourceChangeActor): Promise<void> {
    await this.database.transaction(async (tx) => {
      const current = isUuid(id) ? await this.repository.findById(id, tx) : null;
      if (!current) throw new NotFound(`no resource server with id ${id}`);
      await this.cache.invalidate(tx, 'resource', [id]);
      await this.repository.delete(tx, id);
      await this.audit.record(tx, { type: 'admin.resource_deleted', resource: current.resource, data: { resource_id: id }, request, actor });
    });
  }

  /**
   * A new registration secret. The one it replaces stays valid for `overlapSeconds` (default a day), so that a
   * deployment can switch over without a failed registration; 0 revokes it at once. Only one previous secret is
   * kept: rotating again within the overlap revokes the older one.
   */
  async rotateSecret(
    id: string,
    overlapSeconds: number = DEFAULT_SECRET_OVERLAP_SECONDS,
    request?: RequestContext,
    actor?: ResourceChangeActor,
  ): Promise<RotatedSecret> {
    if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > MAX_SECRET_OVERLAP_SECONDS) {
      throw new InvalidRequest(`overlap_seconds must be a whole number from 0 to ${MAX_SECRET_OVERLAP_SECONDS}`);
    }
    const registrationSecret = SECRET_PREFIX + randomToken();
    const previousSecretExpiresAt = overlapSeconds > 0 ? new Date(Date.now() + overlapSeconds * 1000) : null;
    const resource = await this.database.transaction(async (tx) => {
      const current = isUuid(id) ? await this.repository.findById(id, tx) : null;
      if (!current) throw new NotFound(`no resource server with id ${id}`);
      await this.cache.invalidate(tx, 'resource', [id]);
      await this.repository.update(tx, id, {
        registrationSecretHash: sha256(registrationSecret),
        previousRegistrationSecretHash: previousSecretExpiresAt ? current.registrationSecretHash : null,
        previousRegistrationSecretExpiresAt: previousSecretExpiresAt,
      });
      await this.audit.record(tx, {
        type: 'admin.resource_secret_rotated',
        resource: current.resource,
        data: { resource_id: id, overlap_seconds: overlapSeconds, previous_secret_expires_at: previousSecretExpiresAt?.toISOString() ?? null },
        request,
        actor,
      });
      return (await this.repository.findById(id, tx))!;
    });
    return { resource, registrationSecret, previousSecretExpiresAt };
  }

  /**
   * The resource a request is for (RFC 8707). With a `resource` parameter it must name a registered resource;
   * without one, the single registered resource or the default one is used.
   */
  async resolve(requested: string | undefined): Promise<ResourceServerEntity> {
    if (requested !== undefined) {
      const canonical = canonicalResource(requested);
      if (!canonical) throw new InvalidTarget('resource must be an absolute URI without a fragment');
      const found = await this.cache.read('resource', `url:${canonical}`, () => this.repository.findByResource(canonical));
      if (!found) throw new InvalidTarget(`unknown resource ${requested}`);
      return found;
    }
    // Derived from every row, so "none" is cached too: any resource write forgets it.
    const implicit = await this.cache.read('resource', 'implicit', () => this.repository.findImplicit(), { keep: () => true });
    if (!implicit) throw new InvalidTarget('resource parameter is required: several resource servers are registered and none is the default');
    return implicit;
  }

  /**
   * The resource server a registration secret belongs to (looked up by its SHA-256 digest), or null. A cached row
   * may outlive its previous secret's expiry, so the expiry is checked here on every call.
   */
  async bySecret(secret: string): Promise<ResourceServerEntity | null> {
    if (!secret.startsWith(SECRET_PREFIX) || secret.length > 200) return null;
    const hash = sha256(secret);
    const resource = await this.cache.read('resource', `secret:${hash}`, () => this.repository.findBySecretHash(hash));
    return resource && secretMatches(resource, hash) ? resource : null;
  }

  /** Basic `resource-id:registration-secret`: the resource if both match (digests compared in constant time). */
  async byIdAndSecret(id: string, secret: string): Promise<ResourceServerEntity | null> {
    const resource = await this.byId(id);
    return resource && secretMatches(resource, sha256(secret)) ? resource : null;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.byId(id)) !== null;
  }

  /** The union of every resource server's scopes (`scopes_supported`), sorted. */
  /** allScopes() when the record cache holds it: no promise, for the fast lane's synchronous documents. */
  cachedScopes(): readonly string[] | undefined {
    return this.cache.peek('resource', 'scopes');
  }

  allScopes(): Promise<readonly string[]> {
    return this.cache.read('resource', 'scopes', () => this.repository.allScopes(), { keep: () => true });
  }

  private async byId(id: string, tx?: Tx): Promise<ResourceServerEntity | null> {
    if (!isUuid(id)) return null;
    return this.cache.read('resource', `id:${id.toLowerCase()}`, () => this.repository.findById(id, tx), { tx });
  }

  private valuesFrom(input: CreateResourceServerDto): Omit<NewResourceServer, 'registrationSecretHash' | 'previousRegistrationSecretHash' | 'previousRegistrationSecretExpiresAt'> {
    const resource = canonicalResource(input.resource);
    if (!resource) throw new InvalidRequest('resource must be an absolute URL without a fragment');
    const scopes = [...new Set(input.scopes)];
    const defaultScopes = [...new Set(input.default_scopes ?? [])];
    const unknown = defaultScopes.filter((scope) => !scopes.includes(scope));
    if (unknown.length) throw new InvalidRequest(`default_scopes must be a subset of scopes; not in scopes: ${unknown.join(' ')}`);
    const loginMethod = input.login_method === 'github' || input.login_method === undefined ? 'gatehouse' : input.login_method;
    if (loginMethod === 'external' && !input.login_uri) throw new InvalidRequest('login_uri is required when login_method is external');
    return {
      name: input.name,
      resource,
      scopes,
      scopeDescriptions: input.scope_descriptions === undefined ? {} : scopeDescriptions(input.scope_descriptions, scopes),
      defaultScopes,
      accessTokenTtl: input.access_token_ttl ?? DEFAULT_ACCESS_TOKEN_TTL,
      refreshTokenTtl: input.refresh_token_ttl ?? DEFAULT_REFRESH_TOKEN_TTL,
      logoUri: input.branding?.logo_uri ?? null,
      policyUri: input.branding?.policy_uri ?? null,
      tosUri: input.branding?.tos_uri ?? null,
      isDefault: input.is_default ?? false,
      loginMethod,
      loginUri: input.login_uri ?? null,
      consentUri: input.consent_uri ?? null,
      signIn: input.sign_in === undefined ? DEFAULT_SIGN_IN_POLICY : signInPolicy(input.sign_in),
      // Each once, in the catalogue's order: the list reads the same however it was given.
      identityClaims: IDENTITY_CLAIMS.filter((claim) => input.identity_claims?.includes(claim)),
      requireDpop: input.require_dpop ?? false,
    };
  }
}

/**
 * Whether a presented secret's digest is the resource server's current secret, or its previous one before that
 * expires. Both comparisons always run, in constant time, so the answer's timing tells nothing about which matched.
 */
export function secretMatches(resource: ResourceServerEntity, hash: string, now: Date = new Date()): boolean {
  const current = digestsEqual(hash, resource.registrationSecretHash);
  const previous = digestsEqual(hash, resource.previousRegistrationSecretHash ?? '');
  const previousValid = resource.previousRegistrationSecretHash !== null && (resource.previousRegistrationSecretExpiresAt?.getTime() ?? 0) > now.getTime();
  return current || (previous && previousValid);
}

export function toResourceServerView(entity: ResourceServerEntity): ResourceServerView {
  return {
    id: entity.id,
    name: entity.name,
    resource: entity.resource,
    scopes: entity.scopes,
    scope_descriptions: entity.scopeDescriptions,
    default_scopes: entity.defaultScopes,
    access_token_ttl: entity.accessTokenTtl,
    refresh_token_ttl: entity.refreshTokenTtl,
    branding: { logo_uri: entity.logoUri, policy_uri: entity.policyUri, tos_uri: entity.tosUri },
    is_default: entity.isDefault,
    login_method: entity.loginMethod,
    login_uri: entity.loginUri,
    consent_uri: entity.consentUri,
    sign_in: entity.signIn,
    identity_claims: entity.identityClaims,
    require_dpop: entity.requireDpop,
    created_at: entity.createdAt.toISOString(),
    updated_at: entity.updatedAt.toISOString(),
  };
}

function scopeDescriptions(value: unknown, scopes: string[]): Record<string, string> {
  try {
    return parseScopeDescriptions(value, scopes);
  } catch (error) {
    if (error instanceof InvalidScopeDescriptions) throw new InvalidRequest(error.message);
    throw error;
  }
}

function signInPolicy(value: unknown): SignInPolicy {
  try {
    return parseSignInPolicy(value);
  } catch (error) {
    if (error instanceof InvalidSignInPolicy) throw new InvalidRequest(error.message);
    throw error;
  }
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
