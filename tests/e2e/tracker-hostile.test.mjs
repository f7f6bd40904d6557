// A hostile tracker, and a link with too many trackers, in a real browser.
// A WebSocket server of the test's own answers every announce with an oversize message,
// text that is not JSON, a 100 KiB failure reason, a long warning and an offer with a
// broken SDP. The torrent reports each as a short warning or error, keeps working, and the
// page has no uncaught error. A magnet with 20 trackers keeps 16 and says so in a warning
// that a listener registered after add() resolves still hears.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import { withSwarm, tabswarmSeed } from './peer-lib.mjs';

const swarm = withSwarm();
let hostile, hostileUrl;
before(async () => {
  hostile = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => hostile.once('listening', r));
  hostileUrl = `ws://127.0.0.1:${hostile.address().port}/announce`;
  hostile.on('connection', (ws) => {
    // After a second: the test registers its listeners once seed() resolves.
    ws.once('message', (data) => setTimeout(() => {
      const announce = JSON.parse(String(data));
      const ih = announce.info_hash;
      ws.send('x'.repeat(200 * 1024));
      ws.send('not json {');
      ws.send(JSON.stringify({ 'failure reason': 'f'.repeat(100 * 1024) }));
      ws.send(JSON.stringify({ action: 'announce', info_hash: ih, interval: 120, 'warning message': 'w'.repeat(100 * 1024) }));
      ws.send(JSON.stringify({
        action: 'announce', info_hash: ih, peer_id: 'p'.repeat(20), offer_id: 'o'.repeat(20),
        offer: { type: 'offer', sdp: 'v=0\r\nthis is not an SDP' },
      }));
    }, 1000));
  });
});
after(async () => {
  await new Promise((r) => hostile?.close(r));
});

test('a hostile tracker gets short warnings and errors, and the torrent keeps working', { timeout: 60_000 }, async () => {
  const page = await swarm.tabswarm('hostile-tracker-client', { announce: hostileUrl });
  const s = await tabswarmSeed(page, { size: 100_000, seed: 41 });
  const seen = await page.evaluate(async () => {
    const t = window.seeded;
    const log = { warning: [], error: [] };
    for (const name of ['warning', 'error']) t.on(name, (e) => log[name].push(String(e?.message ?? e)));
    await new Promise((r) => setTimeout(r, 3000));
    return { ...log, progress: t.progress };
  });
  const all = [...seen.warning, ...seen.error];
  assert.ok(all.some((m) => /a message of 204800 bytes, over 131072/.test(m)), `oversize message reported: ${all.map((m) => m.slice(0, 120))}`);
  assert.ok(all.some((m) => /malformed/.test(m) && !/204800/.test(m)), 'text that is not JSON reported');
  const failure = all.find((m) => m.includes('refused'));
  assert.ok(failure, 'the failure reason is shown');
  assert.ok(failure.includes('f'.repeat(200)) && !failure.includes('f'.repeat(201)), `cut to 200 bytes: ${failure.length} chars`);
  const warning = all.find((m) => m.includes('warns'));
  assert.ok(warning && warning.length < 400, `the warning is cut: ${warning?.length}`);
  for (const m of all) assert.ok(m.length < 600, `every message is short: ${m.slice(0, 80)}... (${m.length})`);
  assert.equal(seen.progress, 1, 'the seed is still a seed');
  assert.equal(s.length, 100_000);
  assert.deepEqual(page.uncaught, [], 'no uncaught error');
  await page.context().close();
});

test('a magnet with 20 trackers uses 16 and warns about the rest', { timeout: 60_000 }, async () => {
  const page = await swarm.tabswarm('many-trackers');
  const warnings = await page.evaluate(async () => {
    const trs = Array.from({ length: 20 }, (_, i) => `&tr=${encodeURIComponent(`ws://127.0.0.1:9/t${i}`)}`).join('');
    const d = await window.client.add(`magnet:?xt=urn:btih:${'ab'.repeat(20)}${trs}`);
    const seen = [];
    d.on('warning', (e) => seen.push(String(e?.message ?? e)));
    await new Promise((r) => setTimeout(r, 500));
    d.destroy();
    return seen;
  });
  assert.ok(warnings.some((w) => /ignored \d+ trackers beyond the first 16/.test(w)), `warnings: ${warnings}`);
  assert.deepEqual(page.uncaught, []);
  await page.context().close();
});
