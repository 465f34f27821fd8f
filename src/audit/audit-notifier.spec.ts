import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { AuditNotifier } from './audit-notifier.js';
import type { AuditEventV1 } from './audit-schema.js';

const event = (seq: number): AuditEventV1 => ({ seq, type: 'token.introspected', actor: { kind: 'resource', id: 'r' }, scopes: ['a'], data: { active: true } }) as unknown as AuditEventV1;

describe('AuditNotifier.committedAfter', () => {
  it('answers a run of announced events after a seq, up to the horizon and the limit', () => {
    const notifier = new AuditNotifier();
    notifier.committed([event(1), event(2), event(3)]);
    notifier.committed([event(4)]);
    assert.deepEqual(notifier.committedAfter(1, 4, 10)?.map((e) => e.seq), [2, 3, 4]);
    assert.deepEqual(notifier.committedAfter(0, 3, 10)?.map((e) => e.seq), [1, 2, 3], 'nothing past the horizon');
    assert.deepEqual(notifier.committedAfter(0, 4, 2)?.map((e) => e.seq), [1, 2]);
    assert.deepEqual(notifier.committedAfter(4, 4, 10), [], 'caught up');
  });

  it('answers nothing when a seq of the run was not announced here: another instance’s, or rolled back', () => {
    const notifier = new AuditNotifier();
    notifier.committed([event(1), event(3)]);
    assert.equal(notifier.committedAfter(0, 3, 10), null);
    assert.equal(notifier.committedAfter(1, 3, 10), null);
    assert.equal(notifier.committedAfter(0, 5, 10), null, 'nor past the last one announced');
    assert.deepEqual(notifier.committedAfter(2, 3, 10)?.map((e) => e.seq), [3]);
  });

  it('holds the last 1000 events: a reader further behind reads the table', () => {
    const notifier = new AuditNotifier();
    notifier.committed(Array.from({ length: 1200 }, (_, i) => event(i + 1)));
    assert.equal(notifier.committedAfter(0, 1200, 10), null);
    assert.equal(notifier.committedAfter(199, 1200, 10), null, 'seq 200 is gone');
    assert.deepEqual(notifier.committedAfter(200, 1200, 2)?.map((e) => e.seq), [201, 202]);
  });

  it('freezes what it announces: one object reaches every listener and sink', () => {
    const notifier = new AuditNotifier();
    const announced = event(1);
    notifier.committed([announced]);
    assert.throws(() => {
      (announced.data as Record<string, unknown>).active = false;
    }, TypeError);
    assert.throws(() => (announced.scopes as string[]).push('b'), TypeError);
    assert.equal(announced.data.active, true);
  });
});
