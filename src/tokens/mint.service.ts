import { Injectable } from '@nestjs/common';
import { InvalidClient, InvalidGrant, InvalidRequest, InvalidScope } from '../common/oauth-errors.js';
import { Database } from '../database/database.module.js';
import { AuditLog } from '../audit/audit-log.js';
import { UserRepository } from '../authorization/user.repository.js';
import { ClientsService } from '../registration/clients.service.js';
import type { ResolvedClient } from '../registration/client-metadata-document.js';
import { MetadataDocumentError } from '../registration/metadata-document-error.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { GrantRepository } from './grant.repository.js';
import { TokenMinter } from './token-minter.js';
import type { TokenResponse } from './grants/grant-handler.js';
import type { MintTokenDto } from './dto/mint-token.dto.js';
import type { RequestContext } from '../common/http.js';

/**
 * Tokens for users a product has already authenticated: no redirect, no consent screen. The product's user id
 * becomes an external identity scoped to the calling resource server (`external:<resource id>:<subject>`), so two
 * products' "user 42" are two Gatehouse subjects. The result is an ordinary grant: it refreshes and revokes like
 * one from the browser flow.
 */
@Injectable()
export class MintService {
  constructor(
    private readonly database: Database,
    private readonly clients: ClientsService,
    private readonly users: UserRepository,
    private readonly grants: GrantRepository,
    private readonly minter: TokenMinter,
    private readonly audit: AuditLog,
  ) {}

  async mint(resource: ResourceServerEntity, input: MintTokenDto, context?: RequestContext): Promise<TokenResponse> {
    const resolved = await this.resolveClient(input.client_id, context);
    const client = resolved.client;
    const scopes = input.scopes === undefined ? [...resource.defaultScopes] : [...new Set(input.scopes)];
    if (scopes.length === 0) throw new InvalidScope(`no scopes requested and ${resource.name} defines no default scopes`);
    const unknown = scopes.filter((scope) => !resource.scopes.includes(scope));
    if (unknown.length) throw new InvalidScope(`not scopes of ${resource.resource}: ${unknown.join(' ')}`);

    return this.database.transaction(async (tx) => {
      // A metadata-document client fetched just now is recorded with the grant that references it.
      await this.clients.recordFetched(tx, resolved, 'insert', context);
      const { userId, created } = await this.users.findOrCreateByIdentity(tx, {
        provider: 'external',
        subject: `${resource.id}:${input.subject}`,
        login: null,
        displayName: null,
      });
      // The product's subject becomes the tokens' `sub`, beside provider-backed users whose `sub` is their Gatehouse
      // id: a subject equal to such an id is refused when it is first recorded (this transaction then creates
      // nothing), so a product can never obtain a token whose `sub` is another person's. The other way round, a new
      // Gatehouse id (a random v4 UUID) equal to a recorded product subject would take a 122-bit collision.
      if (created && (await this.users.isUserId(input.subject, tx))) {
        throw new InvalidRequest('subject is the id of a Gatehouse user; choose another subject for this user');
      }
      // Locked: disabling the user waits for this grant and revokes it with the others.
      if (await this.users.isDisabled(userId, tx, true)) throw new InvalidGrant('the user is disabled');
      // A product's user signed in with the product: of the identity claims, only `idp` can say anything.
      const identity = resource.identityClaims.includes('idp') ? { idp: 'external' } : {};
      const grantId = await this.grants.insert(tx, { userId, clientId: client.id, resourceId: resource.id, scopes, subject: input.subject, claims: identity });
      const { response, claims } = await this.minter.mint(tx, { grantId, subject: input.subject, identity, client, resource, scopes, parentHash: null });
      await this.audit.record(tx, {
        type: 'token.issued',
        clientId: client.id,
        subject: userId,
        resource: resource.resource,
        request: context,
        data: { grant_type: 'mint', grant_id: grantId, jti: claims.jti, scopes, refresh_token: response.refresh_token !== undefined },
      });
      return response;
    });
  }

  private async resolveClient(clientId: string, context: RequestContext | undefined): Promise<ResolvedClient> {
    let resolved: ResolvedClient | null;
    try {
      resolved = await this.clients.resolve(clientId, context);
    } catch (error) {
      if (error instanceof MetadataDocumentError) throw new InvalidClient(`client metadata document rejected: ${error.description}`).withStatus(400);
      throw error;
    }
    if (!resolved) throw new InvalidClient(`unknown client_id ${clientId}`).withStatus(400);
    return resolved;
  }
}
