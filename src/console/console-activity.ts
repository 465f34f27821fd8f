import type { AuditEventType } from '../audit/audit-schema.js';

/**
 * What the overview's charts count, read from the audit events: which types make each series, the time buckets they
 * fall in, and the refusals grouped by reason. The repository counts events per bucket, type and detail; the rules
 * that turn those counts into series live here, once.
 */

export type ActivityRange = 'hour' | 'day';

interface RangeShape {
  buckets: number;
  bucketMs: number;
  /** Completes "… in the last hour". */
  label: string;
  /** Names one bucket in a table's heading. */
  bucketName: string;
  /** "per hour": what one bar counts. */
  per: string;
}

export const ACTIVITY_RANGES: Record<ActivityRange, RangeShape> = {
  hour: { buckets: 12, bucketMs: 5 * 60_000, label: 'the last hour', bucketName: '5 minutes from (UTC)', per: 'per 5 minutes' },
  day: { buckets: 24, bucketMs: 3_600_000, label: 'the last day', bucketName: 'Hour from (UTC)', per: 'per hour' },
};

export const DEFAULT_ACTIVITY_RANGE: ActivityRange = 'day';

/** `?range=`: hour or day; anything else (missing, repeated, unknown) is the default. */
export function activityRange(value: unknown): ActivityRange {
  return value === 'hour' || value === 'day' ? value : DEFAULT_ACTIVITY_RANGE;
}

/** The buckets a range covers at `now`: aligned to the clock (whole hours, whole 5 minutes), the last one holding now. */
export interface ActivityWindow {
  range: ActivityRange;
  bucketMs: number;
  /** The first bucket's start, inclusive. */
  start: Date;
  /** The last bucket's end, exclusive. */
  end: Date;
  /** Each bucket's start, oldest first. */
  bucketStarts: Date[];
}

export function activityWindow(range: ActivityRange, now: Date): ActivityWindow {
  const { buckets, bucketMs } = ACTIVITY_RANGES[range];
  const current = Math.floor(now.getTime() / bucketMs) * bucketMs;
  const start = current - (buckets - 1) * bucketMs;
  return {
    range,
    bucketMs,
    start: new Date(start),
    end: new Date(current + bucketMs),
    bucketStarts: Array.from({ length: buckets }, (_, i) => new Date(start + i * bucketMs)),
  };
}

type Counted = 'issued' | 'refreshes' | 'signIns';

/** Events that count as what their series says; a refresh retried moments later issued a new access token too. */
const COUNTED: Partial<Record<AuditEventType, Counted>> = {
  'token.issued': 'issued',
  'token.refreshed': 'refreshes',
  'token.refresh_retried': 'refreshes',
  'login.succeeded': 'signIns',
};

/**
 * Requests Gatehouse refused and recorded, with what names their reason (`detail`: the data key, if the type has
 * one). A token request refused for a bad code, verifier or client is no audit event (only the
 * gatehouse_oauth_errors_total metric counts it, with no history), so it cannot appear here.
 */
const REFUSALS: Partial<Record<AuditEventType, { label: string; detail?: 'reason' | 'policy' }>> = {
  'login.failed': { label: 'Sign-in failed', detail: 'reason' },
  'login.refused': { label: 'Sign-in policy refused', detail: 'reason' },
  'consent.denied': { label: 'Consent denied' },
  'authorization_code.replayed': { label: 'Authorization code replayed' },
  'refresh_token.reuse_detected': { label: 'Refresh token reused' },
  'rate_limit.exceeded': { label: 'Rate limited', detail: 'policy' },
  'client.metadata_rejected': { label: 'Client metadata rejected', detail: 'reason' },
};

/** Every type the charts read: what the repository's statement selects. */
export const ACTIVITY_EVENT_TYPES: readonly AuditEventType[] = [...Object.keys(COUNTED), ...Object.keys(REFUSALS)] as AuditEventType[];

/** How many refusal reasons get a chart of their own; the rest are summed as "Other reasons". */
export const REFUSAL_REASONS_SHOWN = 3;

/** A count of events of one type (and detail) in one bucket, as the repository returns it. */
export interface ActivityCount {
  /** The bucket's index from the window's start. */
  bucket: number;
  type: string;
  reason: string | null;
  policy: string | null;
  events: number;
}

export interface ActivitySeries {
  label: string;
  /** One count per bucket, oldest first. */
  values: number[];
  total: number;
}

export interface ActivityView {
  window: ActivityWindow;
  issued: ActivitySeries;
  refreshes: ActivitySeries;
  signIns: ActivitySeries;
  /** The most frequent reasons first, then "Other reasons" when there are more; empty when nothing was refused. */
  refusals: ActivitySeries[];
}

/** The series of the overview's charts from the counts of the window's events (counts outside it are ignored). */
export function activityView(window: ActivityWindow, counts: readonly ActivityCount[]): ActivityView {
  const size = window.bucketStarts.length;
  const series = (label: string): ActivitySeries => ({ label, values: new Array<number>(size).fill(0), total: 0 });
  const add = (target: ActivitySeries, count: ActivityCount) => {
    target.values[count.bucket] = (target.values[count.bucket] ?? 0) + count.events;
    target.total += count.events;
  };
  const counted: Record<Counted, ActivitySeries> = { issued: series('Tokens issued'), refreshes: series('Refreshes'), signIns: series('Sign-ins') };
  const reasons = new Map<string, ActivitySeries>();
  for (const count of counts) {
    if (!Number.isInteger(count.bucket) || count.bucket < 0 || count.bucket >= size) continue;
    const kind = COUNTED[count.type as AuditEventType];
    if (kind) {
      add(counted[kind], count);
      continue;
    }
    const refusal = REFUSALS[count.type as AuditEventType];
    if (!refusal) continue;
    const detail = refusal.detail ? count[refusal.detail] : null;
    const label = detail ? `${refusal.label}: ${detail}` : refusal.label;
    const reason = reasons.get(label) ?? series(label);
    reasons.set(label, reason);
    add(reason, count);
  }
  const ranked = [...reasons.values()].sort((a, b) => b.total - a.total || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  // A single reason left over is shown by its name rather than as "Other reasons".
  if (ranked.length <= REFUSAL_REASONS_SHOWN + 1) return { window, ...counted, refusals: ranked };
  const other = series('Other reasons');
  for (const reason of ranked.slice(REFUSAL_REASONS_SHOWN)) reason.values.forEach((events, bucket) => add(other, { bucket, type: '', reason: null, policy: null, events }));
  return { window, ...counted, refusals: [...ranked.slice(0, REFUSAL_REASONS_SHOWN), other] };
}
