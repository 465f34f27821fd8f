import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import { AuditNotifier } from './audit-notifier.js';

/**
 * Counts tokens issued by grant type from committed audit events rather than from counters in the token code: the
 * events are already the record of every issuance, and this instance counts those it committed.
 */
@Injectable()
export class AuditMetrics implements OnModuleDestroy {
  private readonly unsubscribe: () => void;

  constructor(notifier: AuditNotifier, metrics: MetricsService) {
    this.unsubscribe = notifier.onCommitted((events) => {
      for (const event of events) {
        metrics.auditEvents.inc({ type: event.type });
        if (event.type === 'token.issued') metrics.tokensIssued.inc({ grant_type: typeof event.data.grant_type === 'string' ? event.data.grant_type : 'unknown' });
        if (event.type === 'token.refreshed') metrics.tokensIssued.inc({ grant_type: 'refresh_token' });
      }
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }
}
