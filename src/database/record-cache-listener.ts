import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { RECORD_CACHE_CHANNEL, RecordCache } from './record-cache.js';

/** How the listener's session shows in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'gatehouse cache listener';

/**
 * The one PostgreSQL session per instance that LISTENs on `gatehouse_cache` and evicts from the RecordCache what
 * other instances (and this one) announce. The cache is used only while this listener is known to receive:
 *
 * - after connecting and LISTENing, it sends a ping notification through the ordinary connection pool — the way
 *   writes announce their changes — and resumes the cache only once that ping comes back to it;
 * - every `pingEveryMs` it pings again; a ping not back within `echoTimeoutMs` after it was committed counts as a
 *   lost connection. That catches a session that is gone without the socket saying so (a network partition, a
 *   failover) within seconds. Notifications are delivered in commit order, so a ping coming back also means
 *   every change committed before it has been received;
 * - on any error or end of the session the cache is suspended (bypassed and emptied) at once, and the listener
 *   reconnects with backoff; the cache resumes, empty, when the new session has proven it receives.
 *
 * On PGlite (one process) there is nothing to listen to: the RecordCache evicts on its own writes.
 */
@Injectable()
export class RecordCacheListener implements OnApplicationBootstrap, OnApplicationShutdown {
  /** Reconnection: after this long, doubling on each failure up to `retryMaxMs`. */
  protected readonly retryFirstMs: number = 1000;
  protected readonly retryMaxMs: number = 30_000;
  /** How often the listener proves it still receives, and how long a committed ping may take to come back. */
  protected readonly pingEveryMs: number = 5000;
  protected readonly echoTimeoutMs: number = 5000;

  private readonly logger = new Logger('RecordCache');
  private connection: pg.Client | null = null;
  private stopped = false;
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private awaitedPing: { nonce: string; arrived: () => void } | null = null;

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly dataSource: DataSource,
    private readonly cache: RecordCache,
  ) {}

  /** Boot waits for the first attempt (a few milliseconds); should it fail, the instance serves from the database. */
  async onApplicationBootstrap(): Promise<void> {
    if (this.config.database.kind !== 'postgres') return;
    this.heartbeat = setInterval(() => void this.check(), this.pingEveryMs);
    this.heartbeat.unref();
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.retry);
    const connection = this.connection;
    this.connection = null;
    this.cache.suspend();
    await connection?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.config.database.kind !== 'postgres') return;
    const connection = new pg.Client({
      connectionString: this.config.database.url,
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
    });
    this.connection = connection;
    connection.on('error', (error: Error) => this.lost(connection, error.message));
    connection.on('end', () => this.lost(connection, 'connection ended'));
    connection.on('notification', (message: pg.Notification) => this.received(connection, message.payload ?? ''));
    try {
      await connection.connect();
      await connection.query(`LISTEN ${RECORD_CACHE_CHANNEL}`);
      if (!(await this.ping())) throw new Error(`a ping did not come back within ${this.echoTimeoutMs} ms`);
      if (this.connection !== connection) return;
      this.failures = 0;
      this.cache.resume();
      this.logger.log({ msg: 'record cache listening' });
    } catch (error) {
      this.lost(connection, error instanceof Error ? error.message : String(error));
    }
  }

  /** Suspends the cache and schedules a reconnection; calls for a session already given up are ignored. */
  private lost(connection: pg.Client, reason: string): void {
    if (this.connection !== connection) return;
    this.connection = null;
    this.awaitedPing = null;
    const wasListening = this.cache.mode === 'listening';
    this.cache.suspend();
    void connection.end().catch(() => undefined);
    if (this.stopped) return;
    const delay = Math.min(this.retryMaxMs, this.retryFirstMs * 2 ** this.failures++);
    const msg = wasListening ? 'record cache bypassed: its listener was lost' : 'record cache listener could not connect';
    this.logger.warn({ msg, reason, retry_in_ms: delay });
    this.retry = setTimeout(() => void this.connect(), delay);
    this.retry.unref();
  }

  private received(connection: pg.Client, payload: string): void {
    if (connection !== this.connection) return;
    if (payload.startsWith('ping:')) {
      // Other instances' pings come here too.
      if (payload === `ping:${this.awaitedPing?.nonce}`) this.awaitedPing?.arrived();
      return;
    }
    this.cache.applyNotification(payload);
  }

  /**
   * Sends a ping notification through the connection pool, as writes are announced, and says whether it reached
   * the listener within `echoTimeoutMs` of being committed. Throws if the pool cannot send it.
   */
  private async ping(): Promise<boolean> {
    const nonce = randomBytes(9).toString('base64url');
    const echoed = new Promise<boolean>((resolve) => (this.awaitedPing = { nonce, arrived: () => resolve(true) }));
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.dataSource.query('SELECT pg_notify($1, $2)', [RECORD_CACHE_CHANNEL, `ping:${nonce}`]);
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.echoTimeoutMs)));
      return await Promise.race([echoed, timedOut]);
    } finally {
      clearTimeout(timer);
      if (this.awaitedPing?.nonce === nonce) this.awaitedPing = null;
    }
  }

  /** The periodic proof that the listening session still receives. */
  private async check(): Promise<void> {
    const connection = this.connection;
    if (!connection || this.cache.mode !== 'listening' || this.awaitedPing) return;
    let echoed: boolean;
    try {
      echoed = await this.ping();
    } catch {
      // The pool could not send the ping (the database is unreachable or shutting down): if the listening session
      // is affected, its own error says so.
      return;
    }
    if (!echoed) this.lost(connection, `a ping did not come back within ${this.echoTimeoutMs} ms`);
  }
}
