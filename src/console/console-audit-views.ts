import { html, type SafeHtml } from '../common/html.js';
import { AUDIT_OUTCOMES } from '../audit/audit-filter.js';
import { AUDIT_EVENT_TYPES, type AuditEventV1 } from '../audit/audit-schema.js';
import type { AuditEventData } from '../audit/audit-event.entity.js';
import { consolePage, type SignedInOperator } from './console-layout.js';
import type { AuditForm } from './console-audit-query.js';

/** How many events the page shows when it is drawn, newest first. */
export const AUDIT_TABLE_ROWS = 50;
/** How many rows the live table keeps: older rows go as new ones arrive (audit-stream.js reads data-max-rows). */
export const AUDIT_LIVE_ROWS = 200;
/** The most events one export sends; the last line says so when there were more. */
export const AUDIT_EXPORT_LIMIT = 100_000;
/** The longest data summary a row shows; the export has everything. */
const SUMMARY_LENGTH = 160;

export interface AuditPageView {
  form: AuditForm;
  /** Newest first; empty when the form has a problem. */
  events: readonly AuditEventV1[];
  /** A sentence saying what is wrong with the form (the page is then a 400 without events). */
  problem: string | null;
  /** Where audit-stream.js follows new events from; null when the range has an end (nothing new can match) or the form has a problem. */
  streamUrl: string | null;
}

const AUDIT_STYLES = `
  .filters { display:grid; grid-template-columns:repeat(auto-fit, minmax(13rem, 1fr)); gap:0 1rem; margin:0 0 1rem; padding:0; border:0; }
  .filters legend { font-weight:600; padding:0; margin-bottom:.25rem; }
  .filters .hint { margin:.15rem 0 0; }
  .filters input, .filters select { width:100%; box-sizing:border-box; }
  select { font:inherit; padding:.55rem .75rem; border:1px solid var(--field-line); border-radius:8px; background:var(--card); color:var(--fg); }
  select:focus-visible { outline:3px solid var(--accent); outline-offset:1px; }
  .actions { display:flex; flex-wrap:wrap; gap:.5rem; margin:.5rem 0 1rem; }
  .table-scroll { overflow-x:auto; max-width:100%; }
  .table-scroll:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
  table.audit { min-width:72rem; }
  table.audit td:last-child { min-width:16rem; }
  table.audit td { overflow-wrap:anywhere; }
  table.audit td.time { white-space:nowrap; }
  table.audit td code { word-break:normal; overflow-wrap:normal; white-space:nowrap; }
  table.audit caption { text-align:left; }
  .live-status { font-weight:600; }
`;

/** The audit section: the filter form, the newest matching events, and (with script) new ones as they happen. */
export function auditPage(operator: SignedInOperator, view: AuditPageView): string {
  const { form } = view;
  const hint = (id: string, text: string) => html`<p class="muted small hint" id="${id}">${text}</p>`;
  const body = html`<form method="get" action="/console/audit" aria-describedby="audit-form-hint">
  <p class="muted" id="audit-form-hint">Every filter you fill in must hold. Export downloads every matching event from since to until (at most ${AUDIT_EXPORT_LIMIT.toLocaleString('en-US')}), oldest first, as JSON lines.</p>
  <fieldset class="filters">
    <legend>Filters</legend>
    <div><label for="audit-type">Type</label><input type="text" id="audit-type" name="type" value="${form.type}" list="audit-types" autocomplete="off" spellcheck="false" aria-describedby="audit-type-hint">${hint('audit-type-hint', 'token.issued, or a prefix such as token.*; several separated by commas.')}</div>
    <div><label for="audit-client">Client</label><input type="text" id="audit-client" name="client_id" value="${form.client_id}" autocomplete="off" spellcheck="false" aria-describedby="audit-client-hint">${hint('audit-client-hint', 'A client_id, exactly.')}</div>
    <div><label for="audit-sub">User (sub)</label><input type="text" id="audit-sub" name="sub" value="${form.sub}" autocomplete="off" spellcheck="false" aria-describedby="audit-sub-hint">${hint('audit-sub-hint', 'The Gatehouse user id the event is about.')}</div>
    <div><label for="audit-resource">Resource</label><input type="text" id="audit-resource" name="resource" value="${form.resource}" autocomplete="off" spellcheck="false" aria-describedby="audit-resource-hint">${hint('audit-resource-hint', 'A resource server’s URL, exactly.')}</div>
    <div><label for="audit-outcome">Outcome</label><select id="audit-outcome" name="outcome">
      <option value=""${form.outcome === '' ? html` selected` : ''}>Any</option>
      ${AUDIT_OUTCOMES.map((outcome) => html`<option value="${outcome}"${form.outcome === outcome ? html` selected` : ''}>${outcome}</option>`)}
    </select></div>
    <div><label for="audit-since">Since</label><input type="text" id="audit-since" name="since" value="${form.since}" placeholder="2026-12-01" autocomplete="off" aria-describedby="audit-time-hint"></div>
    <div><label for="audit-until">Until</label><input type="text" id="audit-until" name="until" value="${form.until}" placeholder="2026-12-01T18:00" autocomplete="off" aria-describedby="audit-time-hint">${hint('audit-time-hint', 'A date, or a date and time: UTC unless it ends with a zone (Z, +02:00). Since is included, until is not.')}</div>
  </fieldset>
  <datalist id="audit-types">${typeSuggestions().map((type) => html`<option value="${type}"></option>`)}</datalist>
  <div class="actions">
    <button type="submit" class="primary">Show events</button>
    <button type="submit" formaction="/console/audit/export">Export as JSON lines</button>
    <a class="button" href="/console/audit">Clear filters</a>
  </div>
</form>
${view.problem ? html`<p class="callout" role="alert">${view.problem}</p>` : eventsTable(view)}`;
  return consolePage(operator, 'audit', 'Audit', body, { scripts: view.streamUrl ? ['audit-stream.js'] : [], styles: AUDIT_STYLES });
}

