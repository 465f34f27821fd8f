import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { GATEHOUSE_CONFIG, type CimdConfig, type GatehouseConfig, type RegistrationConfig } from '../config/config.js';
import { hashMatches, randomToken, sha256 } from '../common/crypto.js';
import { AccessDenied, InvalidClientMetadata, InvalidToken, NotFound } from '../common/oauth-errors.js';
import { Database } from '../database/database.module.js';
import { RecordCache } from '../database/record-cache.js';
import type { Tx } from '../database/data-source.js';
import { AuditLog, type AuditEvent } from '../audit/audit-log.js';
import { ClientRepository, type ExpiredClient } from './client.repository.js';
import type { ClientEntity } from './client.entity.js';
import { usesClientSecret, validateClientMetadata, type ClientMetadata } from './client-metadata.js';
import { assertJwksUriReachable } from './client-keys.js';
import { ClientMetadataDocuments, isClientIdUrl, type ResolvedClient } from './client-metadata-document.js';
import { metadataFingerprint } from './client-fingerprint.js';
import { InitialAccessTokens, type PresentedInitialAccessToken } from './initial-access-tokens.service.js';
import type { RequestContext } from '../common/http.js';

const CLIENT_SECRET_PREFIX = 'gh_cs_';
const REGISTRATION_TOKEN_PREFIX = 'gh_rat_';

/**
 * How precisely a client's last use is recorded: a use within this long of the recorded one writes nothing, so
 * /token and /authorize add no write (and no round trip) for a client in regular use.
 */
export const CLIENT_USE_RESOLUTION_MS = 3600_000;

