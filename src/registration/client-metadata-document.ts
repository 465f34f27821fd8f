import { Inject, Injectable, Logger } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type CimdConfig, type GatehouseConfig } from '../config/config.js';
import { OAuthError } from '../common/oauth-errors.js';
import { isStorableText } from '../common/validation.js';
import type { Tx } from '../database/data-source.js';
import { Database } from '../database/database.module.js';
import { AuditLog } from '../audit/audit-log.js';
import type { AuditEventData } from '../audit/audit-event.entity.js';
import { scrubSecrets } from '../audit/audit-schema.js';
import { ClientRepository } from './client.repository.js';
import { ClientEntity } from './client.entity.js';
import { validateClientMetadata, type ClientMetadata } from './client-metadata.js';
import { cacheLifetimeSeconds, MetadataFetcher } from './metadata-fetcher.js';
import { MetadataDocumentError } from './metadata-document-error.js';
import type { RequestContext } from '../common/http.js';

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, MCP authorization 2025-11-25): a
 * client identifies itself with an https URL, and Gatehouse fetches its metadata from that URL.
 */

const MAX_CLIENT_ID_URL_LENGTH = 2000;
const SHARED_SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post', 'client_secret_jwt']);
/** Dot segments as WHATWG URL parsing recognises them, percent-encoded dots included. */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * A client as a request names it. `fetched` is a document fetched for this request and not yet recorded: it is
 * written together with the first change the request makes, so a request that fails writes no client.
 */
export interface ResolvedClient {
  client: ClientEntity;
  fetched: FetchedClientDocument | null;
}

export interface FetchedClientDocument {
  metadata: ClientMetadata;
  expiresAt: Date;
  cacheSeconds: number;
  /** No row recorded the URL when it was looked up: recording it creates a client (admitted against the cap). */
  firstRecording: boolean;
}

/** Registered client ids are UUIDs; anything with a URI scheme is a metadata document URL (valid or not). */
export function isClientIdUrl(clientId: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(clientId);
}

/**
 * The client identifier URL rules (draft §3): https, a path, no fragment, no credentials, no `.` or `..`
 * segments. Gatehouse also requires the URL in its normalised form (as `new URL(id).href` writes it): the id is
 * compared to the document's `client_id` as a plain string and keys consents and grants, so two spellings of one
 * URL would be two clients, and the host shown on the consent page must be the one actually contacted.
 */
export function parseClientIdUrl(clientId: string): URL {
  const refuse = (why: string) => new MetadataDocumentError('invalid_client_id', `the client_id URL ${why}`);
  if (clientId.length > MAX_CLIENT_ID_URL_LENGTH || !isStorableText(clientId)) throw refuse(`is not a URL of at most ${MAX_CLIENT_ID_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw refuse('is not a valid URL');
  }
  if (url.protocol !== 'https:') throw refuse('must use https');
  if (clientId.includes('#')) throw refuse('must not contain a fragment');
  if (url.username || url.password || /^https:\/\/[^/?#]*@/i.test(clientId)) throw refuse('must not contain credentials');
  const rawPath = /^https:\/\/[^/?#]*([^?#]*)/i.exec(clientId)?.[1] ?? '';
  if (rawPath.split('/').some((segment) => DOT_SEGMENT.test(segment))) throw refuse('must not contain . or .. path segments');
  if (url.pathname === '/' || url.pathname === '') throw refuse('must have a path (such as https://app.example.com/oauth/client.json)');
  if (url.href !== clientId) throw refuse(`must be written in normalised form (${url.href})`);
  return url;
}

/**
 * The document rules (draft §4, §8): a JSON object whose `client_id` is exactly the URL it was fetched from,
 * with `client_name` and `redirect_uris`; no shared secret of any kind. The client is public (`none`), or proves
 * itself with a key (`private_key_jwt`, with `jwks` or `jwks_uri` in the document).
 */
export function validateMetadataDocument(clientId: string, json: unknown): ClientMetadata {
  const refuse = (why: string) => new MetadataDocumentError('invalid_document', why);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw refuse('the document is not a JSON object');
  const document = json as Record<string, unknown>;
  if (document.client_id !== clientId) throw refuse('the client_id in the document is not exactly the URL it was fetched from');
  if (document.client_secret !== undefined || document.client_secret_expires_at !== undefined) {
    throw refuse('the document contains client_secret or client_secret_expires_at; a client metadata document cannot carry a shared secret');
  }
  const method = document.token_endpoint_auth_method ?? 'none';
  if (typeof method === 'string' && SHARED_SECRET_METHODS.has(method)) {
    throw refuse(`the document asks for ${method}, a shared-secret method a client metadata document cannot use; use "none" or "private_key_jwt"`);
  }
  if (method !== 'none' && method !== 'private_key_jwt') throw refuse('token_endpoint_auth_method in the document must be "none" or "private_key_jwt"');
  if (document.client_name === undefined || document.client_name === null) throw refuse('the document has no client_name');
  if (document.redirect_uris === undefined || document.redirect_uris === null) throw refuse('the document has no redirect_uris');
  // A public client's keys would be keys nothing checks: ignored, as any other field Gatehouse does not use.
  const { jwks, jwks_uri: jwksUri, ...rest } = document;
  const keys = method === 'private_key_jwt' ? { jwks, jwks_uri: jwksUri } : {};
  try {
    return validateClientMetadata({ ...rest, ...keys, token_endpoint_auth_method: method });
  } catch (error) {
    if (error instanceof OAuthError) throw refuse(`the document's metadata is invalid: ${error.description}`);
    throw error;
  }
}

