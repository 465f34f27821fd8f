import { html, type SafeHtml } from '../common/html.js';
import { formatUtc } from '../account/account-views.js';
import { ACTIVITY_RANGES, type ActivityRange, type ActivitySeries, type ActivityView, type ActivityWindow } from './console-activity.js';

/**
 * The overview's activity charts, drawn on the server as inline SVG (no script): one bar per bucket, and beside each
 * chart a table of the same numbers, which is what screen readers (and tests) read. The SVG has no text of its own:
 * it stretches to any width (preserveAspectRatio none), so at 320 px it narrows instead of shrinking its labels.
 */

/** The bars' colour is --accent (3:1 and more on the card in both schemes); the baseline --muted. */
export const CHART_STYLES = `
  nav.range ul { list-style:none; display:flex; flex-wrap:wrap; gap:.25rem; margin:0 0 .75rem; padding:0; }
  nav.range a { display:inline-block; padding:.3rem .7rem; border:1px solid var(--line); border-radius:6px; color:var(--fg); text-decoration:none; }
  nav.range a:hover { text-decoration:underline; }
  nav.range a[aria-current=page] { background:var(--accent-fill); border-color:var(--accent-fill); color:#fff; }
  nav.range a:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
  .charts { display:grid; grid-template-columns:repeat(auto-fit, minmax(min(15rem, 100%), 1fr)); gap:1rem 1.5rem; }
  .chart h3, .chart h4 { font-size:.95rem; margin:0; }
  .chart p { margin:.1rem 0 .4rem; }
  svg.bars { display:block; width:100%; height:4.5rem; overflow:visible; }
  svg.bars .bar { fill:var(--accent); }
  svg.bars .baseline { stroke:var(--muted); stroke-width:1px; }
  .axis { display:flex; justify-content:space-between; gap:.5rem; color:var(--muted); font-size:.8rem; }
  .chart details { margin-top:.25rem; }
  .chart summary { cursor:pointer; color:var(--accent); font-size:.9rem; }
  .chart summary:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
  .chart table { font-size:.85rem; }
  .chart td { text-align:right; font-variant-numeric:tabular-nums; }
  .refusals { margin-top:1.25rem; }
`;

/** The viewBox's units: a bucket is SLOT wide, its bar BAR wide and at most HEIGHT tall. */
export const SLOT = 10;
export const BAR = 8;
export const HEIGHT = 100;
/** The least height of a bar that is not zero, so that one event beside a thousand still shows. */
export const MIN_BAR = 2;