/** Earlier identical registrations a new one may remove at once (there are only as many as arrived recently). */
const SUPERSEDE_LIMIT = 100;

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
    private readonly initialAccessTokens: InitialAccessTokens,
    private readonly cache: RecordCache,
  ) {}

  /**
   * The client row as recorded: for admin operations and for steps that follow a request already checked at
   * /authorize (the sign-in and consent pages). Never fetches anything. Registered clients come from the
   * RecordCache (frozen), like `resolve`'s; metadata-document clients are read each time.
   */
  find(clientId: string): Promise<ClientEntity | null> {
    return this.cache.read('client', clientId, () => this.repository.findById(clientId), { keep: isRegistered });
  }

  /**
   * The client a request names, as /authorize, /token and the mint API see it: a registered client, or (when
   * CIMD is enabled) the client a metadata document URL describes, fetched unless a recorded copy is still fresh.
   * Null for an unknown id; a URL that cannot be used throws MetadataDocumentError. A freshly fetched document is
   * not written yet: see `recordFetched`. Registered clients come from the RecordCache (they are read on every
   * /token, /introspect and /revoke request); the returned entity is frozen.
   */
  async resolve(clientId: string, context?: RequestContext): Promise<ResolvedClient | null> {
    if (isClientIdUrl(clientId)) return this.config.cimd.enabled ? this.documents.resolve(clientId, context) : null;
    const client = await this.cache.read('client', clientId, () => this.repository.findById(clientId), { keep: isRegistered });
    return isRegistered(client) ? { client, fetched: null } : null;
  }

  /** Whether the RecordCache holds `clientId` as a registered client right now (reads nothing). */
  isCached(clientId: string): boolean {
    return this.cache.has('client', clientId);
  }

  /**
   * Writes a document `resolve` fetched, inside the transaction of the change the request makes. Recording a URL
   * for the first time (`insert`) creates a client, so it is admitted against CIMD_MAX_CLIENTS first: at the cap it
   * throws MetadataDocumentLimitReached, and the caller's transaction writes nothing.
   */
  async recordFetched(tx: Tx, resolved: ResolvedClient, mode: 'insert' | 'update', context?: RequestContext): Promise<void> {
    if (mode === 'insert' && resolved.fetched?.firstRecording) await this.admitMetadataDocument(tx, resolved.client.id);
    await this.documents.record(tx, resolved, mode, context);
  }

  /** The same, for a request that makes no other change. */
  async recordFetchedAlone(resolved: ResolvedClient, mode: 'insert' | 'update', context?: RequestContext): Promise<void> {
    if (!resolved.fetched) return;
    await this.database.transaction((tx) => this.recordFetched(tx, resolved, mode, context));
  }

  /**
   * The cap on metadata-document clients, checked under the admission lock like the registration cap, so that
   * concurrent first recordings on any number of instances never overshoot it. Only URLs not recorded when their
   * request looked them up come here: a known client keeps working at the cap. One that another request recorded
   * meanwhile is let through too (its insert becomes a refresh). A row the expiry job deleted between the lookup and
   * this request's insert comes back without being counted: at most one row per such coincidence.
   */
  private async admitMetadataDocument(tx: Tx, clientId: string): Promise<void> {
    await this.repository.lockAdmissions(tx, 'metadata_document');
    const max = this.config.cimd.maxClients;
    if ((await this.repository.countKind(tx, 'metadata_document', max)) < max) return;
    if (await this.repository.findById(clientId, tx)) return;
    throw new MetadataDocumentLimitReached(this.config.cimd);
  }

  list(): Promise<ClientEntity[]> {
    return this.repository.list();
  }

  /**
   * Dynamic registration (RFC 7591) or, with kind `static`, pre-registration by an administrator. A dynamic
   * registration presents its initial access token (if any) in `authorization`; that is checked first, then the
   * metadata, then in one transaction under the registration lock: identical unused earlier registrations are
   * removed, the cap is enforced, one use of the initial access token is spent, and the client is inserted. A
   * refusal at any step writes nothing.
   */
  async register(input: Record<string, unknown>, kind: 'dynamic' | 'static', context?: RequestContext, authorization?: string): Promise<RegisteredClient> {
    const initialAccessToken = kind === 'dynamic' ? await this.initialAccessTokens.presented(authorization) : null;
    const metadata = this.validateMetadata(input);
    const clientSecret = usesClientSecret(metadata.token_endpoint_auth_method) ? CLIENT_SECRET_PREFIX + randomToken() : null;
    // Pre-registered clients are managed through the admin API, not RFC 7592.
    const registrationAccessToken = kind === 'dynamic' ? REGISTRATION_TOKEN_PREFIX + randomToken() : null;
    const id = randomUUID();
    const secretExpiresAt = clientSecret && kind === 'dynamic' ? this.newSecretExpiry() : null;
    const fingerprint = kind === 'dynamic' ? metadataFingerprint(metadata) : null;
    const client = await this.database.transaction(async (tx) => {
      const initialAccessTokenId = fingerprint ? await this.admitDynamic(tx, { id, fingerprint, initialAccessToken }, context) : null;
      const created = await this.repository.insert(tx, {
        id,
        kind,
        metadata,
        secretHash: clientSecret ? sha256(clientSecret) : null,
        secretExpiresAt,
        registrationTokenHash: registrationAccessToken ? sha256(registrationAccessToken) : null,
        metadataFingerprint: fingerprint,
        initialAccessTokenId,
      });
      await this.audit.record(tx, {
        type: kind === 'dynamic' ? 'client.registered' : 'admin.client_created',
        clientId: created.id,
        request: context,
        data: {
          client_name: metadata.client_name ?? null,
          auth_method: metadata.token_endpoint_auth_method,
          ...(initialAccessTokenId ? { initial_access_token_id: initialAccessTokenId } : {}),
        },
      });
      return created;
    });
    return { client, clientSecret, registrationAccessToken };
  }

  /**
   * The steps of a dynamic registration that need the registration lock; returns the initial access token used.
   *
   * Identical re-registrations: software that registers on every start (the same metadata each time) would leave a
   * new idle row per start. Earlier rows with the same fingerprint and initial access token that were never used,
   * hold no grant, and are older than an authorization can take (so none is mid-authorization) are deleted here.
   * The rows are replaced, never shared: each registration gets its own client secret and registration access
   * token, so handing an existing client to whoever sends identical metadata would give them control of someone
   * else's client (its RFC 7592 configuration, and its secret-authenticated token requests).
   */
  private async admitDynamic(
    tx: Tx,
    registration: { id: string; fingerprint: string; initialAccessToken: PresentedInitialAccessToken | null },
    context: RequestContext | undefined,
  ): Promise<string | null> {
    await this.repository.lockAdmissions(tx, 'dynamic');
    const superseded = await this.repository.deleteSuperseded(tx, {
      fingerprint: registration.fingerprint,
      initialAccessTokenId: registration.initialAccessToken?.id ?? null,
      registeredBeforeSeconds: this.config.interactionTtlSeconds,
      limit: SUPERSEDE_LIMIT,
    });
    await this.cache.invalidate(tx, 'client', superseded.map((client) => client.id));
    for (const client of superseded) await this.audit.record(tx, { ...clientExpiredEvent(client, { superseded_by: registration.id }), request: context });
    const max = this.config.registration.maxDynamicClients;
    if ((await this.repository.countKind(tx, 'dynamic', max)) >= max) throw registrationLimitReached(this.config.registration);
    return registration.initialAccessToken ? this.initialAccessTokens.consume(tx, registration.initialAccessToken) : null;
  }

  /**
   * Records that the client was used (an accepted /authorize, a token issued to it), inside the transaction of that
   * use. Nothing is written when the row the caller already read shows a use within CLIENT_USE_RESOLUTION_MS.
   */
  async recordUse(tx: Tx, client: Pick<ClientEntity, 'id' | 'lastUsedAt'>): Promise<void> {
    if (!this.useDue(client)) return;
    this.useRecorded(tx, client.id, await this.repository.recordUse(tx, client.id, CLIENT_USE_RESOLUTION_MS / 1000));
  }

  /** Whether a use of `client` (as the caller read it) would be recorded: none within CLIENT_USE_RESOLUTION_MS. */
  useDue(client: Pick<ClientEntity, 'lastUsedAt'>): boolean {
    return !client.lastUsedAt || Date.now() - client.lastUsedAt.getTime() >= CLIENT_USE_RESOLUTION_MS;
  }

  /**
   * After `tx` commits, brings the RecordCache's copy of the client's last use up to date, so that the requests
   * that follow skip the write again for CLIENT_USE_RESOLUTION_MS instead of attempting it on every request: to
   * `recordedAt` when `tx` wrote it, otherwise (null: a more recent use recorded by another instance made the
   * conditional update write nothing, or the caller cannot tell) by evicting the client, so that the next request
   * reads the recorded use. Other instances are not told: a stale last use costs each of them that same one
   * attempt. recordUse calls this itself; a statement that records a use on its own must call it too.
   */
  useRecorded(tx: Tx, clientId: string, recordedAt: Date | null): void {
    const refresh = () => {
      if (recordedAt) this.cache.update<ClientEntity>('client', clientId, (cached) => withLastUse(cached, recordedAt));
      else this.cache.evict('client', [clientId]);
    };
    if (!this.database.afterCommit(tx, refresh)) refresh();
  }

  /** RFC 7592: the registration access token is the only credential for the client's configuration endpoint. */
  async authenticateRegistration(clientId: string, authorization: string | undefined): Promise<ClientEntity> {
    const token = /^Bearer ([^\s]+)$/i.exec(authorization ?? '')?.[1];
    const challenge = token ? 'Bearer error="invalid_token"' : 'Bearer';
    const client = token ? await this.repository.findById(clientId) : null;
    // Only dynamic registrations have a configuration endpoint; metadata-document clients are managed by their URL.
    if (!token || client?.kind !== 'dynamic' || !client.registrationTokenHash || !hashMatches(token, client.registrationTokenHash)) {
      throw new InvalidToken('a valid registration access token is required').withChallenge(challenge);
    }
    return client;
  }

  /**
   * When a new secret of a dynamic client stops being accepted: DCR_CLIENT_SECRET_DAYS from now, or never (null).
   * Pre-registered clients' secrets are managed by their administrator and never expire.
   */
  private newSecretExpiry(): Date | null {
    const ttl = this.config.registration.clientSecretTtlMs;
    return ttl > 0 ? new Date(Date.now() + ttl) : null;
  }

  /**
   * RFC 7592 §2.2: the request carries the complete new metadata. The secret is kept, except that a client becoming
   * confidential gets one, and a secret that expires (or would, under DCR_CLIENT_SECRET_DAYS) is renewed: every
   * update issues a new one with a new expiry, returned in the response as RFC 7592 §2.2 allows. This is how a client
   * renews its secret, before or after it expired: its registration access token, not the secret, authorizes this.
   */
  async updateRegistration(client: ClientEntity, input: Record<string, unknown>, context?: RequestContext): Promise<RegisteredClient> {
    if (input.client_id !== client.id) throw new InvalidClientMetadata('client_id in the body must equal the client being updated');
    if (input.client_secret !== undefined) {
      if (typeof input.client_secret !== 'string' || !client.secretHash || !hashMatches(input.client_secret, client.secretHash)) {
        throw new InvalidClientMetadata('client_secret does not match the current secret');
      }
    }
    const metadata = this.validateMetadata(input);
    const hadSecret = usesClientSecret(client.metadata.token_endpoint_auth_method) && client.secretHash !== null;
    const needsSecret = usesClientSecret(metadata.token_endpoint_auth_method);
    const expiring = client.secretExpiresAt !== null || this.config.registration.clientSecretTtlMs > 0;
    const clientSecret = needsSecret && (!hadSecret || expiring) ? CLIENT_SECRET_PREFIX + randomToken() : null;
    const secretHash = !needsSecret ? null : clientSecret ? sha256(clientSecret) : client.secretHash;
    const secretExpiresAt = !needsSecret ? null : clientSecret ? this.newSecretExpiry() : client.secretExpiresAt;
    const updated = await this.database.transaction(async (tx) => {
      await this.cache.invalidate(tx, 'client', [client.id]);
      await this.repository.updateMetadata(tx, client.id, {
        metadata,
        secretHash,
        secretExpiresAt,
        metadataFingerprint: client.kind === 'dynamic' ? metadataFingerprint(metadata) : null,
      });
      await this.audit.record(tx, { type: 'client.updated', clientId: client.id, request: context, data: { secret_renewed: clientSecret !== null && hadSecret } });
      return (await this.repository.findById(client.id, tx))!;
    });
    return { client: updated, clientSecret, registrationAccessToken: null };
  }

  /** Registration metadata, with a jwks_uri on an address Gatehouse would never fetch from refused at once. */
  private validateMetadata(input: Record<string, unknown>): ClientMetadata {
    const metadata = validateClientMetadata(input);
    assertJwksUriReachable(metadata.jwks_uri, { allowLoopback: this.config.cimd.allowLoopback });
    return metadata;
  }

  /** `actor`: who deleted it, when not the one the event type implies (a console operator). */
  async delete(clientId: string, type: 'client.deleted' | 'admin.client_deleted', context?: RequestContext, actor?: AuditEvent['actor']): Promise<void> {
    await this.database.transaction(async (tx) => {
      if (!(await this.repository.delete(tx, clientId))) throw new NotFound(`no client with id ${clientId}`);
      await this.cache.invalidate(tx, 'client', [clientId]);
      await this.audit.record(tx, { type, clientId, request: context, actor });
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
    // RFC 7591 §3.2.1: 0 means the secret does not expire.
    if (usesClientSecret(client.metadata.token_endpoint_auth_method)) view.client_secret_expires_at = client.secretExpiresAt ? Math.floor(client.secretExpiresAt.getTime() / 1000) : 0;
    if (registrationAccessToken) view.registration_access_token = registrationAccessToken;
    if (client.kind === 'dynamic') view.registration_client_uri = `${this.config.issuer}/register/${encodeURIComponent(client.id)}`;
    return view;
  }
}

/** What the RecordCache keeps: registered clients. Metadata-document clients have their own freshness rules. */
function isRegistered(client: ClientEntity | null): client is ClientEntity {
  return client !== null && client.kind !== 'metadata_document';
}

/** A copy of a (frozen) client with another last use. */
function withLastUse(client: ClientEntity, lastUsedAt: Date): ClientEntity {
  return Object.assign(Object.create(Object.getPrototypeOf(client) as object) as ClientEntity, client, { lastUsedAt });
}

/** The audit event for a client deleted because it expired or an identical registration replaced it. */
export function clientExpiredEvent(client: ExpiredClient, extra: Record<string, string> = {}): AuditEvent {
  return {
    type: 'client.expired',
    clientId: client.id,
    data: {
      kind: client.kind,
      reason: client.reason,
      registered_at: client.createdAt.toISOString(),
      last_used_at: client.lastUsedAt?.toISOString() ?? null,
      ...extra,
    },
  };
}

/** 403 access_denied that says what the limit is and when room is made. */
export function registrationLimitReached(config: RegistrationConfig): AccessDenied {
  const unused = `unused clients expire after ${count(config.unusedClientTtlMs / 3_600_000, 'hour')}`;
  const idle = config.idleClientTtlMs > 0 ? `, idle ones ${count(config.idleClientTtlMs / 86_400_000, 'day')} after their last use` : '';
  return new AccessDenied(`dynamic client registration limit reached (${config.maxDynamicClients} clients); ${unused}${idle}`);
}

/**
 * 403 access_denied for a metadata document URL recorded for the first time while CIMD_MAX_CLIENTS such clients
 * exist; `roomMade` says when room is made. Not a MetadataDocumentError: nothing is wrong with the URL or its
 * document, and (as at the registration cap) nothing is written about it. The mint API answers it as it is;
 * /authorize shows the person a page instead.
 */
export class MetadataDocumentLimitReached extends AccessDenied {
  readonly maxClients: number;
  readonly roomMade: string;

  constructor(config: Pick<CimdConfig, 'maxClients' | 'unusedClientTtlMs' | 'idleClientTtlMs'>) {
    const unused = `clients never issued tokens expire ${count(config.unusedClientTtlMs / 3_600_000, 'hour')} after their last use`;
    const idle = config.idleClientTtlMs > 0 ? `, others ${count(config.idleClientTtlMs / 86_400_000, 'day')} after their last use` : '';
    super(`client metadata document limit reached (${config.maxClients} clients); ${unused}${idle}`);
    this.maxClients = config.maxClients;
    this.roomMade = `${unused}${idle}`;
  }
}

function count(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}
