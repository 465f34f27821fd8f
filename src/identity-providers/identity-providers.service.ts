import { Inject, Injectable } from '@nestjs/common';
import type { Configuration } from 'openid-client';
import type { RequestContext } from '../common/http.js';
import { decrypt, encrypt, SealedValueUnreadable } from '../common/crypto.js';
import { InvalidRequest, NotFound } from '../common/oauth-errors.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { EncryptionKeyMismatch, GATEHOUSE_SECRETS, type Secrets } from '../config/secrets.js';
import { Database } from '../database/database.module.js';
import { RecordCache } from '../database/record-cache.js';
import { AuditLog } from '../audit/audit-log.js';
import { IdentityProviderRepository, type NewIdentityProvider } from './identity-provider.repository.js';
import type { IdentityProviderEntity } from './identity-provider.entity.js';
import { PROVIDER_ID, type CreateIdentityProviderDto, type IdentityProviderView, type UpdateIdentityProviderDto } from './dto/identity-provider.dto.js';
import { describeDiscoveryFailure, discoverProvider } from './oidc-discovery.js';

export const DEFAULT_SCOPES = ['openid', 'email', 'profile'];

/** Where a provider sends people back to Gatehouse. */
export function oidcCallbackPath(providerId: string): string {
  return `/login/oidc/${providerId}/callback`;
}

/**
 * Upstream OpenID Connect providers: configured through the admin API and CLI, read on every sign-in page (through
 * the RecordCache, so every instance sees a change at once). Each provider's discovered metadata is kept per
 * version of its row, so an update is discovered afresh and an unchanged provider is not asked again.
 */
