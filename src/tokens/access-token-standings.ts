import { Injectable } from '@nestjs/common';
import { Lru } from '../common/lru.js';
import { RECORD_MAX_AGE_MS, RecordCache, type RecordKind } from '../database/record-cache.js';
import { TokenStatusRepository, type AccessTokenStanding } from './token-status.repository.js';

/** The claims of a verified access token that its standing depends on (its user is the grant's, read with it). */
export interface StandingSubject {
  jti: string;
  grant_id: string;
  client_id: string;
  /** Seconds since the epoch. */
  exp: number;
}

interface LiveEntry {
  grantId: string;
  clientId: string;
  /** The grant's user; null for a client credentials token. */
  userId: string | null;
  /** Until when (ms) the entry may answer: the token's own exp, or RECORD_MAX_AGE_MS after it was read. */
  until: number;
  /** The version when its read began: any mark on its grant, client or user above it makes it stale. */
  version: number;
}

interface Mark {
  version: number;
  at: number;
}

/** Tokens remembered live; about 250 bytes each. Beyond that the least recently introspected are read again. */
export const MAX_LIVE_TOKENS = 20_000;
/** Grants, clients and users revoked within the last RECORD_MAX_AGE_MS that are remembered; beyond that, all is forgotten. */
export const MAX_MARKS = 10_000;

/**
 * Whether an access token is still live (its grant neither revoked nor gone, its user not disabled, its jti not
 * revoked), answered from memory for tokens already found live, so that introspecting a token again reads nothing.
 *
 * Correct as long as the RecordCache is (see there): every revocation announces itself through it — `access_token`
 * (a jti revoked), `grant` (a grant revoked, a client credentials permission ended), `user` (disabled), `client`
 * (deleted or changed), `resource` (any change: deleting one deletes its grants) — within the revoking transaction,
 * and RecordCache evicts on this instance right after the commit, before the revoking request is answered, and on
 * the other instances when PostgreSQL delivers the NOTIFY. While the RecordCache is bypassed (its listener is not
 * proven to receive), every standing is read from the database and nothing is remembered.
 *
 * Only the live answer is remembered, one entry per token (the revoked-jti list is per token: a grant known live
 * says nothing about another of its tokens). Revoking a grant, client or user does not look for its tokens: it
 * marks the id with a new version, and an entry read before that version is stale. Marks are kept as long as an
 * entry read before them could still answer (RECORD_MAX_AGE_MS); more than MAX_MARKS of them forget everything.
 */
@Injectable()
export class AccessTokenStandings {
  private readonly live = new Lru<string, LiveEntry>(MAX_LIVE_TOKENS);
  /** `g:<grant>`, `c:<client>`, `u:<user>`, oldest first. */
  private readonly marks = new Map<string, Mark>();
  /** Moves on every revocation seen: a read stores its answer only if it has not moved while the database answered. */
  private version = 0;

  constructor(
    private readonly status: TokenStatusRepository,
    private readonly cache: RecordCache,
  ) {
    cache.observe((kind, ids) => this.evicted(kind, ids));
  }

  /** The token's standing: from memory when it is known live, from the database (and then remembered) otherwise. */
  async standing(token: StandingSubject): Promise<AccessTokenStanding> {
    const now = Date.now();
    const known = this.knownLive(token, now);
    if (known) return { grantLive: true, jtiRevoked: false, userId: known.userId };
    // Only a read that began while the cache was usable may be kept: one begun while it was bypassed may predate a
    // change whose notification was missed. Being suspended meanwhile moves the version.
    const usable = this.cache.usable;
    const version = this.version;
    const standing = await this.status.accessTokenStanding(token.grant_id, token.jti);
    if (usable && standing.grantLive && !standing.jtiRevoked && this.version === version) {
      const until = Math.min(token.exp * 1000, now + RECORD_MAX_AGE_MS);
      this.live.set(token.jti, { grantId: token.grant_id, clientId: token.client_id, userId: standing.userId, until, version });
    }
    return standing;
  }

  /** Whether the token with `jti` is remembered live (and not yet expired); changes nothing. */
  has(jti: string): boolean {
    const entry = this.live.peek(jti);
    return entry !== undefined && entry.until > Date.now();
  }

  /** How many tokens are remembered live (for tests and diagnostics). */
  get size(): number {
    return this.live.size;
  }

  /** The token's entry when it is known live now; a stale entry is dropped. */
  private knownLive(token: StandingSubject, now: number): LiveEntry | undefined {
    if (!this.cache.usable) return undefined;
    const entry = this.live.get(token.jti);
    if (entry === undefined) return undefined;
    const fresh =
      entry.until > now &&
      entry.grantId === token.grant_id &&
      entry.clientId === token.client_id &&
      !this.markedSince(`g:${entry.grantId}`, entry.version) &&
      !this.markedSince(`c:${entry.clientId}`, entry.version) &&
      (entry.userId === null || !this.markedSince(`u:${entry.userId}`, entry.version));
    if (fresh) return entry;
    this.live.delete(token.jti);
    return undefined;
  }

  private markedSince(key: string, version: number): boolean {
    const mark = this.marks.get(key);
    return mark !== undefined && mark.version > version;
  }

  private evicted(kind: RecordKind | null, ids: readonly string[]): void {
    switch (kind) {
      case 'access_token':
        this.version++;
        for (const jti of ids) this.live.delete(jti);
        return;
      case 'grant':
        return this.mark('g', ids);
      case 'client':
        return this.mark('c', ids);
      case 'user':
        return this.mark('u', ids);
      case 'identity_provider':
        return;
      case 'resource':
      case null:
        return this.clear();
    }
  }

  private mark(prefix: 'g' | 'c' | 'u', ids: readonly string[]): void {
    const version = ++this.version;
    const now = Date.now();
    for (const id of ids) {
      const key = `${prefix}:${id}`;
      // Re-inserted so that the map stays ordered by age.
      this.marks.delete(key);
      this.marks.set(key, { version, at: now });
    }
    // An entry answers for at most RECORD_MAX_AGE_MS after its read began: older marks cannot concern any.
    for (const [key, mark] of this.marks) {
      if (now - mark.at <= RECORD_MAX_AGE_MS) break;
      this.marks.delete(key);
    }
    if (this.marks.size > MAX_MARKS) this.clear();
  }

  private clear(): void {
    this.version++;
    this.live.clear();
    this.marks.clear();
  }
}
