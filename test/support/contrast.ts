import { strict as assert } from 'node:assert';
import type { Page } from 'playwright-core';

/** One piece of text on a page, with its WCAG 2.x contrast ratio against what is behind it and the ratio it needs. */
export interface MeasuredText {
  text: string;
  element: string;
  ratio: number;
  required: number;
}

export interface ContrastReport {
  measured: number;
  lowest: MeasuredText | null;
  failures: MeasuredText[];
}

/**
 * Measures, in the page, every visible element that shows text: its own text nodes, and the value or placeholder of
 * a form field. The text colour (alpha blended) is compared with the effective background: the element's and its
 * ancestors' background colours composited from the first opaque one (the canvas when none is) up to the element.
 * WCAG 2.2 AA: 4.5:1, or 3:1 for large text (at least 24px, or 18.66px bold). A string: the project compiles
 * without the DOM library.
 */
const MEASURE_CONTRAST = `(() => {
  const parse = (value) => {
    const match = /rgba?\\(([^)]+)\\)/.exec(value);
    if (!match) throw new Error('unexpected colour ' + value);
    const parts = match[1].split(/[\\s,\\/]+/).filter(Boolean).map((part) => part.endsWith('%') ? parseFloat(part) / 100 : Number(part));
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const over = (top, below) => ({
    r: top.r * top.a + below.r * (1 - top.a),
    g: top.g * top.a + below.g * (1 - top.a),
    b: top.b * top.a + below.b * (1 - top.a),
    a: 1,
  });
  const channel = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  // Chromium's canvas behind a page that allows the dark scheme, when the dark scheme is preferred.
  const darkCanvas = matchMedia('(prefers-color-scheme: dark)').matches && getComputedStyle(document.documentElement).colorScheme.includes('dark');
  const canvas = darkCanvas ? { r: 18, g: 18, b: 18, a: 1 } : { r: 255, g: 255, b: 255, a: 1 };
  const backgroundOf = (element) => {
    const layers = [];
    for (let e = element; e; e = e.parentElement) {
      const colour = parse(getComputedStyle(e).backgroundColor);
      if (colour.a > 0) layers.push(colour);
      if (colour.a >= 1) break;
    }
    let behind = layers.length && layers[layers.length - 1].a >= 1 ? layers.pop() : canvas;
    while (layers.length) behind = over(layers.pop(), behind);
    return behind;
  };
  const describe = (element) => element.tagName.toLowerCase() + (element.id ? '#' + element.id : '') + (element.className && typeof element.className === 'string' ? '.' + element.className.trim().split(/\\s+/).join('.') : '');
  const measured = [];
  for (const element of document.body.querySelectorAll('*')) {
    const style = getComputedStyle(element);
    if (element.getClientRects().length === 0 || style.visibility !== 'visible' || Number(style.opacity) === 0) continue;
    let text = [...element.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join(' ').trim();
    let colour = style.color;
    if (element.tagName === 'INPUT' && element.type !== 'hidden') {
      text = element.value || element.placeholder || '';
      if (!element.value && element.placeholder) colour = getComputedStyle(element, '::placeholder').color;
    }
    if (!text) continue;
    const background = backgroundOf(element);
    const fg = luminance(over(parse(colour), background));
    const bg = luminance(background);
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    measured.push({ text: text.slice(0, 60), element: describe(element), ratio: Math.round(ratio * 100) / 100, required: large ? 3 : 4.5 });
  }
  return measured;
})()`;

/** Measures the page as it is, with no element hovered or focused. */
export async function measureContrast(page: Page): Promise<ContrastReport> {
  await page.mouse.move(0, 0);
  await page.evaluate('document.activeElement && document.activeElement !== document.body && document.activeElement.blur()');
  const measured = await page.evaluate<MeasuredText[]>(MEASURE_CONTRAST);
  const lowest = measured.reduce<MeasuredText | null>((low, item) => (low === null || item.ratio / item.required < low.ratio / low.required ? item : low), null);
  return { measured: measured.length, lowest, failures: measured.filter((item) => item.ratio < item.required) };
}

/**
 * Asserts WCAG AA contrast for every piece of text, in the light and the dark colour scheme, and returns the lowest
 * ratio of each (the one nearest its threshold) as `light 5.2:1 (…)`, for the test's log. The page is left light.
 */
export async function assertContrastInBothSchemes(page: Page, what: string): Promise<string[]> {
  const lowest: string[] = [];
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const report = await measureContrast(page);
    const low = report.lowest ? `${report.lowest.ratio}:1 (needs ${report.lowest.required}:1) on ${report.lowest.element} "${report.lowest.text}"` : 'none';
    assert.ok(report.measured > 0, `${what}, ${colorScheme}: no text measured`);
    assert.deepEqual(
      report.failures.map((failure) => `${failure.element} "${failure.text}": ${failure.ratio}:1 < ${failure.required}:1`),
      [],
      `${what}, ${colorScheme}: text under WCAG AA contrast; lowest ${low}`,
    );
    lowest.push(`${what}, ${colorScheme}: lowest ${low}, ${report.measured} texts measured`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return lowest;
}