@Injectable()
export class IdentityProvidersService {
  private readonly discovered = new Map<string, { version: string; configuration: Promise<Configuration> }>();

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(GATEHOUSE_SECRETS) private readonly secrets: Secrets,
    private readonly database: Database,
    private readonly repository: IdentityProviderRepository,
    private readonly audit: AuditLog,
    private readonly cache: RecordCache,
  ) {}

  /** Every provider, ordered by display name. */
  list(): Promise<readonly IdentityProviderEntity[]> {
    return this.cache.read('identity_provider', 'all', () => this.repository.list(), { keep: () => true });
  }

  /** The provider `id`, or null. */
  async find(id: string): Promise<IdentityProviderEntity | null> {
    if (!PROVIDER_ID.test(id)) return null;
    return (await this.list()).find((provider) => provider.id === id) ?? null;
  }

  async get(id: string): Promise<IdentityProviderEntity> {
    const found = await this.find(id);
    if (!found) throw new NotFound(`no identity provider with id ${id}`);
    return found;
  }

  /** Stored only once the issuer's discovery works with these values: a typo is a 400 now, not a broken sign-in. */
  async create(input: CreateIdentityProviderDto, request?: RequestContext): Promise<IdentityProviderEntity> {
    const values: NewIdentityProvider = {
      id: input.id,
      displayName: input.display_name,
      issuer: input.issuer,
      clientId: input.client_id,
      clientSecretSealed: this.seal(input.id, input.client_secret),
      scopes: withOpenid(input.scopes ?? DEFAULT_SCOPES),
      groupsClaim: input.groups_claim ?? null,
    };
    await this.checkDiscovery(values.issuer, values.clientId, input.client_secret);
    return this.database.transaction(async (tx) => {
      if (await this.repository.findById(values.id, tx)) throw new InvalidRequest(`an identity provider with id ${values.id} already exists`);
      await this.cache.invalidate(tx, 'identity_provider', [values.id]);
      const created = await this.repository.insert(tx, values);
      await this.audit.record(tx, { type: 'admin.identity_provider_created', data: { identity_provider_id: created.id, issuer: created.issuer }, request });
      return created;
    });
  }

  /** A changed issuer, client id or secret is checked by discovery first, like a new provider. */
  async update(id: string, input: UpdateIdentityProviderDto, request?: RequestContext): Promise<IdentityProviderEntity> {
    const current = PROVIDER_ID.test(id) ? await this.repository.findById(id) : null;
    if (!current) throw new NotFound(`no identity provider with id ${id}`);
    const changes: Partial<Omit<NewIdentityProvider, 'id'>> = {};
    if (input.display_name != null) changes.displayName = input.display_name;
    if (input.issuer != null) changes.issuer = input.issuer;
    if (input.client_id != null) changes.clientId = input.client_id;
    if (input.client_secret != null) changes.clientSecretSealed = this.seal(id, input.client_secret);
    if (input.scopes != null) changes.scopes = withOpenid(input.scopes);
    if (input.groups_claim !== undefined) changes.groupsClaim = input.groups_claim;
    if (changes.issuer !== undefined || changes.clientId !== undefined || changes.clientSecretSealed !== undefined) {
      await this.checkDiscovery(changes.issuer ?? current.issuer, changes.clientId ?? current.clientId, input.client_secret ?? this.storedSecretForUpdate(current));
    }
    return this.database.transaction(async (tx) => {
      if (!(await this.repository.findById(id, tx))) throw new NotFound(`no identity provider with id ${id}`);
      await this.cache.invalidate(tx, 'identity_provider', [id]);
      await this.repository.update(tx, id, changes);
      const fields = Object.keys(input).filter((key) => (input as Record<string, unknown>)[key] !== undefined).sort();
      await this.audit.record(tx, { type: 'admin.identity_provider_updated', data: { identity_provider_id: id, fields }, request });
      return (await this.repository.findById(id, tx))!;
    });
  }

  /** The identities people made through it stay (with their users); they cannot sign in through it any more. */
  async delete(id: string, request?: RequestContext): Promise<void> {
    await this.database.transaction(async (tx) => {
      const current = PROVIDER_ID.test(id) ? await this.repository.findById(id, tx) : null;
      if (!current) throw new NotFound(`no identity provider with id ${id}`);
      await this.cache.invalidate(tx, 'identity_provider', [id]);
      await this.repository.delete(tx, id);
      await this.audit.record(tx, { type: 'admin.identity_provider_deleted', data: { identity_provider_id: id, issuer: current.issuer }, request });
    });
    this.discovered.delete(id);
  }

  /** The provider's discovered metadata and our client at it; a failed discovery is forgotten, so the next sign-in retries. */
  configuration(provider: IdentityProviderEntity): Promise<Configuration> {
    const version = provider.updatedAt.toISOString();
    const known = this.discovered.get(provider.id);
    if (known?.version === version) return known.configuration;
    let configuration: Promise<Configuration>;
    try {
      configuration = discoverProvider({ issuer: provider.issuer, clientId: provider.clientId, clientSecret: this.clientSecret(provider) });
    } catch (error) {
      // Not kept: the next sign-in tries again, and sees a secret set again meanwhile.
      return Promise.reject(error);
    }
    this.discovered.set(provider.id, { version, configuration });
    configuration.catch(() => {
      if (this.discovered.get(provider.id)?.configuration === configuration) this.discovered.delete(provider.id);
    });
    return configuration;
  }

  redirectUri(providerId: string): string {
    return `${this.config.issuer}${oidcCallbackPath(providerId)}`;
  }

  view(provider: IdentityProviderEntity): IdentityProviderView {
    return {
      id: provider.id,
      display_name: provider.displayName,
      issuer: provider.issuer,
      client_id: provider.clientId,
      client_secret_set: true,
      scopes: [...provider.scopes],
      groups_claim: provider.groupsClaim,
      redirect_uri: this.redirectUri(provider.id),
      created_at: provider.createdAt.toISOString(),
      updated_at: provider.updatedAt.toISOString(),
    };
  }

  private async checkDiscovery(issuer: string, clientId: string, clientSecret: string): Promise<void> {
    try {
      await discoverProvider({ issuer, clientId, clientSecret });
    } catch (error) {
      throw new InvalidRequest(`OpenID Connect discovery failed for ${issuer}: ${describeDiscoveryFailure(error)}`);
    }
  }

  /** Bound to the provider id, so a sealed secret copied to another row does not open. */
  private seal(id: string, secret: string): string {
    return encrypt(this.secrets.encryptionKey, secret, `identity-provider:${id}`);
  }

  private clientSecret(provider: IdentityProviderEntity): string {
    try {
      return decrypt(this.secrets.encryptionKey, provider.clientSecretSealed, `identity-provider:${provider.id}`);
    } catch (error) {
      if (!(error instanceof SealedValueUnreadable)) throw error;
      throw new EncryptionKeyMismatch(
        this.config,
        `the client secret of identity provider "${provider.id}" was`,
        `set the secret again (PATCH /admin/identity-providers/${provider.id} with client_secret)`,
      );
    }
  }

  /** An update that needs discovery again but brings no secret: the stored one, or a 400 saying to send one. */
  private storedSecretForUpdate(provider: IdentityProviderEntity): string {
    try {
      return this.clientSecret(provider);
    } catch (error) {
      if (!(error instanceof EncryptionKeyMismatch)) throw error;
      throw new InvalidRequest('the stored client_secret cannot be opened with the current ENCRYPTION_KEY; send client_secret with this change');
    }
  }
}

function withOpenid(scopes: readonly string[]): string[] {
  return [...new Set(['openid', ...scopes])];
}