/**
 * Resolves metadata-document client ids. The cache is the client's own row: `metadata_expires_at` says until when
 * its recorded document may be used, so every instance sharing the database, and a restarted one, use a document
 * fetched by any of them; invalid documents and failures are never recorded, so they are fetched again next time.
 * In memory there is only the single-flight map: concurrent requests for one URL share one fetch.
 */
@Injectable()
export class ClientMetadataDocuments {
  private readonly logger = new Logger('ClientMetadataDocuments');
  private readonly settings: CimdConfig;
  private readonly inFlight = new Map<string, Promise<ResolvedClient>>();

  constructor(
    @Inject(GATEHOUSE_CONFIG) config: GatehouseConfig,
    private readonly database: Database,
    private readonly repository: ClientRepository,
    private readonly fetcher: MetadataFetcher,
    private readonly audit: AuditLog,
  ) {
    this.settings = config.cimd;
  }

  /**
   * The client a metadata document URL names; throws MetadataDocumentError if it cannot be used. The refusal is
   * audited once per fetch (concurrent requests share one), and logged at warn for every request it refuses, under
   * that request's id: the only place, with the audit event, where the reason is told (see MetadataDocumentError).
   */
  async resolve(clientId: string, context?: RequestContext): Promise<ResolvedClient> {
    try {
      return await this.resolveShared(clientId, context);
    } catch (error) {
      if (error instanceof MetadataDocumentError) {
        // Scrubbed as the audit event's data is: a token pasted into a client_id does not reach the log either.
        const { data } = scrubSecrets(rejection(clientId, error).data);
        this.logger.warn({ msg: 'client metadata document rejected', request_id: context?.requestId, ...data });
      }
      throw error;
    }
  }

  private async resolveShared(clientId: string, context: RequestContext | undefined): Promise<ResolvedClient> {
    let url: URL;
    try {
      url = parseClientIdUrl(clientId);
    } catch (error) {
      if (error instanceof MetadataDocumentError) await this.recordRejection(clientId, error, context);
      throw error;
    }
    const running = this.inFlight.get(clientId);
    if (running) return running;
    const lookup = this.lookup(clientId, url, context).finally(() => this.inFlight.delete(clientId));
    this.inFlight.set(clientId, lookup);
    return lookup;
  }

  /**
   * Writes a document fetched for this request into the client's row (`insert`: creating it on first use, as
   * /authorize does with the interaction that needs it; `update`: only refreshing an existing row, as /token does,
   * since no grant can exist for a client that was never recorded) and records `client.metadata_fetched` once.
   * Callers go through ClientsService.recordFetched, which first admits a first recording against the cap.
   */
  async record(tx: Tx, resolved: ResolvedClient, mode: 'insert' | 'update', context?: RequestContext): Promise<void> {
    const { client, fetched } = resolved;
    if (!fetched) return;
    const changed = await this.repository.recordMetadataDocument(tx, { id: client.id, metadata: fetched.metadata, expiresAt: fetched.expiresAt }, mode);
    if (!changed) return;
    await this.audit.record(tx, {
      type: 'client.metadata_fetched',
      clientId: client.id,
      request: context,
      data: { url: client.id, cache_seconds: fetched.cacheSeconds },
    });
  }

  private async lookup(clientId: string, url: URL, context: RequestContext | undefined): Promise<ResolvedClient> {
    const recorded = await this.repository.findById(clientId);
    if (recorded && (recorded.kind !== 'metadata_document' || (recorded.metadataExpiresAt?.getTime() ?? 0) > Date.now())) {
      return { client: recorded, fetched: null };
    }
    try {
      const response = await this.fetcher.fetch(url);
      const metadata = validateMetadataDocument(clientId, response.json);
      const cacheSeconds = cacheLifetimeSeconds(response.cacheHeaders, { min: this.settings.cacheMinSeconds, max: this.settings.cacheMaxSeconds });
      const now = new Date();
      const expiresAt = new Date(now.getTime() + cacheSeconds * 1000);
      const client = Object.assign(new ClientEntity(), {
        id: clientId,
        kind: 'metadata_document',
        metadata,
        secretHash: null,
        secretExpiresAt: null,
        registrationTokenHash: null,
        createdAt: recorded?.createdAt ?? now,
        updatedAt: now,
        lastUsedAt: recorded?.lastUsedAt ?? null,
        metadataExpiresAt: expiresAt,
        metadataFingerprint: null,
        initialAccessTokenId: null,
      } satisfies ClientEntity);
      return { client, fetched: { metadata, expiresAt, cacheSeconds, firstRecording: recorded === null } };
    } catch (error) {
      if (error instanceof MetadataDocumentError) await this.recordRejection(clientId, error, context);
      throw error;
    }
  }

  private async recordRejection(clientId: string, error: MetadataDocumentError, context: RequestContext | undefined): Promise<void> {
    const { url, data } = rejection(clientId, error);
    await this.database.transaction((tx) => this.audit.record(tx, { type: 'client.metadata_rejected', clientId: url, request: context, data }));
  }
}

/**
 * Why a document was refused, as the audit event and the warning both carry it. The id comes from the request: it
 * is kept only if the database can hold it (otherwise the audit write would be a 500).
 */
function rejection(clientId: string, error: MetadataDocumentError): { url: string | null; data: AuditEventData } {
  const url = clientId.length <= MAX_CLIENT_ID_URL_LENGTH && isStorableText(clientId) ? clientId : null;
  return { url, data: { ...error.auditDetail, url, reason: error.reason, description: error.description } };
}
