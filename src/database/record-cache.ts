import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { Lru } from '../common/lru.js';
import type { Tx } from './data-source.js';
import { Database } from './database.module.js';

/** The PostgreSQL channel on which every instance announces changes to cached records, and listens for them. */
export const RECORD_CACHE_CHANNEL = 'gatehouse_cache';

/**
 * What is cached, and how much of it a change makes stale:
 * - `client`: registered clients (dynamic and static) by id; a change to one client forgets that client.
 * - `resource`: resource servers by id, registration-secret digest and resource URL, plus what is derived from all
 *   of them (the scope union of the metadata document, the default resource); any change forgets all of it.
 * - `identity_provider`: the upstream OpenID Connect providers (the sign-in page lists them all); any change forgets
 *   all of them.
 *
 * Announced only, for the observers (what they derived from the records, such as access tokens known live):
 * - `grant`: a grant (or a client credentials permission) by id was revoked or ended.
 * - `user`: a user by id was disabled.
 * - `access_token`: an access token by jti was revoked on its own.
 */
export type RecordKind = 'client' | 'resource' | 'identity_provider' | 'grant' | 'user' | 'access_token';

/** The kinds whose records are stored here. */
export type StoredKind = 'client' | 'resource' | 'identity_provider';

const NAMESPACES: Record<StoredKind, { maxEntries: number; forget: 'record' | 'all' }> = {
  client: { maxEntries: 10_000, forget: 'record' },
  resource: { maxEntries: 1_000, forget: 'all' },
  identity_provider: { maxEntries: 100, forget: 'all' },
};

const ANNOUNCED_ONLY: ReadonlySet<string> = new Set<RecordKind>(['grant', 'user', 'access_token']);

/**
 * Told of every eviction here, in the same call: `kind` and `ids` for records, null when everything is forgotten (the
 * listener was lost, or a notification of an unknown kind arrived).
 */
export type EvictionObserver = (kind: RecordKind | null, ids: readonly string[]) => void;

/**
 * Entries are also reloaded after this long: the bound on how stale a change made behind Gatehouse's back (SQL by
 * hand, a restore) can be. Changes made through Gatehouse are announced and never wait for it.
 */
export const RECORD_MAX_AGE_MS = 5 * 60_000;

/**
 * `local`: PGlite, one process, so evicting on write is all it takes. `listening`: PostgreSQL with this instance's
 * listener connected and proven to receive. `bypassed`: PostgreSQL while it is not; every read goes to the database.
 */
export type RecordCacheMode = 'local' | 'listening' | 'bypassed';

interface Entry {
  value: unknown;
  loadedAt: number;
}

/**
 * An in-process cache of records that are read on every request and change rarely: the client a /token,
 * /introspect or /revoke request authenticates, the resource server a refresh token is for or a backend
 * authenticates as, the scope union of the metadata document.
 *
 * Correct across instances: every write to a cached record calls `invalidate` inside its transaction, which runs
 * `pg_notify('gatehouse_cache', '<kind>:<id>')` (PostgreSQL delivers it to every listener only when the
 * transaction commits) and evicts here after the commit. Each instance's RecordCacheListener evicts on every
 * notification it receives; while it is not connected and proven to receive, the cache is bypassed (`mode`
 * `bypassed`), and it starts empty again when it is. What is not cached: unknown ids (a request could fill the cache
 * with them, and a client registered a moment ago on another instance must work at once), client metadata
 * document clients (their row has its own freshness, see ClientMetadataDocuments), and anything read by a
 * transaction that has already announced a change (it might see its own uncommitted write).
 *
 * Cached values are frozen: every caller shares them.
 */
@Injectable()
export class RecordCache {
  private readonly stores: Record<StoredKind, Lru<string, Entry>>;
  private readonly observers: EvictionObserver[] = [];
  private readonly shared: boolean;
  private active: boolean;
  /**
   * Moves on every eviction (a suspension evicts everything). A read remembers it before going to the database and
   * stores what it read only if it has not moved since: otherwise the eviction may have been for a change that
   * committed after the database answered, and storing the value read would bring back what it replaced.
   */
  private generation = 0;
  /** Transactions that announced a change: their reads are not stored (they may see their own uncommitted write). */
  private readonly announcing = new WeakSet<Tx>();

  constructor(
    @Inject(GATEHOUSE_CONFIG) config: GatehouseConfig,
    private readonly database: Database,
  ) {
    this.stores = {
      client: new Lru(NAMESPACES.client.maxEntries),
      resource: new Lru(NAMESPACES.resource.maxEntries),
      identity_provider: new Lru(NAMESPACES.identity_provider.maxEntries),
    };
    this.shared = config.database.kind === 'postgres';
    this.active = !this.shared;
  }

  get mode(): RecordCacheMode {
    return this.shared ? (this.active ? 'listening' : 'bypassed') : 'local';
  }

