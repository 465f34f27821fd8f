import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { randomToken, sha256 } from '../common/crypto.js';
import { InvalidGrant, InvalidRequest, InvalidScope } from '../common/oauth-errors.js';
import { parseUrl } from '../common/urls.js';
import { Database } from '../database/database.module.js';
import { AuditLog } from '../audit/audit-log.js';
import type { ClientEntity } from '../registration/client.entity.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { CodeIssuer } from './code-issuer.js';
import { InteractionHandleRepository } from './interaction-handle.repository.js';
import type { InteractionEntity } from './interaction.entity.js';
import { UserRepository } from './user.repository.js';
import { interactionPath } from './browser-session.js';
import type { CompleteConsentDto, CompleteLoginDto } from './dto/complete.dto.js';

/** How long the product has to finish its login or consent page. */
const HANDLE_TTL_MS = 10 * 60_000;
const UNUSABLE = 'is unknown, expired, already used, or belongs to another resource server';

/**
 * Bring-your-own login and consent. Gatehouse sends the browser to the product's page with a single-use handle;
 * the product's backend completes it server to server with the resource server's registration secret, and gets
 * back the URL to send the browser on to. A login handle only ever finishes in the browser that started it: it
 * returns the browser to its interaction, whose cookie binds it.
 */
@Injectable()
export class ProductCompletionService {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly database: Database,
    private readonly handles: InteractionHandleRepository,
    private readonly users: UserRepository,
    private readonly codes: CodeIssuer,
    private readonly audit: AuditLog,
  ) {}

  /** Where to send the browser to sign in on the product's page (login_method `external`). */
  async beginLogin(interaction: InteractionEntity, resource: ResourceServerEntity): Promise<string> {
    const handle = randomToken();
    await this.handles.setExternalAuth(interaction.id, sha256(handle), new Date(Date.now() + HANDLE_TTL_MS));
    const location = new URL(resource.loginUri!);
    location.searchParams.set('external_auth_id', handle);
    return location.href;
  }

  async completeLogin(resource: ResourceServerEntity, input: CompleteLoginDto): Promise<{ redirect_uri: string }> {
    return this.database.transaction(async (tx) => {
      const interaction = await this.handles.findByExternalAuth(tx, sha256(input.external_auth_id));
      if (
        !interaction ||
        interaction.resourceId !== resource.id ||
        interaction.loginCompletedAt ||
        interaction.completedAt ||
        !interaction.externalAuthExpiresAt ||
        interaction.externalAuthExpiresAt.getTime() <= Date.now()
      ) {
        throw new InvalidGrant(`external_auth_id ${UNUSABLE}`);
      }
      const { userId, created } = await this.users.findOrCreateByIdentity(tx, {
        provider: 'external',
        subject: `${resource.id}:${input.user.id}`,
        login: null,
        displayName: input.user.name ?? null,
      });
      await this.handles.completeLogin(tx, interaction.id, userId);
      await this.audit.record(tx, { type: 'login.succeeded', subject: userId, clientId: interaction.clientId, resource: resource.resource, data: { provider: 'external', created } });
      return { redirect_uri: `${this.config.issuer}${interactionPath(interaction.id)}` };
    });
  }

  /** Where to send the browser for the product's consent page, with what the page needs to show. */
  async beginConsent(interaction: InteractionEntity, resource: ResourceServerEntity, client: ClientEntity, userId: string, productUserId: string | null): Promise<string> {
    const handle = randomToken();
    await this.handles.setConsentHandle(interaction.id, sha256(handle), new Date(Date.now() + HANDLE_TTL_MS));
    const redirect = parseUrl(interaction.redirectUri);
    const location = new URL(resource.consentUri!);
    const details: Record<string, string> = {
      interaction_id: handle,
      user_id: productUserId ?? userId,
      client_id: client.id,
      client_name: client.metadata.client_name ?? client.id,
      redirect_host: redirect ? redirect.host || `${redirect.protocol}//` : interaction.redirectUri,
      scope: interaction.scopes.join(' '),
      resource: resource.resource,
    };
    for (const [key, value] of Object.entries(details)) location.searchParams.set(key, value);
    return location.href;
  }

  async completeConsent(resource: ResourceServerEntity, input: CompleteConsentDto): Promise<{ redirect_uri: string }> {
    return this.database.transaction(async (tx) => {
      const interaction = await this.handles.findByConsentHandle(tx, sha256(input.interaction_id));
      if (
        !interaction ||
        interaction.resourceId !== resource.id ||
        interaction.completedAt ||
        !interaction.userId ||
        !interaction.consentHandleExpiresAt ||
        interaction.consentHandleExpiresAt.getTime() <= Date.now()
      ) {
        throw new InvalidGrant(`interaction_id ${UNUSABLE}`);
      }
      const expectedUser = resource.loginMethod === 'external' ? await this.users.externalId(tx, interaction.userId, resource.id) : interaction.userId;
      if (input.user_id !== expectedUser) throw new InvalidRequest('user_id is not the user this consent was shown to');
      if (input.decision === 'deny') return { redirect_uri: await this.codes.deny(tx, interaction, resource, interaction.userId) };
      const scopes = input.scopes === undefined ? interaction.scopes : [...new Set(input.scopes)];
      const extra = scopes.filter((scope) => !interaction.scopes.includes(scope));
      if (extra.length) throw new InvalidScope(`scopes must be a subset of the requested ones; not requested: ${extra.join(' ')}`);
      if (scopes.length === 0) throw new InvalidScope('approve at least one scope, or deny');
      return { redirect_uri: await this.codes.approve(tx, interaction, resource, interaction.userId, scopes, 'product') };
    });
  }
}
