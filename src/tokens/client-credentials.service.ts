import { Injectable } from '@nestjs/common';
import { InvalidRequest, NotFound } from '../common/oauth-errors.js';
import { Database } from '../database/database.module.js';
import { AuditLog, type AuditEvent } from '../audit/audit-log.js';
import type { RequestContext } from '../common/http.js';
import { ClientsService } from '../registration/clients.service.js';
import { isUuid, ResourcesService } from '../resources/resources.service.js';
import { ClientCredentialsGrantRepository } from './client-credentials-grant.repository.js';
import type { ClientCredentialsGrantEntity } from './client-credentials-grant.entity.js';
import { RecordCache } from '../database/record-cache.js';

/** A client credentials grant as the admin API shows it. */
export interface ClientCredentialsGrantView {
  /** The `grant_id` of the access tokens issued under it. */
  id: string;
  client_id: string;
  resource_id: string;
  resource: string;
  scopes: string[];
  created_at: string;
  created_by: string;
  updated_at: string;
}

/**
 * Machine-to-machine access: an administrator allows a confidential client the client credentials grant (RFC 6749
 * §4.4) for one resource server, with the scopes it may get. Without that, the client gets `unauthorized_client` at
 * /token whatever it registered: the MCP client credentials extension expects such clients to be set up out of band.
 */
@Injectable()
export class ClientCredentialsService {
  constructor(
    private readonly database: Database,
    private readonly grants: ClientCredentialsGrantRepository,
    private readonly clients: ClientsService,
    private readonly resources: ResourcesService,
    private readonly audit: AuditLog,
    private readonly cache: RecordCache,
  ) {}

  async list(clientId: string): Promise<ClientCredentialsGrantView[]> {
    await this.requireClient(clientId);
    const rows = await this.grants.listForClient(clientId);
    return Promise.all(rows.map(async (row) => this.view(row, (await this.resources.get(row.resourceId)).resource)));
  }

  /**
   * Allows the grant, or sets its scopes anew. Removing a scope gives the permission a new id, which ends the tokens
   * issued under the old one (introspection finds their grant gone); adding scopes leaves them alone.
   */
  async allow(clientId: string, resourceId: string, input: unknown, request?: RequestContext, actor?: AuditEvent['actor']): Promise<ClientCredentialsGrantView> {
    const client = await this.requireClient(clientId);
    const resource = await this.requireResource(resourceId);
    if (client.metadata.token_endpoint_auth_method === 'none') {
      throw new InvalidRequest(`client ${clientId} is a public client (token_endpoint_auth_method none): only confidential clients may use the client credentials grant`);
    }
    const scopes = parseScopes(input);
    const unknown = scopes.filter((scope) => !resource.scopes.includes(scope));
    if (unknown.length) throw new InvalidRequest(`not scopes of ${resource.resource}: ${unknown.join(' ')}`);
    const createdBy = actor?.id ?? (request ? 'api' : 'cli');
    return this.database.transaction(async (tx) => {
      const current = await this.grants.find(tx, clientId, resource.id, 'update');
      const narrowed = current !== null && current.scopes.some((scope) => !scopes.includes(scope));
      const row = current ? await this.grants.update(tx, current.id, scopes, narrowed) : await this.grants.insert(tx, { clientId, resourceId: resource.id, scopes, createdBy });
      // The tokens issued under the old id stop being known live on every instance (see AccessTokenStandings).
      if (narrowed) await this.cache.invalidate(tx, 'grant', [current.id]);
      // Setting the same scopes again changes nothing, so it records nothing.
      if (!current || narrowed || !sameScopes(current.scopes, scopes)) {
        await this.audit.record(tx, {
          type: 'admin.client_credentials_allowed',
          clientId,
          resource: resource.resource,
          scopes,
          request,
          actor,
          data: { resource_id: resource.id, grant_id: row.id, scopes, previous_scopes: current?.scopes ?? null },
        });
      }
      return this.view(row, resource.resource);
    });
  }

  /** Takes the permission away; the access tokens issued under it are no longer active. */
  async remove(clientId: string, resourceId: string, request?: RequestContext, actor?: AuditEvent['actor']): Promise<void> {
    await this.requireClient(clientId);
    const resource = await this.requireResource(resourceId);
    await this.database.transaction(async (tx) => {
      const current = await this.grants.find(tx, clientId, resource.id, 'update');
      if (!current) throw new NotFound(`client ${clientId} has no client credentials grant for resource server ${resourceId}`);
      await this.grants.delete(tx, current.id);
      await this.cache.invalidate(tx, 'grant', [current.id]);
      await this.audit.record(tx, {
        type: 'admin.client_credentials_removed',
        clientId,
        resource: resource.resource,
        scopes: current.scopes,
        request,
        actor,
        data: { resource_id: resource.id, grant_id: current.id, scopes: current.scopes },
      });
    });
  }

  private async requireClient(clientId: string) {
    const client = await this.clients.find(clientId);
    if (!client) throw new NotFound(`no client with id ${clientId}`);
    return client;
  }

  private async requireResource(resourceId: string) {
    if (!isUuid(resourceId)) throw new NotFound(`no resource server with id ${resourceId}`);
    return this.resources.get(resourceId);
  }

  private view(row: ClientCredentialsGrantEntity, resource: string): ClientCredentialsGrantView {
    return {
      id: row.id,
      client_id: row.clientId,
      resource_id: row.resourceId,
      resource,
      scopes: row.scopes,
      created_at: row.createdAt.toISOString(),
      created_by: row.createdBy,
      updated_at: row.updatedAt.toISOString(),
    };
  }
}

/** `{ "scopes": [...] }`: at least one scope, each once, in the order given. */
function parseScopes(input: unknown): string[] {
  const scopes = typeof input === 'object' && input !== null ? (input as Record<string, unknown>).scopes : undefined;
  if (!Array.isArray(scopes) || scopes.length === 0 || scopes.length > 100 || !scopes.every((scope) => typeof scope === 'string' && scope.length > 0 && scope.length <= 200)) {
    throw new InvalidRequest('scopes must be a non-empty array of the resource server\'s scopes');
  }
  return [...new Set(scopes as string[])];
}

function sameScopes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((scope) => b.includes(scope));
}
