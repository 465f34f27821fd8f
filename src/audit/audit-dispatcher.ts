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
 * How long a loop woken by a commit waits before reading, so that one read and one cursor update carry every event
 * committed meanwhile: under load a cycle per window instead of one per commit (each statement costs the database
 * a round trip), at the price of delivering that much later. Well under anything a person or a webhook notices.
 */
export const COALESCE_MS = 25;

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
 * slow or failing sink holds back only itself and a restart resumes where delivery stopped. Loops wake on a commit in
 * this process (AuditNotifier), then wait COALESCE_MS so one read takes every event committed meanwhile; otherwise
 * they poll, which finds other instances' events. A sink with nobody to deliver to (hooks without a listener) gets
 * no reads at all.
 */
@Injectable()
export class AuditDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditDispatcher');
  private readonly owner = randomUUID();
  private readonly stop = new AbortController();
  private readonly loops: Array<Promise<void>> = [];
  /** The newest seq when delivery started: with the notifier's, the newest event this instance knows of. */
  private bootSeq = 0;

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
    const horizon = await this.events.horizon();
    for (const sink of this.sinks) await this.deliveries.ensure(sink.id, horizon);
    if (this.sinks.some((sink) => sink.isActive)) this.bootSeq = horizon;
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
    const watch = new ActivityWatch(sink, () => this.knownSeq());
    while (!signal.aborted) {
      try {
        if (!watch.active) {
          // Handing the lease back lets an instance whose hooks have listeners deliver them.
          if (state) await this.deliveries.release(sink.id, this.owner);
          state = null;
          await this.standBy(sink, watch, force, signal);
          continue;
        }
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
        // Noted before the read: if it is unchanged after delivery, the read saw every event committed here so far.
        const seen = this.notifier.commits;
        const batch = await this.events.after(state.deliveredSeq, sink.batchSize);
        if (batch.length === 0) {
          await this.awaitEvents(seen, signal);
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
          // A short batch was all there was when it was read: no need to read again to find nothing.
          if (batch.length < sink.batchSize) await this.awaitEvents(seen, signal);
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
    watch.close();
  }

  private knownSeq(): number {
    return Math.max(this.bootSeq, this.notifier.latestSeq);
  }

  /**
   * Until this instance commits after `seen` — then COALESCE_MS more, so the next read takes everything committed
   * meanwhile — or until the poll interval (other instances' events), or stop.
   */
  private async awaitEvents(seen: number, signal: AbortSignal): Promise<void> {
    if (await this.notifier.nextCommit(seen, this.config.audit.pollIntervalMs, signal)) await sleep(COALESCE_MS, signal);
  }

  /**
   * While `sink` has nobody to deliver to: no reads and no lease. Its cursor is moved up to the newest event this
   * instance knows of when it goes idle, then at most once per poll interval and only after this instance committed
   * events, so that an idle sink holds back neither retention nor the backlog metric (other instances move it for
   * their own events). Returns once the sink is active again (or on stop), with the cursor moved up to what this
   * instance knew when it turned active: a listener added then receives every event committed after it was added,
   * since each of those has a larger seq, and no earlier one.
   */
  private async standBy(sink: AuditSink, watch: ActivityWatch, force: boolean, signal: AbortSignal): Promise<void> {
    let settledAt: number | null = null;
    while (!signal.aborted) {
      if (watch.active) {
        await this.deliveries.skipTo(sink.id, this.owner, watch.takeActiveFrom(), force);
        return;
      }
      if (settledAt !== this.notifier.commits) {
        settledAt = this.notifier.commits;
        await this.deliveries.skipTo(sink.id, this.owner, this.knownSeq(), force);
        // Turned active meanwhile: go now rather than after the wait.
        if (watch.active) continue;
      }
      await watch.changed(this.config.audit.pollIntervalMs, signal);
    }
  }
}

/**
 * A sink's activity, followed for its loop's whole life: notes the newest seq known at the moment the sink turns
 * active (not when its loop gets round to it), and wakes a stand-by wait.
 */
class ActivityWatch {
  private activeFrom: number | null = null;
  private wake: (() => void) | null = null;
  private readonly unsubscribe: (() => void) | undefined;

  constructor(
    private readonly sink: AuditSink,
    private readonly knownSeq: () => number,
  ) {
    this.unsubscribe = sink.onActivityChange?.(() => {
      if (this.active) this.activeFrom ??= knownSeq();
      else this.activeFrom = null;
      this.wake?.();
    });
  }

  get active(): boolean {
    return this.sink.isActive?.() !== false;
  }

  /** Where delivery resumes after an idle spell: the newest seq known when the sink turned active. */
  takeActiveFrom(): number {
    const from = this.activeFrom ?? this.knownSeq();
    this.activeFrom = null;
    return from;
  }

  /** Resolves when the activity changes, after `ms`, or when `signal` aborts. */
  changed(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  close(): void {
    this.unsubscribe?.();
  }
}
