import type { AuditEventV1 } from './audit-schema.js';
import type { AuditSink } from './audit-sink.js';
import { SIGNATURE_HEADER, signWebhook } from './webhook-signature.js';

export interface WebhookOptions {
  id: string;
  url: string;
  secret: string;
  timeoutMs: number;
}

/**
 * POSTs each event alone as JSON, signed (`Gatehouse-Signature`), with the event id as `Idempotency-Key` so a
 * receiver can drop the duplicates at-least-once delivery may bring. Any answer but 2xx — a redirect included — is a
 * failure, retried by the dispatcher.
 */
export class WebhookSink implements AuditSink {
  readonly batchSize = 1;
  readonly id: string;

  constructor(private readonly options: WebhookOptions) {
    this.id = options.id;
  }

  async deliver(events: readonly AuditEventV1[], signal: AbortSignal): Promise<void> {
    for (const event of events) {
      const body = JSON.stringify(event);
      const response = await fetch(this.options.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.timeoutMs)]),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Gatehouse-Audit-Webhook/1',
          'idempotency-key': event.id,
          'gatehouse-event-id': event.id,
          'gatehouse-event-type': event.type,
          'gatehouse-event-seq': String(event.seq),
          [SIGNATURE_HEADER.toLowerCase()]: signWebhook(this.options.secret, body, Math.floor(Date.now() / 1000)),
        },
        body,
      });
      // The body is not needed, but must be consumed so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
      if (response.status < 200 || response.status > 299) throw new Error(`webhook answered HTTP ${response.status}`);
    }
  }
}