export interface Bar {
  bucket: number;
  value: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A bar for each bucket that is not zero, its height in proportion to `max` (the chart's scale). */
export function bars(values: readonly number[], max: number): Bar[] {
  const out: Bar[] = [];
  values.forEach((value, bucket) => {
    if (value <= 0 || max <= 0) return;
    const height = Math.max(MIN_BAR, round(Math.min(value, max) / max * HEIGHT));
    out.push({ bucket, value, x: bucket * SLOT + (SLOT - BAR) / 2, y: round(HEIGHT - height), width: BAR, height });
  });
  return out;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** `14:05`, the clock time in UTC a bucket starts at. */
export function clock(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}`;
}

/** The range switch, the three series and the refusals by reason. */
export function activitySection(view: ActivityView): SafeHtml {
  const window = view.window;
  const shape = ACTIVITY_RANGES[window.range];
  const refusalsMax = Math.max(0, ...view.refusals.flatMap((series) => series.values));
  const refused = view.refusals.reduce((sum, series) => sum + series.total, 0);
  return html`<section aria-labelledby="activity-title">
    <h2 id="activity-title">Activity in ${shape.label}</h2>
    ${rangeSwitch(window.range)}
    <p class="muted small">From the audit events, ${shape.per}, from ${formatUtc(window.start)} to ${formatUtc(window.end)}.</p>
    <div class="charts">
      ${[view.issued, view.refreshes, view.signIns].map((series, i) => barChart({ id: `chart-${i + 1}`, level: 3, series, window, max: Math.max(0, ...series.values) }))}
    </div>
    <div class="refusals">
      <h3 id="refusals-title">Refusals by reason</h3>
      <p>${refused ? html`<strong>${refused}</strong> in ${shape.label}; each reason on the same scale.` : html`None in ${shape.label}.`}</p>
      ${view.refusals.length ? html`<div class="charts">${view.refusals.map((series, i) => barChart({ id: `chart-refusal-${i + 1}`, level: 4, series, window, max: refusalsMax }))}</div>` : ''}
    </div>
  </section>`;
}

const RANGE_LINKS: ReadonlyArray<{ range: ActivityRange; label: string }> = [
  { range: 'hour', label: 'Last hour' },
  { range: 'day', label: 'Last day' },
];

function rangeSwitch(current: ActivityRange): SafeHtml {
  return html`<nav class="range" aria-label="Chart range"><ul>${RANGE_LINKS.map(
    (link) => html`<li><a href="/console?range=${link.range}"${link.range === current ? html` aria-current="page"` : ''}>${link.label}</a></li>`,
  )}</ul></nav>`;
}

export interface BarChartInput {
  /** Unique on the page: the ids of the chart's heading, title and description start with it. */
  id: string;
  level: 3 | 4;
  series: ActivitySeries;
  window: ActivityWindow;
  /** The value of a full-height bar: the series' peak, or a peak shared by charts that are compared. */
  max: number;
}

/** One series: its heading and total, then (unless it is all zeros) the bars and the table of its numbers. */
export function barChart({ id, level, series, window, max }: BarChartInput): SafeHtml {
  const shape = ACTIVITY_RANGES[window.range];
  const heading = level === 3 ? html`<h3 id="${id}-name">${series.label}</h3>` : html`<h4 id="${id}-name">${series.label}</h4>`;
  if (series.total === 0) return html`<div class="chart">${heading}<p>None in ${shape.label}.</p></div>`;
  const peak = Math.max(...series.values);
  const peakAt = window.bucketStarts[series.values.indexOf(peak)];
  const width = series.values.length * SLOT;
  const last = window.bucketStarts[window.bucketStarts.length - 1];
  return html`<div class="chart">
      ${heading}
      <p><strong>${series.total}</strong> in ${shape.label}, at most ${peak} ${shape.per}.</p>
      <svg class="bars" role="img" aria-labelledby="${id}-title ${id}-desc" viewBox="0 0 ${width} ${HEIGHT}" preserveAspectRatio="none">
        <title id="${id}-title">${series.label} ${shape.per}, ${shape.label}</title>
        <desc id="${id}-desc">${series.total} in all; the most, ${peak}, from ${peakAt ? clock(peakAt) : ''} UTC. The table below has every count.</desc>
        <line class="baseline" x1="0" y1="${HEIGHT}" x2="${width}" y2="${HEIGHT}" vector-effect="non-scaling-stroke"/>
        ${bars(series.values, max).map((bar) => html`<rect class="bar" x="${bar.x}" y="${bar.y}" width="${bar.width}" height="${bar.height}"><title>${clock(window.bucketStarts[bar.bucket]!)} UTC: ${bar.value}</title></rect>`)}
      </svg>
      <div class="axis" aria-hidden="true"><span>${clock(window.start)}</span><span>${last ? clock(last) : ''}</span></div>
      <details>
        <summary>Table of ${series.label.toLowerCase()}</summary>
        <table>
          <caption class="muted small">${series.label} ${shape.per} (UTC)</caption>
          <thead><tr><th scope="col">${shape.bucketName}</th><th scope="col">${series.label}</th></tr></thead>
          <tbody>${series.values.map((value, i) => html`<tr><th scope="row"><time datetime="${window.bucketStarts[i]!.toISOString()}">${clock(window.bucketStarts[i]!)}</time></th><td>${value}</td></tr>`)}</tbody>
          <tfoot><tr><th scope="row">Total</th><td>${series.total}</td></tr></tfoot>
        </table>
      </details>
    </div>`;
}