function eventsTable(view: AuditPageView): SafeHtml {
  const status = view.streamUrl
    ? `The ${AUDIT_TABLE_ROWS} newest matching events. Reload the page to see newer ones.`
    : 'The newest matching events before until. The range has an end, so no new event can join it.';
  return html`<p id="audit-live-status" class="live-status" role="status">${status}</p>
<div class="table-scroll" tabindex="0" role="region" aria-labelledby="audit-caption" aria-live="polite" aria-relevant="additions">
  <table class="audit" id="audit-events"${view.streamUrl ? html` data-stream="${view.streamUrl}" data-max-rows="${AUDIT_LIVE_ROWS}"` : ''}>
    <caption id="audit-caption">Audit events, newest first</caption>
    <thead><tr><th scope="col">Time (UTC)</th><th scope="col">Type</th><th scope="col">Outcome</th><th scope="col">Actor</th><th scope="col">Client</th><th scope="col">Subject</th><th scope="col">Resource</th><th scope="col">Details</th></tr></thead>
    <tbody>${view.events.length ? view.events.map(eventRow) : html`<tr class="empty"><td colspan="8">No events match.</td></tr>`}</tbody>
  </table>
</div>`;
}

/** One event as a row; audit-stream.js draws the same cells for the events it receives. */
export function eventRow(event: AuditEventV1): SafeHtml {
  return html`<tr data-seq="${event.seq}"><td class="time"><time datetime="${event.time}">${formatEventTime(event.time)}</time></td><td><code>${event.type}</code></td><td>${event.outcome}</td><td>${actorText(event)}</td><td>${event.client_id ?? ''}</td><td>${event.subject ?? ''}</td><td>${event.resource ?? ''}</td><td>${summarizeData(event.data)}</td></tr>`;
}

/** `2026-12-05 04:19:25`: the event's time in UTC to the second (the column header says UTC). */
export function formatEventTime(iso: string): string {
  return iso.replace('T', ' ').replace(/(?:\.\d+)?Z$/, '');
}

/** `admin api`, `resource https://…`; the kind alone when the id is null or already in the client or subject column. */
export function actorText(event: AuditEventV1): string {
  const { kind, id } = event.actor;
  if (id === null || (kind === 'client' && id === event.client_id) || (kind === 'user' && id === event.subject)) return kind;
  return `${kind} ${id}`;
}

/** `grant_type=mint, scopes=a b`: the data's fields in order, nulls left out, cut at SUMMARY_LENGTH. */
export function summarizeData(data: AuditEventData): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (value === null) continue;
    parts.push(`${key}=${Array.isArray(value) ? value.join(' ') : String(value)}`);
  }
  const text = parts.join(', ');
  return text.length > SUMMARY_LENGTH ? `${text.slice(0, SUMMARY_LENGTH - 1)}…` : text;
}

/** Every type, and each type's prefix (`token.*`), for the type field's suggestions. */
function typeSuggestions(): string[] {
  const prefixes = [...new Set(AUDIT_EVENT_TYPES.map((type) => `${type.slice(0, type.indexOf('.'))}.*`))];
  return [...prefixes, ...AUDIT_EVENT_TYPES];
}
