import type { Request } from 'express';
import { parseAuditFilter, type AuditEventFilter } from '../audit/audit-filter.js';

/** The audit page's form, as typed: the admin API's filter names, and since/until for the range. Empty when not set. */
export interface AuditForm {
  type: string;
  client_id: string;
  sub: string;
  resource: string;
  outcome: string;
  since: string;
  until: string;
}

export const AUDIT_FORM_FIELDS = ['type', 'client_id', 'sub', 'resource', 'outcome', 'since', 'until'] as const satisfies ReadonlyArray<keyof AuditForm>;

/** What the form selects: the filter every view applies, and the time range (the table and the export). */
export interface AuditSelection {
  filter: AuditEventFilter;
  since?: Date;
  until?: Date;
}

export type AuditFormReading = { form: AuditForm; selection: AuditSelection; problem: null } | { form: AuditForm; selection: null; problem: string };

/** A date, or a date and time; without a zone it is UTC (what a datetime-local field sends, and what the page says). */
const TIME = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:\d{2})?)?$/;

/** An instant from the form's since/until; null when it is none. */
export function parseFormTime(value: string): Date | null {
  const match = TIME.exec(value);
  if (!match) return null;
  const [, date = '', time, zone] = match;
  // Date rolls 2026-02-30 over to March: a day that is not in the calendar is refused instead.
  const day = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== date) return null;
  if (time === undefined) return day;
  const parsed = new Date(`${date}T${time}${zone ?? 'Z'}`);
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}

/** The form from a query string; a field given twice, or a value the filters refuse, is the reading's problem. */
export function readAuditForm(query: Request['query']): AuditFormReading {
  const form: AuditForm = { type: '', client_id: '', sub: '', resource: '', outcome: '', since: '', until: '' };
  let problem: string | null = null;
  for (const name of AUDIT_FORM_FIELDS) {
    const value = query[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') {
      problem ??= `Give ${name} once.`;
      continue;
    }
    form[name] = value.trim();
  }
  if (problem) return { form, selection: null, problem };
  const given = (value: string) => (value === '' ? undefined : value);
  const parsed = parseAuditFilter({ type: given(form.type.replace(/\s+/g, '')), client_id: given(form.client_id), sub: given(form.sub), resource: given(form.resource), outcome: given(form.outcome) });
  if ('problem' in parsed) return { form, selection: null, problem: `${sentence(parsed.problem)}.` };
  const since = form.since === '' ? undefined : parseFormTime(form.since);
  const until = form.until === '' ? undefined : parseFormTime(form.until);
  if (since === null || until === null) return { form, selection: null, problem: 'Since and until must be dates, or dates and times (UTC unless they name a zone).' };
  if (since && until && since.getTime() >= until.getTime()) return { form, selection: null, problem: 'Since must be before until.' };
  return { form, selection: { filter: parsed.filter, since, until }, problem: null };
}

/** The query string of the form's non-empty fields (and `extra`), for the stream's and the export's URLs. */
export function auditQueryString(form: AuditForm, fields: ReadonlyArray<keyof AuditForm> = AUDIT_FORM_FIELDS, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const name of fields) if (form[name] !== '') params.set(name, form[name]);
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params.toString();
}

/** `gatehouse-audit-20261201T000000Z-20261205T041925Z.jsonl`: the range exported, until the export's time when open. */
export function exportFileName(selection: AuditSelection, now: Date): string {
  const compact = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `gatehouse-audit-${selection.since ? compact(selection.since) : 'start'}-${compact(selection.until ?? now)}.jsonl`;
}

function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
