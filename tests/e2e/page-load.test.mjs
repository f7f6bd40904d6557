// The page served by the tracker loads its wasm module, served with the wasm MIME type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSwarm } from './peer-lib.mjs';

const swarm = withSwarm();

test('the page served by the tracker loads the wasm module', async () => {
  const page = await swarm.page('/', 'page');
  await page.waitForSelector('#status[data-wasm="loaded"]', { timeout: 20000 });
  const text = await page.textContent('#status');
  assert.match(text, /wasm module loaded/);
  const wasm = await page.evaluate(async () => (await fetch('/pkg/tabswarm_bg.wasm')).headers.get('content-type'));
  assert.equal(wasm, 'application/wasm');
  assert.deepEqual(page.errors, []);
});
