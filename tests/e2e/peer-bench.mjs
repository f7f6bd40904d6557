// Throughput of one seed to one leecher, tabswarm and WebTorrent in the same run (not part of
// the test suite): `node tests/e2e/peer-bench.mjs [MiB]` after scripts/build.sh.
// Environment: ROUNDS (default 1), STORAGE of the tabswarm leecher (auto: OPFS above 128 MiB;
// memory; opfs), ONLY=tabswarm to skip WebTorrent.
//
// Each peer is in its own isolated browser context of one headless Chromium, through our
// tracker. Both seeds get the same random file from disk as a user's file arrives (a
// disk-backed File); every result is checked by SHA-256 and by the bytes received over the
// wire. MB/s counts from add() to done, so it includes finding and connecting to the peer.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTracker } from './harness.mjs';
import {
  launchBrowser, tabswarmPeer, webtorrentPeer, tabswarmDownload, webtorrentDownload, pickFile,
  tabswarmSeedPicked, webtorrentSeedPicked,
} from './peer-lib.mjs';

const MiB = 1024 * 1024;
const size = Number(process.argv[2] || 256) * MiB;
const rounds = Number(process.env.ROUNDS || 1);
const storage = process.env.STORAGE || 'auto';
const skipWebTorrent = process.env.ONLY === 'tabswarm';

const file = path.join(os.tmpdir(), `tabswarm-bench-${size}.bin`);
const data = crypto.randomBytes(size);
fs.writeFileSync(file, data);
const sha256 = crypto.createHash('sha256').update(data).digest('hex');

const tracker = await startTracker();
const browser = await launchBrowser();
const results = [];
const check = (impl, d) => {
  if (d.sha256 !== sha256 || d.length !== size || d.received < size) {
    throw new Error(`${impl}: bad result ${JSON.stringify({ ...d, events: undefined })}`);
  }
};
try {
  for (let round = 0; round < rounds; round++) {
    {
      const seed = await tabswarmPeer(browser, tracker.url, tracker.announce, 'tabswarm-seed');
      const leech = await tabswarmPeer(browser, tracker.url, tracker.announce, 'tabswarm-leech', { storage });
      await pickFile(seed, file);
      const s = await tabswarmSeedPicked(seed);
      const d = await tabswarmDownload(leech, s.torrentFile, { timeoutMs: 600_000 });
      check('tabswarm', d);
      const kept = await leech.evaluate(() => window.download.storage);
      results.push({ impl: 'tabswarm', round, seconds: d.seconds, mbps: size / 1e6 / d.seconds, hashSeconds: s.seconds, storage: kept, received: d.received });
      await seed.context().close();
      await leech.context().close();
    }
    if (!skipWebTorrent) {
      const seed = await webtorrentPeer(browser, tracker.url, 'webtorrent-seed');
      const leech = await webtorrentPeer(browser, tracker.url, 'webtorrent-leech');
      await pickFile(seed, file);
      const s = await webtorrentSeedPicked(seed, tracker.announce);
      const d = await webtorrentDownload(leech, tracker.announce, s.torrentFile, { timeoutMs: 600_000 });
      check('WebTorrent', d);
      results.push({ impl: 'webtorrent', round, seconds: d.seconds, mbps: size / 1e6 / d.seconds, hashSeconds: s.seconds, received: d.received });
      await seed.context().close();
      await leech.context().close();
    }
  }
} finally {
  await browser.close();
  await tracker.stop();
  fs.rmSync(file, { force: true });
}
console.log(`one seed to one leecher, ${size / MiB} MiB, isolated contexts (MB = 10^6 bytes; time from add() to done)`);
for (const r of results) {
  console.log(`${r.impl.padEnd(11)} round ${r.round}: ${r.mbps.toFixed(1).padStart(5)} MB/s (${r.seconds.toFixed(1)} s); ` +
    `seed hashed the file in ${r.hashSeconds.toFixed(1)} s` + (r.storage ? `; leecher storage ${r.storage}` : ''));
}
const mean = (impl) => {
  const xs = results.filter((r) => r.impl === impl).map((r) => r.mbps);
  return xs.reduce((a, b) => a + b, 0) / xs.length;
};
if (!skipWebTorrent) console.log(`tabswarm / WebTorrent: ${(mean('tabswarm') / mean('webtorrent')).toFixed(2)}`);
console.log(JSON.stringify(results));
