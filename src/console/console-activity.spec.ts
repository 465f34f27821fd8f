import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { ACTIVITY_EVENT_TYPES, activityRange, activityView, activityWindow, type ActivityCount } from './console-activity.js';
import { AUDIT_CATALOGUE } from '../audit/audit-schema.js';

const now = new Date('2026-12-05T04:17:42Z');
const count = (bucket: number, type: string, events: number, detail: { reason?: string; policy?: string } = {}): ActivityCount => ({
  bucket,
  type,
  reason: detail.reason ?? null,
  policy: detail.policy ?? null,
  events,
});

describe('the activity range', () => {
  it('is hour or day, and day for anything else', () => {
    assert.equal(activityRange('hour'), 'hour');
    assert.equal(activityRange('day'), 'day');
    for (const value of [undefined, '', 'week', 'HOUR', ['hour', 'day'], { range: 'hour' }]) assert.equal(activityRange(value), 'day', JSON.stringify(value));
  });
});

describe('the activity window', () => {
  it('covers the last day as 24 whole hours, the last one holding now', () => {
    const window = activityWindow('day', now);
    assert.equal(window.bucketMs, 3_600_000);
    assert.equal(window.bucketStarts.length, 24);
    assert.equal(window.start.toISOString(), '2026-12-04T05:00:00.000Z');
    assert.equal(window.end.toISOString(), '2026-12-05T05:00:00.000Z');
    assert.equal(window.bucketStarts[23]!.toISOString(), '2026-12-05T04:00:00.000Z');
    assert.ok(window.start <= now && now < window.end);
  });

  it('covers the last hour as 12 buckets of 5 minutes on the clock', () => {
    const window = activityWindow('hour', now);
    assert.equal(window.bucketStarts.length, 12);
    assert.equal(window.start.toISOString(), '2026-12-05T03:20:00.000Z');
    assert.equal(window.end.toISOString(), '2026-12-05T04:20:00.000Z');
    assert.deepEqual(
      window.bucketStarts.slice(0, 3).map((start) => start.toISOString()),
      ['2026-12-05T03:20:00.000Z', '2026-12-05T03:25:00.000Z', '2026-12-05T03:30:00.000Z'],
    );
  });

  it('starts a new bucket exactly on the boundary', () => {
    assert.equal(activityWindow('hour', new Date('2026-12-05T04:20:00Z')).end.toISOString(), '2026-12-05T04:25:00.000Z');
    assert.equal(activityWindow('hour', new Date('2026-12-05T04:19:59.999Z')).end.toISOString(), '2026-12-05T04:20:00.000Z');
  });
});

describe('the activity series', () => {
  const window = activityWindow('hour', now);

  it('reads only event types the audit schema knows', () => {
    for (const type of ACTIVITY_EVENT_TYPES) assert.ok(Object.hasOwn(AUDIT_CATALOGUE, type), type);
  });

  it('fills the buckets without events with zeros and counts issued tokens, refreshes (retries too) and sign-ins', () => {
    const view = activityView(window, [
      count(0, 'token.issued', 2),
      count(11, 'token.issued', 1),
      count(3, 'token.refreshed', 4),
      count(3, 'token.refresh_retried', 1),
      count(5, 'login.succeeded', 3),
    ]);
    assert.deepEqual(view.issued.values, [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert.equal(view.issued.total, 3);
    assert.deepEqual(view.refreshes.values, [0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(view.signIns.total, 3);
    assert.deepEqual(view.refusals, []);
  });

  it('ignores counts outside the window and types it does not chart', () => {
    const view = activityView(window, [count(-1, 'token.issued', 5), count(12, 'token.issued', 5), count(1, 'consent.granted', 5)]);
    assert.equal(view.issued.total, 0);
    assert.deepEqual(view.refusals, []);
  });

  it('names each refusal by its type and reason or policy, most frequent first', () => {
    const view = activityView(window, [
      count(1, 'login.failed', 1, { reason: 'cancelled' }),
      count(2, 'login.failed', 2, { reason: 'user_disabled' }),
      count(2, 'rate_limit.exceeded', 3, { policy: 'token' }),
      count(4, 'authorization_code.replayed', 1),
    ]);
    assert.deepEqual(
      view.refusals.map((series) => [series.label, series.total]),
      [
        ['Rate limited: token', 3],
        ['Sign-in failed: user_disabled', 2],
        ['Authorization code replayed', 1],
        ['Sign-in failed: cancelled', 1],
      ],
      'four reasons are all shown by name (ties by label)',
    );
  });

  it('sums the reasons after the third as other reasons', () => {
    const view = activityView(window, [
      count(0, 'consent.denied', 5),
      count(0, 'login.refused', 4, { reason: 'no_rule_matched' }),
      count(1, 'refresh_token.reuse_detected', 3),
      count(1, 'client.metadata_rejected', 2, { reason: 'not_json' }),
      count(6, 'login.refused', 1, { reason: 'provider_not_allowed' }),
    ]);
    assert.deepEqual(
      view.refusals.map((series) => series.label),
      ['Consent denied', 'Sign-in policy refused: no_rule_matched', 'Refresh token reused', 'Other reasons'],
    );
    const other = view.refusals[3]!;
    assert.equal(other.total, 3);
    assert.deepEqual(other.values, [0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
  });
});
