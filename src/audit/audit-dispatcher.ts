import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AuditDeliveryRepository } from './audit-delivery.repository.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { AuditNotifier, sleep } from './audit-notifier.js';
import { AUDIT_SINKS, type AuditSink } from './audit-sink.js';
import { AUDIT_MODULE_OPTIONS, type AuditModuleOptions } from './audit-options.js';

/** How long a sink's lease lasts without renewal; renewed at every step, re-taken after a third of it. */
const LEASE_MS = 30_000;

/**
 * Exponential backoff with jitter: base × 2^(attempt−1), capped at max, then a random 50–100 % of that, so that
 * many instances or sinks retrying one receiver spread out.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.max(1, Math.round(ceiling * (0.5 + random() * 0.5)));
}

/**
 * Feeds every sink from the outbox after commit: one loop per sink, each from its own cursor in the database, so a
 * slow or failing sink holds back only itself and a restart resumes where delivery stopped. Loops wake at once on
 * a commit in this process (AuditNotifier) and otherwise poll, which finds other instances' events.
 */
@Injectable()
export class AuditDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditDispatcher');
  private readonly owner = randomUUID();
  private readonly stop = new AbortController();
  private readonly loops: Array<Promise<void>> = [];

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(AUDIT_MODULE_OPTIONS) private readonly options: AuditModuleOptions,
    @Inject(AUDIT_SINKS) private readonly sinks: AuditSink[],
    private readonly deliveries: AuditDeliveryRepository,
    private readonly events: AuditEventRepository,
    private readonly notifier: AuditNotifier,
    private readonly metrics: MetricsService,
  ) {
    const ids = sinks.map((sink) => sink.id);
    const duplicate = ids.find((id, index) => ids.indexOf(id) !== index);
    if (duplicate !== undefined) throw new Error(`two audit sinks share the id ${duplicate}`);
  }

  get enabled(): boolean {
    return this.options.delivery !== false;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    await this.deliveries.forgetAllBut(this.sinks.map((sink) => sink.id));
    for (const sink of this.sinks) await this.deliveries.ensure(sink.id);
    this.metrics.setDeliverySource(() => this.deliveries.status());
    for (const sink of this.sinks) this.loops.push(this.run(sink));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stop.abort();
    await Promise.allSettled(this.loops);
    for (const sink of this.sinks) {
      // Handing the lease back lets the next instance (a restart) start at once instead of when it expires.
      if (this.enabled) await this.deliveries.release(sink.id, this.owner).catch(() => undefined);
      await sink.close?.().catch(() => undefined);
    }
  }

  private async run(sink: AuditSink): Promise<void> {
    const signal = this.stop.signal;
    // PGlite belongs to one process (a folder lock guarantees it): a lease left by a crashed predecessor is ours.
    const force = this.config.database.kind === 'pglite';
    let state: { deliveredSeq: number; attempts: number } | null = null;
    let leasedAt = 0;
    while (!signal.aborted) {
      try {
        if (!state || Date.now() - leasedAt > LEASE_MS / 3) {
          const claimed = await this.deliveries.claim(sink.id, this.owner, LEASE_MS, force);
          leasedAt = Date.now();
          if (!claimed) {
            state = null;
            await sleep(this.config.audit.pollIntervalMs, signal);
            continue;
          }
          state = { deliveredSeq: claimed.deliveredSeq, attempts: claimed.attempts };
          if (claimed.waitMs > 0) {
            // Backing off after a failure; wake in time to renew the lease.
            state = null;
            await sleep(Math.min(claimed.waitMs, LEASE_MS / 3), signal);
            continue;
          }
        }
        const batch = await this.events.after(state.deliveredSeq, sink.batchSize);
        if (batch.length === 0) {
          await this.notifier.wait(this.config.audit.pollIntervalMs, signal);
          continue;
        }
        try {
          await sink.deliver(batch, signal);
        } catch (error) {
          if (signal.aborted) break;
          const attempts = state.attempts + 1;
          const retryInMs = backoffMs(attempts, this.config.audit.retryBaseMs, this.config.audit.retryMaxMs);
          const message = error instanceof Error ? error.message : String(error);
          this.metrics.deliveries.inc({ sink: sink.id, result: 'failed' });
          this.logger.warn({ msg: 'audit delivery failed', sink: sink.id, seq: batch[0]!.seq, attempts, retry_in_ms: retryInMs, error: message });
          await this.deliveries.fail(sink.id, this.owner, LEASE_MS, attempts, retryInMs, message);
          state = null;
          continue;
        }
        const last = batch[batch.length - 1]!.seq;
        this.metrics.deliveries.inc({ sink: sink.id, result: 'delivered' }, batch.length);
        if (await this.deliveries.advance(sink.id, this.owner, LEASE_MS, last)) {
          state = { deliveredSeq: last, attempts: 0 };
          leasedAt = Date.now();
        } else {
          // Another instance took the sink over (our lease had expired); it starts from the stored cursor.
          state = null;
        }
      } catch (error) {
        if (signal.aborted) break;
        this.logger.warn({ msg: 'audit dispatcher error', sink: sink.id }, error);
        state = null;
        await sleep(this.config.audit.pollIntervalMs, signal);
      }
    }
  }
}
