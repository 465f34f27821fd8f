import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
/** axe-core's browser build, evaluated through the DevTools protocol: the pages' CSP does not apply to it. */
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** WCAG 2.2 A and AA rules plus axe's best practices (landmarks, heading order, region). */
const RUN_AXE = `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] }, resultTypes: ['violations'] })
  .then((results) => ({
    rules: results.passes.length + results.violations.length + results.incomplete.length,
    violations: results.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })),
  }))`;

interface AxeViolation {
  id: string;
  impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core on the page as it is now, in the light and the dark scheme, and fails on any serious or critical
 * violation. Returns one diagnostic line per scheme, naming the minor and moderate findings it let pass.
 */
export async function assertNoSeriousAxeViolations(page: Page, label: string): Promise<string[]> {
  const lines: string[] = [];
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.evaluate(AXE_SOURCE);
    const result = (await page.evaluate(RUN_AXE)) as { rules: number; violations: AxeViolation[] };
    const serious = result.violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
    assert.deepEqual(
      serious.map((violation) => `${violation.impact} ${violation.id}: ${violation.help} (${violation.targets.join(', ')})`),
      [],
      `${label} (${colorScheme}): serious or critical accessibility violations`,
    );
    const others = result.violations.map((violation) => `${violation.impact} ${violation.id}`);
    lines.push(`${label} (${colorScheme}): axe rules with findings ${others.length ? others.join(', ') : 'none'}`);
  }
  await page.emulateMedia({ colorScheme: null });
  return lines;
}
