// The page shares a file between two isolated browser contexts in two clicks: pick it in A,
// open A's share link in B, save it in B; the saved bytes equal the picked ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { openPeer, screenshotPath } from './harness.mjs';
import { withSwarm } from './peer-lib.mjs';
import { randomBytes, sha256Hex } from './shared.js';

const swarm = withSwarm();

test('a file picked in page A is saved byte for byte by page B through the share link', { timeout: 180_000 }, async () => {
  const data = Buffer.from(randomBytes(24 * 1024 * 1024 + 12345, 99));
  const { tracker, browser } = swarm;
  const a = await swarm.page('/', 'A');
  await a.setViewportSize({ width: 1100, height: 900 });
  await a.waitForSelector('#status[data-wasm="loaded"]');
  await a.setInputFiles('#file-input', { name: 'holiday photos.bin', mimeType: 'application/octet-stream', buffer: data });
  const link = await a.waitForSelector('#share-link[href*="magnet:"]', { timeout: 60_000 });
  const href = await link.getAttribute('href');
  assert.match(href, new RegExp(`^${tracker.url}/#magnet:\\?xt=urn:btih:[0-9a-f]{40}`));
  // Next to the link, its QR code (drawn by www/qr.js, not by the wasm package).
  const qrPath = await a.$eval('.qr svg path', (p) => p.getAttribute('d'));
  assert.match(qrPath, /^(M\d+,\d+h1v1h-1z){100,}$/);

  // Without the File System Access pickers (headless Chromium aborts them at once), Save takes
  // the page's fallback: a download of the disk-backed Blob. The picker path: page-library.
  const noPickers = () => { delete window.showSaveFilePicker; delete window.showDirectoryPicker; };
  const b = await openPeer(browser, href, { name: 'B', init: noPickers });
  await b.setViewportSize({ width: 390, height: 844 }); // phone width
  // Screenshot B while the transfer runs (first time progress is between 1 and 99).
  let during = false;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const now = Number(await b.getAttribute('#progress', 'aria-valuenow').catch(() => '0'));
    if (!during && now > 0 && now < 100) {
      await b.screenshot({ path: screenshotPath('page-B-during.png'), fullPage: true });
      await a.screenshot({ path: screenshotPath('page-A-during.png'), fullPage: true });
      during = true;
    }
    if (now === 100) break;
    assert.ok(Date.now() < deadline, 'download did not reach 100% in time');
    await new Promise((r) => setTimeout(r, 100));
  }
  const save = await b.waitForSelector('#save:not([disabled])');
  const [download] = await Promise.all([b.waitForEvent('download'), save.click()]);
  assert.equal(download.suggestedFilename(), 'holiday photos.bin');
  const saved = fs.readFileSync(await download.path());
  assert.equal(saved.length, data.length);
  assert.equal(await sha256Hex(saved), await sha256Hex(data));

  // The peer table lists the other side.
  const rows = await b.$$eval('#peers tbody tr', (trs) => trs.map((tr) => tr.textContent));
  assert.ok(rows.length >= 1 && !/No peers/.test(rows[0]), `peer table: ${rows}`);
  await a.screenshot({ path: screenshotPath('page-A-after.png'), fullPage: true });
  await b.screenshot({ path: screenshotPath('page-B-after.png'), fullPage: true });
  assert.deepEqual([...a.errors, ...b.errors], []);
});
