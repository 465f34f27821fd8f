import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { randomToken, safeEqual, sha256 } from '../common/crypto.js';
import { InvalidClientMetadata, InvalidToken, NotFound } from '../common/oauth-errors.js';
import { Database } from '../database/database.module.js';
import type { Tx } from '../database/data-source.js';
import { AuditLog } from '../audit/audit-log.js';
import { ClientRepository } from './client.repository.js';
import type { ClientEntity } from './client.entity.js';
import { validateClientMetadata, type ClientMetadata } from './client-metadata.js';
import { ClientMetadataDocuments, isClientIdUrl, type ResolvedClient } from './client-metadata-document.js';

const CLIENT_SECRET_PREFIX = 'gh_cs_';
const REGISTRATION_TOKEN_PREFIX = 'gh_rat_';

/** RFC 7591 §3.2.1 registration response: the metadata plus what the server assigned. */
export interface ClientRegistrationView extends ClientMetadata {
  client_id: string;
  client_id_issued_at: number;
  client_secret?: string;
  client_secret_expires_at?: number;
  registration_access_token?: string;
  registration_client_uri?: string;
}

export interface RegisteredClient {
  client: ClientEntity;
  clientSecret: string | null;
  registrationAccessToken: string | null;
}

@Injectable()
export class ClientsService {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly database: Database,
    private readonly repository: ClientRepository,
    private readonly audit: AuditLog,
    private readonly documents: ClientMetadataDocuments,
  ) {}

  /**
   * The client row as recorded: for admin operations and for steps that follow a request already checked at
   * /authorize (the consent pages). Never fetches anything.
   */
  find(clientId: string): Promise<ClientEntity | null> {
    return this.repository.findById(clientId);
  }

  /**
   * The client a request names, as /authorize, /token and the mint API see it: a registered client, or (when
   * CIMD is enabled) the client a metadata document URL describes, fetched unless a recorded copy is still fresh.
   * Null for an unknown id; a URL that cannot be used throws MetadataDocumentError. A freshly fetched document is
   * not written yet: see `recordFetched`.
   */
  async resolve(clientId: string, requestId?: string): Promise<ResolvedClient | null> {
    if (isClientIdUrl(clientId)) return this.config.cimd.enabled ? this.documents.resolve(clientId, requestId) : null;
    const client = await this.repository.findById(clientId);
    return client && client.kind !== 'metadata_document' ? { client, fetched: null } : null;
  }

  /** Writes a document `resolve` fetched, inside the transaction of the change the request makes. */
  recordFetched(tx: Tx, resolved: ResolvedClient, mode: 'insert' | 'update', requestId?: string): Promise<void> {
    return this.documents.record(tx, resolved, mode, requestId);
  }

  /** The same, for a request that makes no other change. */
  recordFetchedAlone(resolved: ResolvedClient, mode: 'insert' | 'update', requestId?: string): Promise<void> {
    return this.documents.recordAlone(resolved, mode, requestId);
  }

  list(): Promise<ClientEntity[]> {
    return this.repository.list();
  }

  /** Dynamic registration (RFC 7591) or, with kind `static`, pre-registration by an administrator. */
  async register(input: Record<string, unknown>, kind: 'dynamic' | 'static', requestId?: string): Promise<RegisteredClient> {
    const metadata = validateClientMetadata(input);
    const clientSecret = metadata.token_endpoint_auth_method === 'none' ? null : CLIENT_SECRET_PREFIX + randomToken();
    // Pre-registered clients are managed through the admin API, not RFC 7592.
    const registrationAccessToken = kind === 'dynamic' ? REGISTRATION_TOKEN_PREFIX + randomToken() : null;
    const client = await this.database.transaction(async (tx) => {
      const created = await this.repository.insert(tx, {
        id: randomUUID(),
        kind,
        metadata,
        secretHash: clientSecret ? sha256(clientSecret) : null,
        registrationTokenHash: registrationAccessToken ? sha256(registrationAccessToken) : null,
      });
      await this.audit.record(tx, {
        type: kind === 'dynamic' ? 'client.registered' : 'admin.client_created',
        clientId: created.id,
        requestId,
        data: { client_name: metadata.client_name ?? null, auth_method: metadata.token_endpoint_auth_method },
      });
      return created;
    });
    return { client, clientSecret, registrationAccessToken };
  }

  /** RFC 7592: the registration access token is the only credential for the client's configuration endpoint. */
  async authenticateRegistration(clientId: string, authorization: string | undefined): Promise<ClientEntity> {
    const token = /^Bearer ([^\s]+)$/i.exec(authorization ?? '')?.[1];
    const challenge = token ? 'Bearer error="invalid_token"' : 'Bearer';
    const client = token ? await this.repository.findById(clientId) : null;
    // Only dynamic registrations have a configuration endpoint; metadata-document clients are managed by their URL.
    if (!token || client?.kind !== 'dynamic' || !client.registrationTokenHash || !safeEqual(sha256(token), client.registrationTokenHash)) {
      throw new InvalidToken('a valid registration access token is required').withChallenge(challenge);
    }
    return client;
  }

  /** RFC 7592 §2.2: the request carries the complete new metadata; the secret is kept unless the auth method changes. */
  async updateRegistration(client: ClientEntity, input: Record<string, unknown>, requestId?: string): Promise<RegisteredClient> {
    if (input.client_id !== client.id) throw new InvalidClientMetadata('client_id in the body must equal the client being updated');
    if (input.client_secret !== undefined) {
      if (typeof input.client_secret !== 'string' || !client.secretHash || !safeEqual(sha256(input.client_secret), client.secretHash)) {
        throw new InvalidClientMetadata('client_secret does not match the current secret');
      }
    }
    const metadata = validateClientMetadata(input);
    const wasPublic = client.metadata.token_endpoint_auth_method === 'none';
    const isPublic = metadata.token_endpoint_auth_method === 'none';
    const clientSecret = !isPublic && wasPublic ? CLIENT_SECRET_PREFIX + randomToken() : null;
    const secretHash = isPublic ? null : clientSecret ? sha256(clientSecret) : client.secretHash;
    const updated = await this.database.transaction(async (tx) => {
      await this.repository.updateMetadata(tx, client.id, metadata, secretHash);
      await this.audit.record(tx, { type: 'client.updated', clientId: client.id, requestId });
      return (await this.repository.findById(client.id, tx))!;
    });
    return { client: updated, clientSecret, registrationAccessToken: null };
  }

  async delete(clientId: string, type: 'client.deleted' | 'admin.client_deleted', requestId?: string): Promise<void> {
    await this.database.transaction(async (tx) => {
      if (!(await this.repository.delete(tx, clientId))) throw new NotFound(`no client with id ${clientId}`);
      await this.audit.record(tx, { type, clientId, requestId });
    });
  }

  view(registered: RegisteredClient | ClientEntity): ClientRegistrationView {
    const { client, clientSecret, registrationAccessToken } =
      'client' in registered ? registered : { client: registered, clientSecret: null, registrationAccessToken: null };
    const view: ClientRegistrationView = {
      client_id: client.id,
      client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
      ...client.metadata,
    };
    if (clientSecret) view.client_secret = clientSecret;
    if (client.metadata.token_endpoint_auth_method !== 'none') view.client_secret_expires_at = 0;
    if (registrationAccessToken) view.registration_access_token = registrationAccessToken;
    if (client.kind === 'dynamic') view.registration_client_uri = `${this.config.issuer}/register/${encodeURIComponent(client.id)}`;
    return view;
  }
}
