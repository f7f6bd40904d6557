// Swarms across browsers: Firefox (puppeteer-core, WebDriver BiDi) and Chromium (playwright-core)
// peers of one torrent, through our tracker, each in its own isolated context. Every download's
// bytes equal the seed's, and the leechers' uploads show that pieces crossed between browsers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSwarm, closePeers as close, tabswarmSeed, tabswarmDownload, webtorrentDownload } from './peer-lib.mjs';

const MiB = 1024 * 1024;
const swarm = withSwarm({ browsers: ['chromium', 'firefox'] });
const other = { chromium: 'firefox', firefox: 'chromium' };

for (const seedIn of ['firefox', 'chromium']) {
  test(`a ${seedIn} seed serves two ${other[seedIn]} leechers`, { timeout: 180_000 }, async () => {
    const seed = await swarm.tabswarm(`${seedIn}-seed`, { in: seedIn });
    const leechers = await Promise.all([1, 2].map((i) => swarm.tabswarm(`${other[seedIn]}-leech${i}`, { in: other[seedIn] })));
    const size = 24 * MiB + 77;
    const s = await tabswarmSeed(seed, { size, seed: 31, name: 'cross.bin' });
    const results = await Promise.all(leechers.map((p) => tabswarmDownload(p, s.magnetUri)));
    for (const d of results) {
      assert.equal(d.sha256, s.sha256);
      assert.equal(d.length, size);
      assert.ok(d.received >= size, `received ${d.received}`);
      assert.deepEqual(d.events.error, []);
    }
    const uploaded = await seed.evaluate(() => window.seeded.uploaded);
    assert.ok(uploaded >= size, `the ${seedIn} seed uploaded ${uploaded} bytes to ${other[seedIn]}`);
    console.log(`${seedIn} -> 2 x ${other[seedIn]}, 24 MiB: ${results.map((d) => `${(size / MiB / d.seconds).toFixed(1)} MiB/s`).join(', ')}`);
    assert.deepEqual([seed, ...leechers].flatMap((p) => p.errors), []);
    await close(seed, ...leechers);
  });
}

test('a mixed swarm: tabswarm in both browsers, WebTorrent in Firefox, every peer completes', { timeout: 180_000 }, async () => {
  const seed = await swarm.tabswarm('chromium-seed', { in: 'chromium' });
  const leechers = [
    await swarm.tabswarm('chromium-leech', { in: 'chromium' }),
    await swarm.tabswarm('firefox-leech1', { in: 'firefox' }),
    await swarm.tabswarm('firefox-leech2', { in: 'firefox' }),
  ];
  const wt = await swarm.webtorrent('firefox-webtorrent', { in: 'firefox' });
  const size = 12 * MiB + 3;
  const s = await tabswarmSeed(seed, { size, seed: 32, name: 'mixed-browsers.bin' });
  const [w, ...results] = await Promise.all([
    webtorrentDownload(wt, swarm.tracker.announce, s.torrentFile),
    ...leechers.map((p) => tabswarmDownload(p, s.torrentFile)),
  ]);
  for (const d of [w, ...results]) assert.equal(d.sha256, s.sha256);
  // Every leecher met at least two of the other four peers, and they served each other.
  const peerCounts = await Promise.all(leechers.map((p) => p.evaluate(() => window.download.peers().length)));
  assert.ok(peerCounts.every((n) => n >= 2), `peers per leecher: ${peerCounts}`);
  const byLeechers = results.reduce((n, d) => n + d.uploaded, 0);
  assert.ok(byLeechers > 0, 'the leechers uploaded to each other');
  assert.deepEqual([seed, wt, ...leechers].flatMap((p) => p.errors), []);
  await close(seed, wt, ...leechers);
});
