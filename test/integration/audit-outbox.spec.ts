import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Database } from '../../src/database/database.module.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuditEventRepository } from '../../src/audit/audit-event.repository.js';
import { auditedStatement, ChangeColumn, type AuditedChange } from '../../src/audit/audit-event-insert.js';
import { params, sql } from '../../src/database/sql.js';
import { AuditNotifier } from '../../src/audit/audit-notifier.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import type { AuditEventV1 } from '../../src/audit/audit-schema.js';
import { DATABASE_KINDS, deferred, openTestDatabase, skipUnless, type TestDatabase } from '../support/database.js';
import { eventually } from '../support/audit.js';

for (const kind of DATABASE_KINDS) {
  describe(`audit outbox (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;
    let database: Database;
    let audit: AuditLog;
    let events: AuditEventRepository;
    let notifier: AuditNotifier;
    const committed: AuditEventV1[] = [];

    before(async () => {
      db = await openTestDatabase(kind);
      database = new Database(db.dataSource);
      notifier = new AuditNotifier();
      notifier.onCommitted((written) => committed.push(...written));
      events = new AuditEventRepository(database, notifier);
      audit = new AuditLog(database, events, notifier, new MetricsService());
      // A constraint checked at COMMIT: the way to make a transaction fail after its events were inserted.
      await db.dataSource.query('CREATE TABLE test_deferred (id integer, CONSTRAINT test_deferred_unique UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)');
    });
    after(async () => {
      await db?.close();
    });

    /** Events visible to `on` (a transaction, or by default a fresh read outside any). */
    async function count(on: { query: (sql: string) => Promise<unknown> } = db.dataSource): Promise<number> {
      const rows = (await on.query('SELECT count(*)::int AS n FROM audit_events')) as Array<{ n: number }>;
      return rows[0]?.n ?? 0;
    }

    it('writes the event in the transaction and announces it only after COMMIT', async () => {
      const before = committed.length;
      const seen = await database.transaction(async (tx) => {
        await audit.record(tx, { type: 'admin.resource_created', resource: 'https://mcp.example.com/', data: { resource_id: 'r1' } });
        assert.equal(committed.length, before, 'not announced before commit');
        return count(tx);
      });
      assert.equal(seen, 0, 'held until the end of the transaction');
      assert.equal(await count(), 1);
      assert.equal(committed.length, before + 1);
      assert.equal(committed.at(-1)?.type, 'admin.resource_created');
      assert.deepEqual(committed.at(-1)?.actor, { kind: 'admin', id: 'cli' });
    });

    it('leaves no event when the work throws after recording it', async () => {
      const rows = await count();
      const before = committed.length;
      await assert.rejects(
        database.transaction(async (tx) => {
          await audit.record(tx, { type: 'grant.revoked', clientId: 'c', subject: 's', data: { grant_id: 'g', reason: 'revoked_by_admin' } });
          throw new Error('the change failed');
        }),
        /the change failed/,
      );
      assert.equal(await count(), rows);
      assert.equal(committed.length, before, 'nothing announced');
    });

    it('leaves no event when COMMIT itself fails after the event rows were inserted', async () => {
      const rows = await count();
      const before = committed.length;
      let insertedBeforeCommit = -1;
      await assert.rejects(
        database.transaction(async (tx) => {
          await audit.record(tx, { type: 'token.revoked', clientId: 'c', data: { jti: 'j', by: 'client' } });
          await tx.query('INSERT INTO test_deferred (id) VALUES (1), (1)');
          // Registered after the audit flush, so it runs after it: the row is in the transaction at this point.
          database.beforeCommit(tx, async () => {
            const found = (await tx.query(`SELECT count(*)::int AS n FROM audit_events WHERE type = 'token.revoked'`)) as Array<{ n: number }>;
            insertedBeforeCommit = found[0]?.n ?? 0;
          });
        }),
        /test_deferred_unique|duplicate key/,
      );
      assert.equal(insertedBeforeCommit, 1, 'the event row had been written inside the transaction');
      assert.equal(await count(), rows, 'and went away with it');
      assert.equal(committed.length, before, 'nothing announced');
    });

    it('gives events seqs in commit order: a transaction that records first but commits last gets the larger seq', async () => {
      const recorded = deferred();
      const release = deferred();
      // On PGlite transactions run one at a time, so the second cannot start while the first waits: it only
      // checks that each gets a seq. On PostgreSQL they overlap.
      const overlapping = kind === 'postgres';
      const slow = database.transaction(async (tx) => {
        await audit.record(tx, { type: 'client.updated', clientId: 'slow' });
        recorded.resolve();
        if (overlapping) await release.promise;
      });
      await recorded.promise;
      const fast = database.transaction((tx) => audit.record(tx, { type: 'client.updated', clientId: 'fast' }));
      if (overlapping) {
        await fast;
        release.resolve();
      }
      await Promise.all([slow, fast]);
      const rows = (await db.dataSource.query(`SELECT client_id, seq::int AS seq FROM audit_events WHERE type = 'client.updated' ORDER BY seq`)) as Array<{ client_id: string; seq: number }>;
      assert.deepEqual(rows.map((row) => row.client_id), overlapping ? ['fast', 'slow'] : ['slow', 'fast']);
    });

    if (kind === 'postgres') {
      // PGlite runs one transaction at a time, so there nothing can be in flight beside another.
      it('reads no event past one in flight: a seq drawn first but committed last is waited for, not skipped', async () => {
        const newest = (await db.dataSource.query('SELECT coalesce(max(seq), 0)::int AS seq FROM audit_events')) as Array<{ seq: number }>;
        const start = newest[0]!.seq;
        const appended = deferred();
        const release = deferred();
        const slow = database.transaction(async (tx) => {
          await audit.record(tx, { type: 'client.updated', clientId: 'in-flight' });
          // Runs after the audit flush: the event is inserted (its seq drawn), the transaction still open.
          database.beforeCommit(tx, async () => {
            appended.resolve();
            await release.promise;
          });
        });
        await appended.promise;
        const announcedBefore = notifier.latestSeq;
        await database.transaction((tx) => audit.record(tx, { type: 'client.updated', clientId: 'committed-first' }));
        const raw = (await db.dataSource.query(`SELECT client_id FROM audit_events WHERE seq > $1 ORDER BY seq`, [start])) as Array<{ client_id: string }>;
        assert.deepEqual(raw.map((row) => row.client_id), ['committed-first'], 'the larger seq is committed, the smaller not yet');
        assert.equal(notifier.latestSeq, announcedBefore, 'later commits of this instance exceed it, the in-flight one included');

        const reading = events.after(start, 10);
        // The reader waits for the append lock until the open transaction ends.
        await eventually(async () => {
          const rows = (await db.dataSource.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)) as Array<{ n: number }>;
          return rows[0]!.n > 0;
        }, 'the reader waits for the append lock');
        release.resolve();
        await slow;
        const read = await reading;
        assert.deepEqual(read.map((event) => event.client_id), ['in-flight', 'committed-first']);
        assert.equal(notifier.latestSeq, Math.max(...read.map((event) => event.seq)), 'nothing of this instance in flight any more');
      });
    }

    it('inserts several events of one transaction in the order they were recorded', async () => {
      const events = await database.transaction(async (tx) => {
        await audit.record(tx, { type: 'refresh_token.reuse_detected', clientId: 'c', data: { grant_id: 'g2' } });
        await audit.record(tx, { type: 'grant.revoked', clientId: 'c', data: { grant_id: 'g2', reason: 'refresh_token_reuse' } });
        return null;
      }).then(() => committed.slice(-2));
      assert.deepEqual(events.map((event) => event.type), ['refresh_token.reuse_detected', 'grant.revoked']);
      assert.ok(events[0]!.seq < events[1]!.seq);
      assert.deepEqual(events.map((event) => event.outcome), ['failure', 'success']);
      assert.deepEqual(events[1]!.actor, { kind: 'system', id: null });
    });

    it('announces each event as it reads back: the seq and id drawn for it, with the values recorded', async () => {
      const [newest] = await events.find({ newestFirst: true, limit: 1 });
      const from = committed.length;
      await database.transaction(async (tx) => {
        await audit.record(tx, { type: 'consent.granted', clientId: 'c', subject: 'u1', scopes: ['a', 'b'], data: { scopes: ['a', 'b'], remembered: true, é: 'x', ab: 'y', e: 0 } });
        await audit.record(tx, { type: 'grant.revoked', clientId: 'c', data: { grant_id: 'g3', reason: 'user' } });
      });
      for (const subject of ['u2', 'u3', 'u4']) audit.recordObservation({ type: 'token.introspected', clientId: 'c', subject, resource: 'https://mcp.example.com/', data: { active: true } });
      await audit.flushObservations();
      const announced = committed.slice(from);
      const read = await events.find({ after: newest?.seq ?? 0, limit: 10 });
      assert.equal(announced.length, 5);
      assert.equal(JSON.stringify(announced), JSON.stringify(read), 'the same text, nested keys in jsonb’s order too');
    });

    it('after(): a run this instance committed comes from memory; one with another instance’s event, from the table', async () => {
      const other = new AuditLog(database, new AuditEventRepository(database, new AuditNotifier()), new AuditNotifier(), new MetricsService());
      const [newest] = await events.find({ newestFirst: true, limit: 1 });
      const start = newest?.seq ?? 0;
      const mine = async (subject: string) => database.transaction((tx) => audit.record(tx, { type: 'consent.granted', clientId: 'c', subject, scopes: ['a'], data: { scopes: ['a'] } }));
      await mine('u1');
      await mine('u2');
      await database.transaction((tx) => other.record(tx, { type: 'consent.granted', clientId: 'c', subject: 'elsewhere', scopes: ['a'], data: { scopes: ['a'] } }));
      await mine('u3');
      const all = await events.after(start, 10);
      assert.deepEqual(all.map((event) => event.subject), ['u1', 'u2', 'elsewhere', 'u3'], 'the other instance’s event is not skipped');
      assert.ok(all.every((event) => !Object.isFrozen(event)), 'read from the table');
      const last = await events.after(all[2]!.seq, 10);
      assert.deepEqual(last.map((event) => event.subject), ['u3']);
      assert.ok(Object.isFrozen(last[0]), 'taken from memory, as announced');
      assert.deepEqual(last, [all[3]]);
    });

    /** A change whose gate yields one row when `happens`: values only it knows (a subject, scopes, an id). */
    const test = params<{ happens: boolean }>();
    const TEST_CHANGE = auditedStatement(
      'test_change',
      sql`WITH found AS (SELECT 'user-from-row'::text AS user_id, ARRAY['tools:read', 'tools:write'] AS scopes, 42 AS id WHERE ${test.happens}::boolean)`,
      {
        gate: 'found',
        events: [{ subject: new ChangeColumn('user_id'), data: { scopes: new ChangeColumn('scopes'), id: new ChangeColumn('id') } }],
        row: (json) => ({ id: String(json.id) }),
      },
    );
    const change = (happens: boolean): AuditedChange<{ happens: boolean }, { id: string }> => ({ audited: TEST_CHANGE, values: { happens } });

    it('recordWith: writes the events in the change’s statement, with the values the change computed, and returns its row', async () => {
      const before = committed.length;
      const written = await audit.recordWith(change(true), [
        {
          type: 'consent.granted',
          clientId: 'c',
          request: { requestId: 'r-1', ip: '198.51.100.7', userAgent: 'Outbox/1' },
          data: { consent: 'new', note: `gh_rt_${'A'.repeat(43)}` },
        },
      ]);
      assert.deepEqual(written.row, { id: '42' });
      assert.equal(written.events.length, 1);
      const [event] = written.events;
      assert.equal(event?.subject, 'user-from-row');
      assert.deepEqual(event?.actor, { kind: 'user', id: 'user-from-row' }, 'the actor a user event names is the subject the change found');
      assert.deepEqual(event?.scopes, ['tools:read', 'tools:write'], 'the scopes column follows data.scopes, as for any event');
      assert.deepEqual(event?.data, { consent: 'new', scopes: ['tools:read', 'tools:write'], note: '[redacted]', id: 42 });
      assert.deepEqual([event?.request_id, event?.ip, event?.user_agent], ['r-1', '198.51.100.7', 'Outbox/1'], 'the request context the event carries');
      assert.deepEqual(committed.slice(before), written.events, 'announced once written');
      const stored = (await db.dataSource.query('SELECT subject, scopes, data FROM audit_events WHERE seq = $1', [event?.seq])) as Array<{ subject: string; scopes: string[]; data: unknown }>;
      assert.deepEqual(stored[0], { subject: 'user-from-row', scopes: ['tools:read', 'tools:write'], data: event?.data });
    });

    it('recordWith: writes nothing and announces nothing when the change did not happen', async () => {
      const before = await count();
      const announced = committed.length;
      const written = await audit.recordWith(change(false), [{ type: 'consent.granted', clientId: 'c' }]);
      assert.deepEqual(written, { events: [], row: null });
      assert.equal(await count(), before);
      assert.equal(committed.length, announced);
    });

    it('recordWith: refuses an event that gives a value its change computes, before writing anything', async () => {
      const before = await count();
      await assert.rejects(audit.recordWith(change(true), [{ type: 'consent.granted', clientId: 'c', subject: 'someone', data: { id: 7 } }]), /subject, id come from the change/);
      assert.equal(await count(), before);
    });

    it('replaces a secret-looking value a recorder passed by mistake', async () => {
      await database.transaction((tx) =>
        audit.record(tx, { type: 'token.revoked', clientId: 'c', data: { jti: 'j', note: `gh_rt_${'A'.repeat(43)}`, token: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' } }),
      );
      assert.deepEqual(committed.at(-1)?.data, { jti: 'j', note: '[redacted]', token: '[redacted]' });
    });
  });
}
