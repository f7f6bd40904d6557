// Benchmark 1: throughput of one seed to one leecher, in two isolated contexts of one headless
// Chromium, through our tracker, measured in one run for (a) a raw RTCDataChannel, (b) tabswarm
// and (c) WebTorrent to WebTorrent. Verifies the SHA-256 and the bytes received over the wire.
import { startTracker, launchBrowser, benchPeer, printTable, writeResult, mbps, MiB, withTimeout } from './lib.mjs';

const SIZE = Number(process.env.BENCH_MB ?? 256) * MiB;
const SEED = 7;
const only = (process.env.BENCH_ONLY ?? 'raw,tabswarm,webtorrent').split(',');

async function raw(browser, url) {
  const a = await benchPeer(browser, url, 'raw.html', 'raw-sender');
  const b = await benchPeer(browser, url, 'raw.html', 'raw-receiver');
  const offer = await a.evaluate(() => window.rawOffer());
  const answer = await b.evaluate(([o, n]) => window.rawAnswer(o, n), [offer, SIZE]);
  await a.evaluate((ans) => window.rawAccept(ans), answer);
  const sent = a.evaluate(([n, s]) => window.rawSend(n, 64 * 1024, 4 * 1024 * 1024, s), [SIZE, SEED]);
  const res = await b.evaluate(() => window.rawResult());
  const { start, hash } = await sent;
  await a.context().close();
  await b.context().close();
  if (res.bytes !== SIZE || res.hash !== hash) throw new Error(`raw: got ${res.bytes} bytes, hash ${res.hash} != ${hash}`);
  return { ms: res.lastByteAt - start, received: res.bytes };
}

async function peerPair(browser, url, announce, page, prefix) {
  const seed = await benchPeer(browser, url, page, `${prefix}-seed`);
  const leech = await benchPeer(browser, url, page, `${prefix}-leech`);
  const s = await seed.evaluate(([n, sd, ann]) => window[`${ann.fn}Seed`](n, sd, ann.list), [SIZE, SEED, announce]);
  const d = await leech.evaluate(([m, ann]) => window[`${ann.fn}Download`](m, ann.list), [s.magnet, announce]);
  await seed.context().close();
  await leech.context().close();
  if (d.hash !== s.hash) throw new Error(`${prefix}: SHA-256 of the download differs from the source`);
  if (d.received < SIZE) throw new Error(`${prefix}: only ${d.received} bytes came over the wire for ${SIZE}`);
  return { ms: d.end - d.start, received: d.received };
}

const tracker = await startTracker();
const browser = await launchBrowser();
const rows = [];
try {
  const announce = [tracker.announce];
  const runs = {
    raw: () => raw(browser, tracker.url),
    tabswarm: () => peerPair(browser, tracker.url, { fn: 'ts', list: announce }, 'tabswarm.html', 'tabswarm'),
    webtorrent: () => peerPair(browser, tracker.url, { fn: 'wt', list: announce }, 'webtorrent.html', 'webtorrent'),
  };
  for (const name of only) {
    try {
      const r = await withTimeout(300_000, name, runs[name]);
      rows.push({ run: name, MiB: SIZE / MiB, seconds: (r.ms / 1000).toFixed(2), 'MB/s': mbps(SIZE, r.ms).toFixed(1), 'received MiB': (r.received / MiB).toFixed(1) });
    } catch (e) {
      rows.push({ run: name, MiB: SIZE / MiB, seconds: '-', 'MB/s': '-', 'received MiB': `failed: ${e.message}` });
    }
  }
} finally {
  await browser.close();
  await tracker.stop();
}
const rate = (n) => Number(rows.find((r) => r.run === n)?.['MB/s']) || NaN;
const ratios = {
  tabswarm_over_raw: rate('tabswarm') / rate('raw'),
  tabswarm_over_webtorrent: rate('tabswarm') / rate('webtorrent'),
};
printTable(`Throughput, ${SIZE / MiB} MiB, one seed to one leecher (targets: >= 0.9 x raw, >= 1.5 x WebTorrent)`, rows);
console.log(`tabswarm / raw = ${ratios.tabswarm_over_raw.toFixed(2)}, tabswarm / WebTorrent = ${ratios.tabswarm_over_webtorrent.toFixed(2)}`);
writeResult('throughput', { size: SIZE, rows, ratios });
