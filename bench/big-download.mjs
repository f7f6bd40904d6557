// Benchmark 3: a 2 GiB download stored in OPFS, then saved twice: streamed into a picked file
// (the page's way where showSaveFilePicker exists; compared with the download) and as a
// download of the disk-backed Blob (hashed on disk against the source). The leecher page's peak
// memory (JS heap + wasm memory) must stay at most 256 MiB throughout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../tests/e2e/harness.mjs';
import { launchBrowser, benchPeer, startTracker, printTable, writeResult, mbps, MiB, withTimeout } from './lib.mjs';
import { bigFile } from './bigfile.mjs';

const SIZE = Number(process.env.BENCH_BIG_MB ?? 2048) * MiB;
const { file, sha256 } = bigFile(`seed-${SIZE / MiB}.bin`, SIZE);
const tracker = await startTracker();
const browser = await launchBrowser(['--enable-precise-memory-info']);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tabswarm-bench-profile-'));
let leechContext;
let row;
try {
  const seed = await benchPeer(browser, tracker.url, 'tabswarm.html', 'big-seed');
  await seed.setInputFiles('#file', file);
  const s = await seed.evaluate((ann) => window.tsSeedPicked(ann), [tracker.announce]);
  // The leecher on a profile on disk, as a user's browser is: an isolated (incognito-like)
  // context keeps OPFS in memory, with a quota far below 2 GiB.
  leechContext = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    acceptDownloads: true,
    args: [...CHROMIUM_ARGS, '--enable-precise-memory-info'],
  });
  const leech = leechContext.pages()[0] ?? await leechContext.newPage();
  await leech.goto(`${tracker.url}/bench/pages/tabswarm.html`);
  await leech.waitForFunction(() => window.benchReady === true, null, { timeout: 30_000 });
  const d = await withTimeout(900_000, 'big download', () => leech.evaluate(([m, ann]) => window.tsDownload(m, ann, { hash: false }), [s.magnet, [tracker.announce]]));
  const streamed = await leech.evaluate(() => window.tsSaveStreamed());
  const [download] = await Promise.all([leech.waitForEvent('download', { timeout: 300_000 }), leech.evaluate(() => window.tsSaveDownload())]);
  const saved = await download.path();
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(saved, { highWaterMark: 16 << 20 })) h.update(chunk);
  const ok = h.digest('hex') === sha256 && fs.statSync(saved).size === SIZE;
  row = {
    MiB: SIZE / MiB,
    seconds: ((d.end - d.start) / 1000).toFixed(1),
    'MB/s': mbps(SIZE, d.end - d.start).toFixed(1),
    'peak page memory MiB': (d.peak / MiB).toFixed(0),
    'received MiB': (d.received / MiB).toFixed(0),
    'streamed save s': (streamed.ms / 1000).toFixed(1),
    'peak during save MiB': (streamed.peak / MiB).toFixed(0),
    'saved = download': streamed.same && streamed.size === SIZE,
    'SHA-256 ok': ok,
  };
} catch (e) {
  row = { MiB: SIZE / MiB, seconds: '-', 'MB/s': '-', 'peak page memory MiB': '-', 'received MiB': '-', 'streamed save s': '-', 'peak during save MiB': '-', 'saved = download': '-', 'SHA-256 ok': `failed: ${e.message}` };
} finally {
  await leechContext?.close();
  fs.rmSync(profile, { recursive: true, force: true });
  await browser.close();
  await tracker.stop();
}
printTable('Big download through OPFS (target: peak page memory <= 256 MiB)', [row]);
writeResult('big-download', { size: SIZE, row });
