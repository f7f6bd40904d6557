import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTracker, launchBrowser, openPeer } from './harness.mjs';

let tracker, browser;
before(async () => {
  tracker = await startTracker();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await tracker?.stop();
});

test('the page served by the tracker loads the wasm module', async () => {
  const page = await openPeer(browser, tracker.url + '/', { name: 'page' });
  await page.waitForSelector('#status[data-wasm="loaded"]', { timeout: 20000 });
  const text = await page.textContent('#status');
  assert.match(text, /wasm module loaded/);
  const wasm = await page.evaluate(async () => (await fetch('/pkg/tabswarm_bg.wasm')).headers.get('content-type'));
  assert.equal(wasm, 'application/wasm');
  assert.deepEqual(page.errors, []);
});
