import { describe, it, mock } from 'node:test';
import { strict as assert } from 'node:assert';
import type { DataSource } from 'typeorm';
import type { GatehouseConfig } from '../config/config.js';
import type { Tx } from '../database/data-source.js';
import { Database } from '../database/database.module.js';
import { RECORD_MAX_AGE_MS, RecordCache, type RecordKind } from '../database/record-cache.js';
import { AccessTokenStandings, MAX_LIVE_TOKENS, MAX_MARKS, type StandingSubject } from './access-token-standings.js';
import type { AccessTokenStanding, TokenStatusRepository } from './token-status.repository.js';

interface Row {
  grantLive: boolean;
  jtiRevoked: boolean;
  userId: string | null;
}

/**
 * AccessTokenStandings over a real RecordCache (its transactions on a fake connection) and a fake repository whose
 * answers the test sets per token, counting the reads.
 */
function setup(kind: 'pglite' | 'postgres' = 'pglite') {
  const tx = { query: async () => [] } as unknown as Tx;
  const dataSource = { transaction: async <T>(work: (t: Tx) => Promise<T>) => work(tx) } as unknown as DataSource;
  const database = new Database(dataSource);
  const config = { database: kind === 'postgres' ? { kind, url: 'postgres://standings.test/db' } : { kind, dataDir: '/nowhere' } } as GatehouseConfig;
  const cache = new RecordCache(config, database);
  const rows = new Map<string, Row>();
  let reads = 0;
  /** When set, the next read waits for it before answering (a read in flight while something is revoked). */
  let gate: Promise<void> | null = null;
  const status = {
    accessTokenStanding: async (_grantId: string, jti: string): Promise<AccessTokenStanding> => {
      reads++;
      const row = rows.get(jti) ?? { grantLive: false, jtiRevoked: false, userId: null };
      const answer = { ...row };
      const waiting = gate;
      gate = null;
      if (waiting) await waiting;
      return answer;
    },
  } as unknown as TokenStatusRepository;
  const standings = new AccessTokenStandings(status, cache);
  /** Revokes inside a transaction, as the services do: the cache evicts after the commit. */
  const announce = (what: RecordKind, ids: string[]) => database.transaction((t) => cache.invalidate(t, what, ids));
  let next = 0;
  /** A token of `grant` (of `client`, for `user`), live in the fake database. */
  const token = (options: { grant?: string; client?: string; user?: string | null; exp?: number } = {}): StandingSubject => {
    const subject = {
      jti: `jti-${next++}`,
      grant_id: options.grant ?? 'g1',
      client_id: options.client ?? 'c1',
      exp: options.exp ?? Math.floor(Date.now() / 1000) + 3600,
    };
    rows.set(subject.jti, { grantLive: true, jtiRevoked: false, userId: options.user === undefined ? 'u1' : options.user });
    return subject;
  };
  const hold = () => {
    let release!: () => void;
    gate = new Promise<void>((resolve) => (release = resolve));
    return release;
  };
  return { cache, standings, rows, announce, token, hold, reads: () => reads };
}

