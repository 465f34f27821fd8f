import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { verifyWebhookSignature } from '../../src/audit/webhook-signature.js';
import type { AuditEventV1 } from '../../src/audit/audit-schema.js';
import type { RunningGatehouse } from './gatehouse.js';

/** One POST the receiver got, whatever it answered. */
export interface WebhookRequest {
  idempotencyKey: string | null;
  signatureValid: boolean;
  status: number;
  event: AuditEventV1;
  /** Date.now() when its body had arrived. */
  receivedAt: number;
}

/**
 * A webhook receiver on loopback, as a careful consumer would write one: it verifies `Gatehouse-Signature` over the
 * raw body, and keeps events by idempotency key, so a redelivery is recognised as a duplicate, not taken as new.
 * `failing` makes it answer 500 (before accepting anything), to test retries.
 */
export class WebhookReceiver {
  readonly secret = randomBytes(24).toString('hex');
  readonly requests: WebhookRequest[] = [];
  /** Events accepted as new, in the order they arrived. */
  readonly accepted: AuditEventV1[] = [];
  /** Deliveries of an idempotency key already accepted. */
  duplicates = 0;
  /** Duplicates whose body differs from the delivery first accepted under that key (a careful consumer's alarm). */
  readonly conflictingDuplicates: string[] = [];
  failing = false;
  /**
   * When set, the delivery that would make `accepted` longer than this is accepted (the consumer stored it) and its
   * answer withheld, as when a consumer's acknowledgement is lost; later requests are held too. `held` counts them.
   */
  holdAfter: number | null = null;
  held = 0;
  private readonly seen = new Map<string, string>();
  private server: Server | null = null;
  private port = 0;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}/hooks/audit`;
    return this;
  }

  /** Closes the listening socket and every connection: deliveries are refused until start() listens again, on the same port. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
  }

  /** The environment that points a Gatehouse at this receiver, with fast retries. */
  get env(): Record<string, string> {
    return { AUDIT_WEBHOOK_URL: this.url, AUDIT_WEBHOOK_SECRET: this.secret, AUDIT_RETRY_BASE_MS: '10', AUDIT_RETRY_MAX_MS: '80', AUDIT_POLL_INTERVAL_MS: '50' };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const signatureValid = verifyWebhookSignature(this.secret, header(req, 'gatehouse-signature'), body);
    const idempotencyKey = header(req, 'idempotency-key');
    const event = JSON.parse(body) as AuditEventV1;
    let status = 200;
    if (!signatureValid) status = 401;
    else if (this.failing) status = 500;
    this.requests.push({ idempotencyKey, signatureValid, status, event, receivedAt: Date.now() });
    if (status === 200 && idempotencyKey) {
      const first = this.seen.get(idempotencyKey);
      if (first === undefined) {
        this.seen.set(idempotencyKey, body);
        this.accepted.push(event);
      } else {
        this.duplicates++;
        if (!sameEvent(first, body)) this.conflictingDuplicates.push(idempotencyKey);
      }
    }
    if (this.holdAfter !== null && (this.held > 0 || this.accepted.length > this.holdAfter)) {
      this.held++;
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  }
}

function sameEvent(first: string, again: string): boolean {
  try {
    assert.deepEqual(JSON.parse(again), JSON.parse(first));
    return true;
  } catch {
    return false;
  }
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' ? value : null;
}

/** Polls `check` until it returns a value (not undefined/false), or fails the test after `ms`. */
export async function eventually<T>(check: () => T | Promise<T>, message: string, ms = 10_000): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
    if (Date.now() > deadline) assert.fail(`timed out: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every event after `cursor` through GET /admin/audit, following next_cursor. */
export async function queryAudit(gatehouse: RunningGatehouse, params: Record<string, string> = {}): Promise<AuditEventV1[]> {
  const events: AuditEventV1[] = [];
  let cursor = params.cursor;
  for (;;) {
    const query = new URLSearchParams({ ...params, ...(cursor === undefined ? {} : { cursor }) });
    const response = await gatehouse.admin('GET', `/admin/audit?${query}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    events.push(...(response.body.events as AuditEventV1[]));
    if (response.body.next_cursor === null) return events;
    cursor = response.body.next_cursor as string;
  }
}

/** The newest seq right now (0 when there are no events): a starting point for "events from here on". */
export async function latestSeq(gatehouse: RunningGatehouse): Promise<number> {
  const rows = (await gatehouse.db.query('SELECT coalesce(max(seq), 0)::int AS seq FROM audit_events')) as Array<{ seq: number }>;
  return rows[0]?.seq ?? 0;
}

/** One message of a Server-Sent Events stream. */
export interface SseMessage {
  id: string | null;
  data: string;
}

/**
 * Reads GET /admin/audit/stream with fetch and a small SSE parser (fields `id`, `data`; comment lines are kept
 * apart as heartbeats). `close()` aborts the request, as a client going away would.
 */
export class SseClient {
  readonly messages: SseMessage[] = [];
  heartbeats = 0;
  status = 0;
  contentType = '';
  private readonly abort = new AbortController();
  private reading: Promise<void> = Promise.resolve();

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const client = new SseClient();
    const response = await fetch(url, { headers, signal: client.abort.signal });
    client.status = response.status;
    client.contentType = response.headers.get('content-type') ?? '';
    if (response.body) client.reading = client.read(response.body);
    return client;
  }

  events(): AuditEventV1[] {
    return this.messages.map((message) => JSON.parse(message.data) as AuditEventV1);
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.reading.catch(() => undefined);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    let id: string | null = null;
    let data: string[] = [];
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (data.length) this.messages.push({ id, data: data.join('\n') });
          id = null;
          data = [];
        } else if (line.startsWith(':')) this.heartbeats++;
        else {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') id = value;
          if (field === 'data') data.push(value);
        }
      }
    }
  }
}
