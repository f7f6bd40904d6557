// Shared pieces of the benchmarks: the tracker and Chromium from the e2e harness, tables, JSON.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, openPeer } from '../tests/e2e/harness.mjs';
import { withTimeout as within } from '../tests/e2e/shared.js';

export { startTracker, launchBrowser, openPeer, ROOT } from '../tests/e2e/harness.mjs';

export const RESULTS = path.join(ROOT, 'bench/results');
export const MiB = 1 << 20;
export const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);

/** Opens a benchmark page in its own isolated context and waits until it is ready. */
export async function benchPeer(browser, baseUrl, page, name) {
  const p = await openPeer(browser, `${baseUrl}/bench/pages/${page}`, { name });
  await p.waitForFunction(() => window.benchReady === true, null, { timeout: 30000 });
  return p;
}

export function printTable(title, rows) {
  console.log(`\n${title}`);
  const cols = Object.keys(rows[0] ?? {});
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals) => `| ${vals.map((v, i) => String(v).padEnd(width[i])).join(' | ')} |`;
  console.log(line(cols));
  console.log(`|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(cols.map((c) => r[c])));
}

export function writeResult(name, data) {
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), ...data }, null, 2) + '\n');
  console.log(`wrote ${path.relative(ROOT, file)}`);
}

/** Runs `fn` with a time limit (tests/e2e/shared.js withTimeout) so no benchmark can hang the suite. */
export const withTimeout = (ms, what, fn) => within(fn(), ms, what);
