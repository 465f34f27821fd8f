import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { Database } from '../database/database.module.js';
import { deleteInBatches, PeriodicJob } from '../database/housekeeping.js';
import { RecordCache } from '../database/record-cache.js';
import { AuditLog } from '../audit/audit-log.js';
import { ClientRepository } from './client.repository.js';
import { ClientAssertionJtiRepository } from './client-assertion-jti.repository.js';
import { CLIENT_USE_RESOLUTION_MS, clientExpiredEvent } from './clients.service.js';

const EVERY_MS = 3600_000;
/** The first run comes this soon after boot, so a restart never postpones expiry by a whole interval. */
const FIRST_RUN_AFTER_MS = 60_000;

/**
 * Clients that anyone can create expire by use, never by age alone. Dynamic ones: one never used is deleted
 * DCR_UNUSED_CLIENT_HOURS after it registered, one not used for DCR_IDLE_CLIENT_DAYS (unless 0) after its last use.
 * Metadata-document ones: one never issued tokens is deleted CIMD_UNUSED_CLIENT_HOURS after its last use (its first
 * /authorize recorded it), one issued tokens CIMD_IDLE_CLIENT_DAYS (unless 0) after its last use. Either kind is kept
 * however idle while it holds a live refresh token, since its user can still come back through it. Deleted in
 * batches, each batch in its own transaction with a `client.expired` event per client. A deleted dynamic client's
 * next request gets 401 invalid_client at /token, so MCP clients register again; a deleted metadata-document
 * client's URL is simply fetched and recorded again by its next /authorize. The jtis of expired client assertions
 * are deleted with them.
 */
@Injectable()
export class ClientsHousekeeping extends PeriodicJob {
  private firstRun: NodeJS.Timeout | undefined;

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly database: Database,
    private readonly clients: ClientRepository,
    private readonly audit: AuditLog,
    private readonly cache: RecordCache,
    private readonly assertionJtis: ClientAssertionJtiRepository,
  ) {
    super(EVERY_MS);
  }

  override onApplicationBootstrap(): void {
    super.onApplicationBootstrap();
    this.firstRun = setTimeout(() => void this.tick(), FIRST_RUN_AFTER_MS);
    this.firstRun.unref();
  }

  override async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.firstRun);
    await super.onApplicationShutdown();
  }

  protected async run(): Promise<void> {
    const expired = await deleteInBatches((limit) => this.expireBatch(limit));
    // A client assertion's jti only needs remembering until the assertion expires (at most minutes).
    const jtis = await deleteInBatches((limit) => this.assertionJtis.deleteExpired(new Date(), limit));
    if (expired || jtis) this.logger.log({ msg: 'housekeeping', clients_expired: expired, client_assertion_jtis_deleted: jtis });
  }

  /**
   * Deletes at most `limit` expired clients (dynamic ones first, then metadata-document ones with what room is left)
   * and records why, in one transaction; returns how many.
   */
  async expireBatch(limit: number): Promise<number> {
    const { registration, cimd } = this.config;
    // last_used_at lags the true last use by up to CLIENT_USE_RESOLUTION_MS: waiting that much longer wherever a
    // lifetime runs from the last use means a client is deleted only after at least the configured time (and so after
    // its last access token and any pending authorization expired). A dynamic client's unused lifetime runs from its
    // registration; a metadata-document client's from its last use (its first /authorize recorded it).
    const dynamicTtl = { unusedSeconds: registration.unusedClientTtlMs / 1000, idleSeconds: idleSeconds(registration.idleClientTtlMs) };
    const documentTtl = { unusedSeconds: (cimd.unusedClientTtlMs + CLIENT_USE_RESOLUTION_MS) / 1000, idleSeconds: idleSeconds(cimd.idleClientTtlMs) };
    return this.database.transaction(async (tx) => {
      const dynamic = await this.clients.deleteExpired(tx, dynamicTtl, limit);
      const documents = dynamic.length < limit ? await this.clients.deleteExpiredMetadataDocuments(tx, documentTtl, limit - dynamic.length) : [];
      // Every instance forgets them when this batch commits: their next request gets invalid_client everywhere, and
      // introspection stops knowing their tokens live (their grants went with them). Metadata-document clients are
      // never cached as records, but their tokens may be known live.
      await this.cache.invalidate(tx, 'client', [...dynamic, ...documents].map((client) => client.id));
      for (const client of [...dynamic, ...documents]) await this.audit.record(tx, clientExpiredEvent(client));
      return dynamic.length + documents.length;
    });
  }
}

/** The idle lifetime the repository applies, in seconds; null (0 configured) keeps idle clients. */
function idleSeconds(idleClientTtlMs: number): number | null {
  return idleClientTtlMs > 0 ? (idleClientTtlMs + CLIENT_USE_RESOLUTION_MS) / 1000 : null;
}
