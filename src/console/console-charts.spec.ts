import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { activityView, activityWindow, type ActivityCount, type ActivitySeries } from './console-activity.js';
import { activitySection, barChart, bars, clock, HEIGHT, MIN_BAR, SLOT } from './console-charts.js';

const now = new Date('2026-12-05T04:17:42Z');
const hour = activityWindow('hour', now);
const series = (label: string, values: number[]): ActivitySeries => ({ label, values, total: values.reduce((a, b) => a + b, 0) });

describe('the bars of a chart', () => {
  it('are as tall as their values in proportion to the scale, one slot per bucket, none for zero', () => {
    const drawn = bars([4, 0, 2, 1], 4);
    assert.deepEqual(
      drawn.map((bar) => [bar.bucket, bar.x, bar.height, bar.y]),
      [
        [0, 1, 100, 0],
        [2, 2 * SLOT + 1, 50, 50],
        [3, 3 * SLOT + 1, 25, 75],
      ],
    );
    for (const bar of drawn) assert.equal(bar.y + bar.height, HEIGHT, 'every bar stands on the baseline');
  });

  it('keeps a single event visible beside a great many, and draws nothing on an empty scale', () => {
    assert.equal(bars([1, 1000], 1000)[0]!.height, MIN_BAR);
    assert.deepEqual(bars([0, 0], 0), []);
  });
});

describe('a bar chart', () => {
  const chart = (values: number[], max = Math.max(...values)) => barChart({ id: 'chart-x', level: 3, series: series('Tokens issued', values), window: hour, max }).value;

  it('is an image named by its title and description, with a bar per non-zero bucket', () => {
    const out = chart([0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    assert.match(out, /<svg class="bars" role="img" aria-labelledby="chart-x-title chart-x-desc" viewBox="0 0 120 100" preserveAspectRatio="none">/);
    assert.match(out, /<title id="chart-x-title">Tokens issued per 5 minutes, the last hour<\/title>/);
    assert.match(out, /<desc id="chart-x-desc">4 in all; the most, 3, from 03:25 UTC\./);
    const rects = [...out.matchAll(/<rect class="bar" x="([\d.]+)" y="([\d.]+)" width="8" height="([\d.]+)"><title>([^<]+)<\/title><\/rect>/g)];
    assert.deepEqual(
      rects.map((m) => [m[1], m[3], m[4]]),
      [
        ['11', '100', '03:25 UTC: 3'],
        ['101', '33.33', '04:10 UTC: 1'],
      ],
    );
    assert.match(out, /<p><strong>4<\/strong> in the last hour, at most 3 per 5 minutes\.<\/p>/);
  });

  it('carries every number in a table with a caption, headers, a row per bucket and the total', () => {
    const out = chart([0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    assert.match(out, /<summary>Table of tokens issued<\/summary>/);
    assert.match(out, /<caption class="muted small">Tokens issued per 5 minutes \(UTC\)<\/caption>/);
    assert.match(out, /<th scope="col">5 minutes from \(UTC\)<\/th><th scope="col">Tokens issued<\/th>/);
    const rows = [...out.matchAll(/<tr><th scope="row"><time datetime="([^"]+)">([^<]+)<\/time><\/th><td>(\d+)<\/td><\/tr>/g)];
    assert.equal(rows.length, 12);
    assert.deepEqual(rows[0]!.slice(1), ['2026-12-05T03:20:00.000Z', '03:20', '0']);
    assert.deepEqual(rows[1]!.slice(1), ['2026-12-05T03:25:00.000Z', '03:25', '3']);
    assert.deepEqual(rows[11]!.slice(1), ['2026-12-05T04:15:00.000Z', '04:15', '0']);
    assert.match(out, /<tfoot><tr><th scope="row">Total<\/th><td>4<\/td><\/tr><\/tfoot>/);
  });

  it('says none, and draws no image or table, when the series is all zeros', () => {
    const out = chart(new Array<number>(12).fill(0), 0);
    assert.match(out, /<h3 id="chart-x-name">Tokens issued<\/h3><p>None in the last hour\.<\/p>/);
    assert.doesNotMatch(out, /<svg|<table/);
  });

  it('draws on the scale it is given, so charts that are compared share one', () => {
    const out = barChart({ id: 'r', level: 4, series: series('Consent denied', [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), window: hour, max: 4 }).value;
    assert.match(out, /<h4 id="r-name">Consent denied<\/h4>/);
    assert.match(out, /<rect class="bar" x="1" y="75" width="8" height="25">/);
  });

  it('escapes a reason it shows', () => {
    const out = barChart({ id: 'r', level: 4, series: series('Sign-in failed: <b>', [1]), window: activityWindow('hour', now), max: 1 }).value;
    assert.doesNotMatch(out, /<b>/);
    assert.match(out, /Sign-in failed: &lt;b&gt;/);
  });
});

describe('the activity section', () => {
  const counts: ActivityCount[] = [
    { bucket: 23, type: 'token.issued', reason: null, policy: null, events: 2 },
    { bucket: 22, type: 'login.failed', reason: 'cancelled', policy: null, events: 3 },
    { bucket: 23, type: 'consent.denied', reason: null, policy: null, events: 1 },
  ];

  it('links both ranges, marking the current one, and names its span in UTC', () => {
    const out = activitySection(activityView(activityWindow('day', now), counts)).value;
    assert.match(out, /<nav class="range" aria-label="Chart range"><ul><li><a href="\/console\?range=hour">Last hour<\/a><\/li><li><a href="\/console\?range=day" aria-current="page">Last day<\/a><\/li><\/ul><\/nav>/);
    assert.match(out, /per hour, from 4 Dec 2026, 05:00 UTC to 5 Dec 2026, 05:00 UTC\./);
    const hourly = activitySection(activityView(hour, [])).value;
    assert.match(hourly, /<a href="\/console\?range=hour" aria-current="page">Last hour<\/a>/);
  });

  it('shows the three series and the refusals by reason on one scale', () => {
    const out = activitySection(activityView(activityWindow('day', now), counts)).value;
    assert.match(out, /<h3 id="chart-1-name">Tokens issued<\/h3>/);
    assert.match(out, /<h3 id="chart-2-name">Refreshes<\/h3><p>None in the last day\.<\/p>/);
    assert.match(out, /<h3 id="chart-3-name">Sign-ins<\/h3><p>None in the last day\.<\/p>/);
    assert.match(out, /<h3 id="refusals-title">Refusals by reason<\/h3>\s*<p><strong>4<\/strong> in the last day; each reason on the same scale\.<\/p>/);
    assert.match(out, /<h4 id="chart-refusal-1-name">Sign-in failed: cancelled<\/h4>/);
    assert.match(out, /<h4 id="chart-refusal-2-name">Consent denied<\/h4>/);
    // Consent denied (1) is drawn a third as tall as the three failed sign-ins.
    assert.match(out, /<rect class="bar" x="231" y="66.67" width="8" height="33.33"><title>04:00 UTC: 1<\/title>/);
    const ids = [...out.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  });

  it('says none when nothing was refused', () => {
    const out = activitySection(activityView(hour, [])).value;
    assert.match(out, /<h3 id="refusals-title">Refusals by reason<\/h3>\s*<p>None in the last hour\.<\/p>/);
  });

  it('writes bucket starts as UTC clock times', () => {
    assert.equal(clock(new Date('2026-12-05T04:05:59Z')), '04:05');
    assert.equal(clock(new Date('2026-12-05T23:00:00Z')), '23:00');
  });
});
