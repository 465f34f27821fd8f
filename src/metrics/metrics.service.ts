import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { LatencyHistogram } from './latency-histogram.js';

export interface DeliveryGaugeSample {
  sink: string;
  backlog: number;
  lagSeconds: number;
}

/**
 * Gatehouse's Prometheus metrics, on a registry of its own (several apps may share a process: tests, embedding).
 * Labels are bounded sets: route patterns (never raw paths), OAuth error codes, grant types, sink ids.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpDuration = new LatencyHistogram(
    'gatehouse_http_request_duration_seconds',
    'HTTP request latency by route pattern, method and status',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    this.registry,
  );

  readonly oauthErrors = new Counter({
    name: 'gatehouse_oauth_errors_total',
    help: 'OAuth error responses by error code and route pattern',
    labelNames: ['error', 'route'] as const,
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Access tokens issued by grant type (authorization_code, refresh_token, mint, client_credentials), counted from committed audit events',
    labelNames: ['grant_type'] as const,
    registers: [this.registry],
  });

  readonly introspections = new Counter({
    name: 'gatehouse_introspections_total',
    help: 'Introspection answers by outcome (active, inactive); token.introspected records repeats of an answer once a minute',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly auditEvents = new Counter({
    name: 'gatehouse_audit_events_total',
    help: 'Audit events committed by this instance, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly auditEventsDropped = new Counter({
    name: 'gatehouse_audit_events_dropped_total',
    help: 'Written-behind audit events (token.introspected) never stored: reason=queue_full (too many waiting) or write_failed (the write failed twice)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly auditWriteFailures = new Counter({
    name: 'gatehouse_audit_write_behind_failures_total',
    help: 'Failed writes of written-behind audit events (each is retried once)',
    registers: [this.registry],
  });

  readonly deliveries = new Counter({
    name: 'gatehouse_audit_deliveries_total',
    help: 'Audit event deliveries by sink: result=delivered counts events, result=failed counts failed attempts',
    labelNames: ['sink', 'result'] as const,
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'gatehouse_rate_limited_total',
    help: 'Requests refused with 429 by rate-limit policy',
    labelNames: ['policy'] as const,
    registers: [this.registry],
  });

  readonly rateLimitStoreDegraded = new Gauge({
    name: 'gatehouse_rate_limit_store_degraded',
    help: '1 while REDIS_URL is set but Redis is unreachable and this instance counts in memory, else 0',
    registers: [this.registry],
  });

  readonly deliveryLag = new Gauge({
    name: 'gatehouse_audit_delivery_lag_seconds',
    help: 'Age of the oldest event a sink has not delivered yet (0 when caught up)',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });

  readonly deliveryBacklog = new Gauge({
    name: 'gatehouse_audit_delivery_backlog',
    help: 'Events a sink has not delivered yet',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });

  private deliverySource: (() => Promise<DeliveryGaugeSample[]>) | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The audit dispatcher says where delivery state comes from; read from the database at each scrape. */
  setDeliverySource(source: () => Promise<DeliveryGaugeSample[]>): void {
    this.deliverySource = source;
  }

  async render(): Promise<{ contentType: string; body: string }> {
    if (this.deliverySource) {
      const samples = await this.deliverySource();
      this.deliveryLag.reset();
      this.deliveryBacklog.reset();
      for (const sample of samples) {
        this.deliveryLag.set({ sink: sample.sink }, sample.lagSeconds);
        this.deliveryBacklog.set({ sink: sample.sink }, sample.backlog);
      }
    }
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
