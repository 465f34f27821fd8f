import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { Database } from '../database/database.module.js';
import { deleteInBatches, PeriodicJob } from '../database/housekeeping.js';
import { RecordCache } from '../database/record-cache.js';
import { AuditLog } from '../audit/audit-log.js';
import { ClientRepository } from './client.repository.js';
import { CLIENT_USE_RESOLUTION_MS, clientExpiredEvent } from './clients.service.js';

const EVERY_MS = 3600_000;
/** The first run comes this soon after boot, so a restart never postpones expiry by a whole interval. */
const FIRST_RUN_AFTER_MS = 60_000;

/**
 * Dynamic clients expire by use, never by age alone: one never used is deleted DCR_UNUSED_CLIENT_HOURS after it
 * registered, one not used for DCR_IDLE_CLIENT_DAYS (unless 0) after its last use — and one that still holds a live
 * refresh token is kept however idle, since its user can still come back through it. Deleted in batches, each batch
 * in its own transaction with a `client.expired` event per client. A deleted client's next request gets
 * 401 invalid_client at /token, so MCP clients register again.
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
    if (expired) this.logger.log({ msg: 'housekeeping', clients_expired: expired });
  }

  /** Deletes at most `limit` expired clients and records why, in one transaction; returns how many. */
  async expireBatch(limit: number): Promise<number> {
    const { unusedClientTtlMs, idleClientTtlMs } = this.config.registration;
    // last_used_at lags the true last use by up to CLIENT_USE_RESOLUTION_MS: waiting that much longer means a
    // client is deleted only after at least the configured idle time (and so after its last access token expired).
    const ttl = { unusedSeconds: unusedClientTtlMs / 1000, idleSeconds: idleClientTtlMs > 0 ? (idleClientTtlMs + CLIENT_USE_RESOLUTION_MS) / 1000 : null };
    return this.database.transaction(async (tx) => {
      const expired = await this.clients.deleteExpired(tx, ttl, limit);
      // Every instance forgets them when this batch commits: their next request gets invalid_client everywhere.
      await this.cache.invalidate(tx, 'client', expired.map((client) => client.id));
      for (const client of expired) await this.audit.record(tx, clientExpiredEvent(client));
      return expired.length;
    });
  }
}