  /** Whether what is cached may be used: every change committed so far has evicted what it made stale. */
  get usable(): boolean {
    return this.active;
  }

  /** Calls `observer` on every eviction, so that it keeps what it derived from the records as correct as the cache. */
  observe(observer: EvictionObserver): void {
    this.observers.push(observer);
  }

  /**
   * The value `load` reads for `key`, from the cache when it holds it. What `load` returns is stored only when
   * `keep` says so (by default: when it is not null), and only if nothing was evicted meanwhile.
   */
  async read<T>(kind: StoredKind, key: string, load: () => Promise<T>, options: { tx?: Tx; keep?: (value: T) => boolean } = {}): Promise<T> {
    if (!this.active) return load();
    const store = this.stores[kind];
    const now = Date.now();
    const entry = store.get(key);
    if (entry && now - entry.loadedAt < RECORD_MAX_AGE_MS) return entry.value as T;
    const generation = this.generation;
    const value = await load();
    const keep = options.keep ?? ((loaded: T) => loaded !== null && loaded !== undefined);
    if (this.generation === generation && !(options.tx && this.announcing.has(options.tx)) && keep(value)) {
      store.set(key, { value: deepFreeze(value), loadedAt: now });
    }
    return value;
  }

  /** The cached (fresh) value for `key` without loading anything, as read() would return it; undefined otherwise. */
  peek<T>(kind: StoredKind, key: string): T | undefined {
    if (!this.active) return undefined;
    const entry = this.stores[kind].peek(key);
    return entry !== undefined && Date.now() - entry.loadedAt < RECORD_MAX_AGE_MS ? (entry.value as T) : undefined;
  }

  /** True when `key` is cached (and fresh); reads nothing. */
  has(kind: StoredKind, key: string): boolean {
    const entry = this.stores[kind].peek(key);
    return entry !== undefined && Date.now() - entry.loadedAt < RECORD_MAX_AGE_MS;
  }

  /**
   * Announces, inside `tx`, that the records `ids` of `kind` change: every instance evicts them when `tx` commits
   * (through PostgreSQL NOTIFY), and this one right after the commit. Nothing happens if `tx` rolls back. `tx` must
   * come from Database.transaction().
   */
  async invalidate(tx: Tx, kind: RecordKind, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    this.announcing.add(tx);
    if (!this.database.afterCommit(tx, () => this.evict(kind, ids))) {
      throw new Error('RecordCache.invalidate needs a transaction from Database.transaction()');
    }
    if (this.shared) {
      await tx.query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [RECORD_CACHE_CHANNEL, ids.map((id) => `${kind}:${id}`)]);
    }
  }

  /**
   * Replaces a cached record with `change(record)`, for a change this instance wrote and knows the outcome of and
   * that other instances need not hear about. Nothing happens when the record is not cached.
   */
  update<T extends object>(kind: StoredKind, key: string, change: (value: T) => T): void {
    const store = this.stores[kind];
    const entry = store.peek(key);
    if (entry) store.set(key, { value: deepFreeze(change(entry.value as T)), loadedAt: entry.loadedAt });
  }

  /** Forgets records here (another instance's NOTIFY, or this one's own write after commit). */
  evict(kind: RecordKind, ids: readonly string[]): void {
    this.generation++;
    if (isStoredKind(kind)) {
      const store = this.stores[kind];
      if (NAMESPACES[kind].forget === 'all') store.clear();
      else for (const id of ids) store.delete(id);
    }
    for (const observer of this.observers) observer(kind, ids);
  }

  /** Applies a notification from the channel: `<kind>:<id>`. Anything else (a newer version's kind) forgets everything. */
  applyNotification(payload: string): void {
    const colon = payload.indexOf(':');
    const kind = payload.slice(0, colon);
    if (colon > 0 && isRecordKind(kind)) this.evict(kind, [payload.slice(colon + 1)]);
    else this.clear();
  }

  /**
   * The listener has connected and proven it receives: the cache is used again. It starts empty (suspend emptied
   * it and nothing is stored while bypassed), since notifications may have been missed meanwhile.
   */
  resume(): void {
    if (this.shared) this.active = true;
  }

  /** The listener is not (or no longer known to be) receiving: empty the cache and bypass it until it resumes. */
  suspend(): void {
    if (!this.shared) return;
    this.active = false;
    this.clear();
  }

  private clear(): void {
    this.generation++;
    for (const store of Object.values(this.stores)) store.clear();
    for (const observer of this.observers) observer(null, []);
  }
}

function isStoredKind(kind: string): kind is StoredKind {
  return Object.hasOwn(NAMESPACES, kind);
}

function isRecordKind(kind: string): kind is RecordKind {
  return isStoredKind(kind) || ANNOUNCED_ONLY.has(kind);
}

/** Freezes a value and everything reachable from it, so that no caller can change what the others read. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const nested of Object.values(value)) deepFreeze(nested);
  }
  return value;
}
