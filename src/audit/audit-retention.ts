import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { deleteInBatches, PeriodicJob } from '../database/housekeeping.js';
import { AuditDeliveryRepository } from './audit-delivery.repository.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { AUDIT_MODULE_OPTIONS, type AuditModuleOptions } from './audit-options.js';

/**
 * Prunes events older than AUDIT_RETENTION_DAYS, a batch at a time (short statements, no long locks), and never one
 * that a sink has not delivered yet: a receiver that is down keeps its backlog, whatever its age.
 */
@Injectable()
export class AuditRetention extends PeriodicJob {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(AUDIT_MODULE_OPTIONS) private readonly options: AuditModuleOptions,
    private readonly events: AuditEventRepository,
    private readonly deliveries: AuditDeliveryRepository,
  ) {
    super(3600_000);
  }

  protected async run(): Promise<void> {
    // Only a delivering process knows its sinks are registered; the CLI leaves pruning to the server.
    if (this.config.audit.retentionDays === 0 || this.options.delivery === false) return;
    const before = new Date(Date.now() - this.config.audit.retentionDays * 86_400_000);
    const upTo = (await this.deliveries.lowestDelivered()) ?? Number.MAX_SAFE_INTEGER;
    const deleted = await deleteInBatches((limit) => this.events.deleteOlderThan(before, upTo, limit));
    if (deleted) this.logger.log({ msg: 'housekeeping', audit_events_deleted: deleted });
  }
}
