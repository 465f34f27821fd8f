import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { WriteBehindQueue, type Schedule, type WriteBehindLimits } from './audit-write-behind.js';

/** A scheduler the test drives: nothing runs until fire(). */
class FakeSchedule {
  readonly armed: Array<{ run: () => void; ms: number; cancelled: boolean }> = [];
  readonly schedule: Schedule = (run, ms) => {
    const timer = { run, ms, cancelled: false };
    this.armed.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };

  get pending(): Array<{ ms: number }> {
    return this.armed.filter((timer) => !timer.cancelled);
  }

  /** Runs every armed timer (as if their delay had passed), then lets the writes they start settle. */
  async fire(): Promise<void> {
    const due = this.pending as Array<{ run: () => void; ms: number; cancelled: boolean }>;
    for (const timer of due) timer.cancelled = true;
    for (const timer of due) timer.run();
    await settle();
  }
}

/** A write the test can hold open and make fail. */
class FakeWrite {
  readonly batches: string[][] = [];
  failures = 0;
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;
  readonly write = async (items: string[]): Promise<void> => {
    this.batches.push([...items]);
    if (this.gate) await this.gate;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('database unavailable');
    }
  };

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  async release(): Promise<void> {
    this.gate = null;
    this.open?.();
    await settle();
  }

  get written(): string[] {
    return this.batches.flat();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

const LIMITS: WriteBehindLimits = { maxDelayMs: 25, batchSize: 4, maxPending: 10 };

function setUp(limits: WriteBehindLimits = LIMITS) {
  const timers = new FakeSchedule();
  const writer = new FakeWrite();
  const report = { failed: [] as Array<{ error: unknown; retrying: number; dropped: number }>, refused: 0 };
  const queue = new WriteBehindQueue<string>(writer.write, limits, {
    failed: (error, counts) => report.failed.push({ error, ...counts }),
    refused: () => report.refused++,
  }, timers.schedule);
  return { timers, writer, report, queue };
}

const items = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `e${from + i}`);

describe('WriteBehindQueue', () => {
  it('writes what waits as one batch when the delay has passed, in order, and not before', async () => {
    const { timers, writer, queue } = setUp();
    for (const item of items(1, 3)) queue.push(item);
    await settle();
    assert.deepEqual(writer.batches, [], 'nothing is written before the delay');
    assert.deepEqual(timers.pending.map((timer) => timer.ms), [25], 'one timer for the batch, not one per item');
    await timers.fire();
    assert.deepEqual(writer.batches, [items(1, 3)]);
    assert.equal(queue.size, 0);
    assert.deepEqual(timers.pending, [], 'nothing armed once empty');
  });

  it('writes at once when a full batch waits, and leaves the rest for the delay', async () => {
    const { timers, writer, queue } = setUp();
    for (const item of items(1, 6)) queue.push(item);
    await settle();
    assert.deepEqual(writer.batches, [items(1, 4)], 'a full batch does not wait for the timer');
    assert.deepEqual(timers.pending.map((timer) => timer.ms), [25], 'the rest waits for the delay');
    await timers.fire();
    assert.deepEqual(writer.batches, [items(1, 4), items(5, 6)]);
  });

  it('collects what arrives during a write into the next batch instead of writing each', async () => {
    const { timers, writer, queue } = setUp();
    queue.push('e1');
    writer.hold();
    await timers.fire();
    for (const item of items(2, 4)) queue.push(item);
    assert.deepEqual(timers.pending, [], 'no timer while a write is under way');
    await writer.release();
    assert.deepEqual(writer.batches, [['e1']], 'the next batch waits for the delay after the write');
    await timers.fire();
    assert.deepEqual(writer.batches, [['e1'], items(2, 4)]);
  });

  it('flush() writes everything now, in batches, and close() makes later pushes write at once', async () => {
    const { timers, writer, queue } = setUp();
    for (const item of items(1, 6)) queue.push(item);
    await queue.close();
    assert.deepEqual(writer.written, items(1, 6));
    assert.ok(writer.batches.every((batch) => batch.length <= LIMITS.batchSize));
    queue.push('late');
    await settle();
    assert.deepEqual(writer.batches.at(-1), ['late'], 'written without waiting for a timer');
    assert.deepEqual(timers.pending, []);
  });

  it('flush() waits for the write under way and for what was queued behind it', async () => {
    const { timers, writer, queue } = setUp();
    queue.push('e1');
    writer.hold();
    await timers.fire();
    queue.push('e2');
    let flushed = false;
    const flushing = queue.flush().then(() => (flushed = true));
    await settle();
    assert.equal(flushed, false, 'still writing e1');
    await writer.release();
    await flushing;
    assert.deepEqual(writer.batches, [['e1'], ['e2']]);
  });

  it('refuses items beyond maxPending, counting the batch being written, and takes them again once there is room', async () => {
    const { timers, writer, report, queue } = setUp({ maxDelayMs: 25, batchSize: 4, maxPending: 6 });
    writer.hold();
    const accepted = items(1, 9).map((item) => queue.push(item));
    assert.deepEqual(accepted, [true, true, true, true, true, true, false, false, false]);
    assert.equal(report.refused, 3);
    assert.equal(queue.size, 6, '4 being written and 2 waiting');
    await writer.release();
    await timers.fire();
    assert.deepEqual(writer.written, items(1, 6));
    assert.equal(queue.push('e10'), true);
  });

  it('retries a failed write once, ahead of newer items, after the delay', async () => {
    const { timers, writer, report, queue } = setUp();
    writer.failures = 1;
    queue.push('e1');
    queue.push('e2');
    await timers.fire();
    assert.equal(report.failed.length, 1);
    assert.deepEqual({ retrying: report.failed[0]!.retrying, dropped: report.failed[0]!.dropped }, { retrying: 2, dropped: 0 });
    assert.match(String(report.failed[0]!.error), /database unavailable/);
    queue.push('e3');
    assert.deepEqual(timers.pending.map((timer) => timer.ms), [25], 'the retry waits for the delay');
    await timers.fire();
    assert.deepEqual(writer.batches, [['e1', 'e2'], ['e1', 'e2', 'e3']]);
    assert.equal(queue.size, 0);
  });

  it('drops items whose retry failed too, and reports them', async () => {
    const { timers, writer, report, queue } = setUp();
    writer.failures = 2;
    queue.push('e1');
    await timers.fire();
    queue.push('e2');
    await timers.fire();
    assert.deepEqual(report.failed.map(({ retrying, dropped }) => ({ retrying, dropped })), [
      { retrying: 1, dropped: 0 },
      { retrying: 1, dropped: 1 },
    ], 'e1 dropped after its second failure; e2 (first failure) kept for its retry');
    await timers.fire();
    assert.deepEqual(writer.batches, [['e1'], ['e1', 'e2'], ['e2']]);
    assert.equal(queue.size, 0);
  });

  it('a flush does not loop on a failing database: each item is tried twice, then dropped', async () => {
    const { writer, report, queue } = setUp();
    writer.failures = 100;
    for (const item of items(1, 3)) queue.push(item);
    await queue.flush();
    assert.equal(writer.batches.length, 2);
    assert.equal(report.failed.at(-1)!.dropped, 3);
    assert.equal(queue.size, 0);
  });
});
