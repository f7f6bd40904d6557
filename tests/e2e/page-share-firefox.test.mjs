// The page's share flow in Firefox (puppeteer-core over WebDriver BiDi): pick a file in page A,
// open A's share link in page B (another isolated context), save it in B. Firefox's download
// manager is not driven over BiDi here, so B's save is caught where the page hands the Blob to
// the browser (the <a download> click in www/app.js) and its bytes are hashed in the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openPeer } from './harness.mjs';
import { withSwarm } from './peer-lib.mjs';
import { randomBytes, sha256Hex } from './shared.js';

const swarm = withSwarm({ browsers: ['firefox'] });

test('Firefox: a file picked in page A is saved byte for byte by page B through the share link', { timeout: 180_000 }, async () => {
  const data = Buffer.from(randomBytes(8 * 1024 * 1024 + 321, 98));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabswarm-ff-'));
  const file = path.join(dir, 'holiday photos.bin');
  fs.writeFileSync(file, data);
  try {
    const a = await swarm.page('/', 'A');
    await a.waitForSelector('#status[data-wasm="loaded"]');
    const input = await a.waitForSelector('#file-input');
    await input.uploadFile(file);
    const link = await a.waitForSelector('#share-link[href*="magnet:"]', { timeout: 60_000 });
    const href = await link.evaluate((l) => l.getAttribute('href'));
    assert.match(href, new RegExp(`^${swarm.tracker.url}/#magnet:\\?xt=urn:btih:[0-9a-f]{40}`));

    const b = await openPeer(swarm.browser, href, { name: 'B' });
    await b.waitForSelector('#progress[aria-valuenow="100"]', { timeout: 120_000 });
    await b.evaluate(async () => {
      const { sha256Hex } = await import('/tests/e2e/shared.js');
      window.saved = new Promise((resolve) => {
        HTMLAnchorElement.prototype.click = function click() {
          resolve(fetch(this.href).then((r) => r.arrayBuffer())
            .then(async (buf) => ({ name: this.download, length: buf.byteLength, sha256: await sha256Hex(buf) })));
        };
      });
    });
    const save = await b.waitForSelector('#save:not([disabled])');
    await save.click();
    const saved = await b.evaluate(() => window.saved);
    assert.deepEqual(saved, { name: 'holiday photos.bin', length: data.length, sha256: await sha256Hex(data) });
    const rows = await b.$$eval('#peers tbody tr', (trs) => trs.map((tr) => tr.textContent));
    assert.ok(rows.length >= 1 && !/No peers/.test(rows[0]), `peer table: ${rows}`);
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