describe('AccessTokenStandings', () => {
  it('reads a token once, then answers it live from memory', async () => {
    const { standings, token, reads } = setup();
    const t = token();
    assert.deepEqual(await standings.standing(t), { grantLive: true, jtiRevoked: false, userId: 'u1' });
    assert.deepEqual(await standings.standing(t), { grantLive: true, jtiRevoked: false, userId: 'u1' });
    assert.equal(reads(), 1);
    assert.equal(standings.size, 1);
  });

  it('never remembers a token that is not live', async () => {
    const { standings, token, rows, reads } = setup();
    const revokedGrant = token();
    rows.set(revokedGrant.jti, { grantLive: false, jtiRevoked: false, userId: null });
    const revokedJti = token();
    rows.set(revokedJti.jti, { grantLive: true, jtiRevoked: true, userId: 'u1' });
    for (const t of [revokedGrant, revokedGrant, revokedJti, revokedJti]) await standings.standing(t);
    assert.equal(reads(), 4);
    assert.equal(standings.size, 0);
  });

  const revocations: Array<{ what: string; revoke: (t: StandingSubject) => { kind: RecordKind; ids: string[] }; alsoGone: boolean }> = [
    { what: 'the token (its jti)', revoke: (t) => ({ kind: 'access_token', ids: [t.jti] }), alsoGone: false },
    { what: 'its grant', revoke: (t) => ({ kind: 'grant', ids: [t.grant_id] }), alsoGone: true },
    { what: 'its client', revoke: (t) => ({ kind: 'client', ids: [t.client_id] }), alsoGone: true },
    { what: 'its user', revoke: () => ({ kind: 'user', ids: ['u1'] }), alsoGone: true },
    { what: 'any resource server', revoke: () => ({ kind: 'resource', ids: ['r-any'] }), alsoGone: true },
  ];
  for (const { what, revoke, alsoGone } of revocations) {
    it(`forgets a token once ${what} is revoked, and only what that revocation concerns`, async () => {
      const { standings, token, rows, announce, reads } = setup();
      const t = token();
      const sibling = token();
      const other = token({ grant: 'g2', client: 'c2', user: 'u2' });
      for (const each of [t, sibling, other]) await standings.standing(each);
      assert.equal(reads(), 3);
      const { kind, ids } = revoke(t);
      rows.set(t.jti, { grantLive: false, jtiRevoked: kind === 'access_token', userId: null });
      await announce(kind, ids);
      const answer = await standings.standing(t);
      assert.equal(answer.grantLive && !answer.jtiRevoked, false, 'read again: revoked');
      const before = reads();
      await standings.standing(sibling);
      // A grant's, client's or user's revocation reaches every token of theirs; a jti's only that token.
      assert.equal(reads() - before, alsoGone ? 1 : 0, 'the sibling token of the same grant');
      const afterSibling = reads();
      await standings.standing(other);
      assert.equal(reads() - afterSibling, kind === 'resource' ? 1 : 0, 'a token of another grant, client and user');
    });
  }

  it('a client credentials token (no user) is remembered, and forgotten with its client or permission', async () => {
    const { standings, token, announce, reads } = setup();
    const t = token({ grant: 'permission-1', client: 'machine', user: null });
    await standings.standing(t);
    await standings.standing(t);
    assert.equal(reads(), 1);
    await announce('user', ['u1']);
    await standings.standing(t);
    assert.equal(reads(), 1, 'a user revocation does not concern it');
    await announce('grant', ['permission-1']);
    await standings.standing(t);
    assert.equal(reads(), 2);
  });

  it('does not remember what a read in flight found when a revocation committed meanwhile', async () => {
    const { standings, token, rows, announce, hold, reads } = setup();
    const t = token();
    const release = hold();
    const inFlight = standings.standing(t);
    // The database answered "live" before the revocation committed; the answer arrives after it.
    rows.set(t.jti, { grantLive: false, jtiRevoked: false, userId: null });
    await announce('grant', [t.grant_id]);
    release();
    assert.equal((await inFlight).grantLive, true, 'the read answers what it read');
    assert.equal((await standings.standing(t)).grantLive, false, 'but it was not remembered');
    assert.equal(reads(), 2);
  });

  it('a revocation that does not commit forgets nothing', async () => {
    const { cache, standings, token, reads } = setup();
    const t = token();
    await standings.standing(t);
    const database = (cache as unknown as { database: Database }).database;
    await assert.rejects(
      database.transaction(async (tx) => {
        await cache.invalidate(tx, 'grant', [t.grant_id]);
        throw new Error('rolled back');
      }),
    );
    await standings.standing(t);
    assert.equal(reads(), 1);
  });

  it('answers no longer than the token lives, nor than RECORD_MAX_AGE_MS after its read', async () => {
    const { standings, token, reads } = setup();
    const now = Date.now();
    const clock = mock.method(Date, 'now', () => now);
    try {
      const shortLived = token({ exp: Math.floor(now / 1000) + 10 });
      const longLived = token({ exp: Math.floor(now / 1000) + 86_400 });
      await standings.standing(shortLived);
      await standings.standing(longLived);
      clock.mock.mockImplementation(() => now + 9_000);
      await standings.standing(shortLived);
      assert.equal(reads(), 2);
      clock.mock.mockImplementation(() => now + 10_000);
      await standings.standing(shortLived);
      assert.equal(reads(), 3, 'read again at its exp');
      clock.mock.mockImplementation(() => now + RECORD_MAX_AGE_MS - 1);
      await standings.standing(longLived);
      assert.equal(reads(), 3);
      clock.mock.mockImplementation(() => now + RECORD_MAX_AGE_MS);
      await standings.standing(longLived);
      assert.equal(reads(), 4, 'read again after RECORD_MAX_AGE_MS');
    } finally {
      clock.mock.restore();
    }
  });

  it('holds at most MAX_LIVE_TOKENS tokens, forgetting the least recently introspected', async () => {
    const { standings, token, reads } = setup();
    const first = token();
    await standings.standing(first);
    for (let i = 0; i < MAX_LIVE_TOKENS; i++) await standings.standing(token());
    assert.equal(standings.size, MAX_LIVE_TOKENS);
    const before = reads();
    await standings.standing(first);
    assert.equal(reads(), before + 1, 'the oldest was forgotten');
  });

  it('forgets everything rather than lose a mark when more than MAX_MARKS ids are revoked within RECORD_MAX_AGE_MS', async () => {
    const { standings, token, announce, reads } = setup();
    const t = token({ grant: 'kept' });
    await standings.standing(t);
    await announce('grant', Array.from({ length: MAX_MARKS }, (_, i) => `other-${i}`));
    await standings.standing(t);
    assert.equal(reads(), 1, 'MAX_MARKS marks are kept');
    await announce('grant', ['one-more']);
    await standings.standing(t);
    assert.equal(reads(), 2);
  });

  it('on PostgreSQL: bypassed while the listener is not proven to receive, emptied when it is lost', async () => {
    const { cache, standings, token, reads } = setup('postgres');
    const t = token();
    await standings.standing(t);
    await standings.standing(t);
    assert.equal(reads(), 2, 'bypassed before the listener resumes the cache');
    assert.equal(standings.size, 0);
    cache.resume();
    await standings.standing(t);
    await standings.standing(t);
    assert.equal(reads(), 3);
    cache.suspend();
    assert.equal(standings.size, 0, 'emptied');
    await standings.standing(t);
    assert.equal(reads(), 4);
    assert.equal(standings.size, 0, 'nothing remembered while bypassed');
    cache.resume();
    await standings.standing(t);
    await standings.standing(t);
    assert.equal(reads(), 5);
  });

  it('on PostgreSQL: keeps nothing read while bypassed, even when the listener resumes before the read returns', async () => {
    const { cache, standings, token, hold, reads } = setup('postgres');
    const t = token();
    const release = hold();
    const inFlight = standings.standing(t);
    cache.resume();
    release();
    await inFlight;
    assert.equal(standings.has(t.jti), false);
    await standings.standing(t);
    assert.equal(reads(), 2);
    assert.equal(standings.has(t.jti), true);
    // And a read begun while usable is not kept when the listener was lost meanwhile.
    const u = token();
    const again = hold();
    const lost = standings.standing(u);
    cache.suspend();
    cache.resume();
    again();
    assert.equal((await lost).grantLive, true);
    assert.equal(reads(), 3);
    assert.equal(standings.has(u.jti), false);
  });

  it('on PostgreSQL: applies other instances’ notifications, and an unknown kind forgets everything', async () => {
    const { cache, standings, token, reads } = setup('postgres');
    cache.resume();
    const t = token();
    const u = token({ grant: 'g2' });
    await standings.standing(t);
    await standings.standing(u);
    cache.applyNotification(`grant:${t.grant_id}`);
    await standings.standing(t);
    await standings.standing(u);
    assert.equal(reads(), 3);
    cache.applyNotification('something_newer:x');
    await standings.standing(u);
    assert.equal(reads(), 4);
  });
});
