import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { InvalidDpopProof, InvalidScope, InvalidTarget, UnauthorizedClient } from '../../common/oauth-errors.js';
import { stringParam } from '../../common/oauth-body.decorator.js';
import { contextOf } from '../../common/http.js';
import { Database } from '../../database/database.module.js';
import { AuditLog } from '../../audit/audit-log.js';
import { ClientsService } from '../../registration/clients.service.js';
import { KeyService } from '../../keys/key.service.js';
import { ResourcesService } from '../../resources/resources.service.js';
import { ClientCredentialsGrantRepository } from '../client-credentials-grant.repository.js';
import { TokenMinter } from '../token-minter.js';
import type { GrantContext, GrantHandler, TokenResponse } from './grant-handler.js';

/**
 * client_credentials (RFC 6749 §4.4, OAuth 2.1 §4.2; the MCP client credentials extension): a confidential client
 * gets an access token for itself, with no user behind it, for a resource server an administrator allowed it
 * (ClientCredentialsService), and at most the scopes allowed. The token's `sub` is the client_id (RFC 9068 §2.2) and
 * its `grant_id` the administrator's permission, so removing that ends it; no refresh token (RFC 6749 §4.4.3).
 * The client was authenticated by the token endpoint, through whatever method it registered.
 */
@Injectable()
export class ClientCredentialsGrant implements GrantHandler {
  readonly grantType = 'client_credentials';

  constructor(
    private readonly database: Database,
    private readonly permissions: ClientCredentialsGrantRepository,
    private readonly resources: ResourcesService,
    private readonly minter: TokenMinter,
    private readonly audit: AuditLog,
    private readonly clients: ClientsService,
    private readonly keys: KeyService,
  ) {}

  async handle({ client, params, req, dpop }: GrantContext): Promise<TokenResponse> {
    // RFC 6749 §4.4: confidential clients only. A public client proved nothing but its id.
    if (client.metadata.token_endpoint_auth_method === 'none') {
      throw new UnauthorizedClient('the client_credentials grant is for confidential clients; a public client cannot use it');
    }
    const requested = requestedScopes(stringParam(params, 'scope'));
    // RFC 8707: the resource asked for, or the one a request without `resource` gets (as at /authorize).
    const resource = await this.resources.resolve(stringParam(params, 'resource', 2000)).catch(async (error: unknown) => {
      // A client allowed nothing hears that first, whatever resource it named.
      if (error instanceof InvalidTarget) await this.assertAllowedAnything(client.id);
      throw error;
    });
    if (resource.requireDpop && dpop === undefined) {
      throw new InvalidDpopProof('this resource server requires DPoP-bound tokens: send a DPoP proof (RFC 9449) with the token request');
    }
    this.keys.assertCanSign();
    const jti = randomUUID();
    const issued = await this.database.transaction(async (tx) => {
      // Held until the commit: a removal waits until this token's event is recorded, and then ends the token.
      const permission = await this.permissions.find(tx, client.id, resource.id, 'share');
      if (!permission) return null;
      // What was allowed, as far as the resource server still defines it.
      const allowed = permission.scopes.filter((scope) => resource.scopes.includes(scope));
      const wider = (requested ?? []).filter((scope) => !allowed.includes(scope));
      if (wider.length) throw new InvalidScope(`scope exceeds what this client is allowed for ${resource.resource}: ${wider.join(' ')}`);
      const scopes = requested ?? allowed;
      if (scopes.length === 0) throw new InvalidScope(`none of the scopes this client is allowed are scopes of ${resource.resource} any more`);
      await this.clients.recordUse(tx, client);
      await this.audit.record(tx, {
        type: 'token.issued',
        clientId: client.id,
        subject: null,
        resource: resource.resource,
        request: contextOf(req),
        data: { grant_type: this.grantType, grant_id: permission.id, jti, scopes, refresh_token: false },
      });
      return { grantId: permission.id, scopes };
    });
    if (!issued) {
      // Asked outside the transaction, which holds the only connection on the embedded database.
      await this.assertAllowedAnything(client.id);
      throw new InvalidTarget(`client is not allowed the client_credentials grant for ${resource.resource}`);
    }
    return this.minter.sign({ grantId: issued.grantId, subject: client.id, identity: {}, client, resource, scopes: issued.scopes, jti, jkt: dpop?.jkt }, undefined).response;
  }

  /** RFC 6749 §5.2 unauthorized_client for a client allowed the grant for no resource server at all. */
  private async assertAllowedAnything(clientId: string): Promise<void> {
    if (!(await this.permissions.anyFor(clientId))) {
      throw new UnauthorizedClient('client is not allowed the client_credentials grant; an administrator must allow it for a resource server');
    }
  }
}

/** The scopes asked for (each once, in the order given), or null for all that were allowed (RFC 6749 §3.3). */
function requestedScopes(requested: string | undefined): string[] | null {
  if (requested === undefined || requested.trim() === '') return null;
  return [...new Set(requested.split(' ').filter(Boolean))];
}
