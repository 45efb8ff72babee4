import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launchChromium } from './browser';
import { serviceMissing } from './services';

/** Where the browser tests leave their screenshots: git-ignored test artefacts. */
export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'screenshots');

/**
 * Debian's Chromium with fake media devices (support/browser.ts), or null after a printed skip (a
 * failure under CI=true) when it is not installed.
 */
export const launchChromiumOrSkip = async (t: TestContext): Promise<Browser | null> => {
  const missing = chromiumMissing();
  if (missing) {
    serviceMissing(t, 'Chromium', `${missing}; bash scripts/browser/chromium.sh installs it`);
    return null;
  }
  return launchChromium('fake');
};

export const screenshot = async (page: Page, name: string): Promise<string> => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
};

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * axe-core's WCAG 2 A and AA rules on the page as it is now (labels, names, contrast, keyboard
 * reachability of scrollable regions, nesting of interactive elements, landmarks...).
 */
export const axeViolations = async (page: Page): Promise<AxeViolation[]> => {
  // Through DevTools evaluation, which the page's Content-Security-Policy (no inline scripts) does not govern.
  await page.evaluate(`${AXE};0`);
  return page.evaluate(async () => {
    // Runs in the page (the test's tsconfig has no DOM types).
    const w = globalThis as unknown as { document: unknown; axe: { run(ctx: unknown, o: object): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> }> } };
    const r = await w.axe.run(w.document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
};

/**
 * Presses Tab until the focused element matches `target` (a CSS selector, or the element's exact
 * text), at most `max` times: the control is reachable by keyboard.
 */
export const tabTo = async (page: Page, target: { css: string } | { text: string }, max = 60): Promise<boolean> => {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const hit = await page.evaluate((t) => {
      const el = (globalThis as unknown as { document: { activeElement: { matches(s: string): boolean; textContent: string | null } | null } }).document.activeElement;
      if (!el) return false;
      return 'css' in t ? el.matches(t.css) : el.textContent?.trim() === t.text;
    }, target);
    if (hit) return true;
  }
  return false;
};
