import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { Database } from '../database/database.module.js';
import { AuditEventRepository, HORIZON } from './audit-event.repository.js';
import { AuditNotifier } from './audit-notifier.js';

/** A database whose horizon statements each wait until the test answers them, in the order they were run. */
class PendingHorizons {
  readonly asked: Array<{ answer(seq: number): void; fail(error: Error): void }> = [];

  readonly database = {
    run: (statement: unknown) => {
      assert.equal(statement, HORIZON);
      return new Promise((resolve, reject) => {
        this.asked.push({ answer: (seq) => resolve([{ seq: String(seq) }]), fail: reject });
      });
    },
  } as unknown as Database;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('AuditEventRepository.horizon', () => {
  it('lets callers that come while one is settled share the next, started only once that one has ended', async () => {
    const db = new PendingHorizons();
    const events = new AuditEventRepository(db.database, new AuditNotifier());
    const first = events.horizon();
    const second = events.horizon();
    const third = events.horizon();
    await settle();
    assert.equal(db.asked.length, 1, 'one reader at a time waits for the append lock');
    db.asked[0]!.answer(10);
    assert.equal(await first, 10);
    await settle();
    assert.equal(db.asked.length, 2, 'the callers that came meanwhile get a horizon read after they asked');
    db.asked[1]!.answer(12);
    assert.deepEqual(await Promise.all([second, third]), [12, 12]);

    const later = events.horizon();
    await settle();
    assert.equal(db.asked.length, 3, 'nothing under way: a new one at once');
    db.asked[2]!.answer(15);
    assert.equal(await later, 15);
  });

  it('still settles for the waiting callers when the one under way fails', async () => {
    const db = new PendingHorizons();
    const events = new AuditEventRepository(db.database, new AuditNotifier());
    const failing = events.horizon();
    const waiting = events.horizon();
    db.asked[0]!.fail(new Error('connection lost'));
    await assert.rejects(failing, /connection lost/);
    await settle();
    db.asked[1]!.answer(7);
    assert.equal(await waiting, 7);
  });
});
