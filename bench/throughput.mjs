// Benchmark 1: throughput of one seed to one leecher, in two isolated contexts of one headless
// Chromium, through our tracker, measured in one run for (a) a raw RTCDataChannel, (b) tabswarm
// and (c) WebTorrent to WebTorrent. Verifies the SHA-256 and the bytes received over the wire.
// tabswarm and WebTorrent seed a random file from disk, picked as a user would pick it (an
// in-memory File costs Chromium several times more per slice read, and fails with
// NotReadableError after a few hundred MiB of reads); the raw channel sends from memory.
// The three runs alternate for BENCH_ROUNDS rounds (default 3) and each reports its median:
// on this shared 2-core machine a single transfer's speed varies by 15% from one to the next.
// Settings: BENCH_MB (256), BENCH_ROUNDS (3), BENCH_ONLY (raw,tabswarm,webtorrent; also
// tabswarm-256k, tabswarm sending 256 KiB messages instead of its default size), and
// BENCH_STORAGE, the tabswarm leecher's storage (auto: kept in OPFS; memory; opfs); and the
// runs tabswarm-memory (the leecher in memory: not kept) and tabswarm-keep (the seed keeps a
// copy of its file in OPFS while it uploads), which compare those costs in one run.
import { startTracker, launchBrowser, benchPeer, printTable, writeResult, mbps, MiB, withTimeout } from './lib.mjs';
import { bigFile } from './bigfile.mjs';

const SIZE = Number(process.env.BENCH_MB ?? 256) * MiB;
const SEED = 7;
const { file, sha256 } = bigFile(`seed-${SIZE / MiB}.bin`, SIZE);
const only = (process.env.BENCH_ONLY ?? 'raw,tabswarm,webtorrent').split(',');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STORAGE = process.env.BENCH_STORAGE ?? 'auto';
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

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
  await seed.setInputFiles('#file', file);
  const s = await seed.evaluate((ann) => window[`${ann.fn}SeedPicked`](ann.list), announce);
  const d = await leech.evaluate(([m, ann, storage]) => window[`${ann.fn}Download`](m, ann.list, { storage }), [s.magnet, announce, STORAGE]);
  await seed.context().close();
  await leech.context().close();
  if (d.hash !== sha256) throw new Error(`${prefix}: SHA-256 of the download differs from the source`);
  if (d.received < SIZE) throw new Error(`${prefix}: only ${d.received} bytes came over the wire for ${SIZE}`);
  return { ms: d.end - d.start, received: d.received, storage: d.storage };
}

const tracker = await startTracker();
const browser = await launchBrowser();
const rows = [];
try {
  const announce = [tracker.announce];
  const runs = {
    raw: () => raw(browser, tracker.url),
    tabswarm: () => peerPair(browser, tracker.url, { fn: 'ts', list: announce }, 'tabswarm.html', 'tabswarm'),
    // tabswarm with 256 KiB messages, its size before MAX_MESSAGE became 128 KiB (src/rtc.rs).
    'tabswarm-256k': () => peerPair(browser, tracker.url, { fn: 'ts', list: announce }, 'tabswarm.html?maxMessageSize=262144', 'tabswarm-256k'),
    'tabswarm-memory': () => peerPair(browser, tracker.url, { fn: 'ts', list: announce }, 'tabswarm.html?storage=memory', 'tabswarm-memory'),
    'tabswarm-keep': () => peerPair(browser, tracker.url, { fn: 'ts', list: announce }, 'tabswarm.html?keep=1', 'tabswarm-keep'),
    webtorrent: () => peerPair(browser, tracker.url, { fn: 'wt', list: announce }, 'webtorrent.html', 'webtorrent'),
  };
  const samples = Object.fromEntries(only.map((n) => [n, []]));
  const failures = Object.fromEntries(only.map((n) => [n, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of only) {
      try {
        const r = await withTimeout(300_000, name, runs[name]);
        samples[name].push({ ms: r.ms, received: r.received });
        console.log(`round ${round} ${name}: ${mbps(SIZE, r.ms).toFixed(1)} MB/s${r.storage ? ` (leecher storage ${r.storage})` : ''}`);
      } catch (e) {
        failures[name].push(e.message);
        console.log(`round ${round} ${name}: failed: ${e.message}`);
      }
    }
  }
  for (const name of only) {
    const ok = samples[name];
    if (ok.length === 0) {
      rows.push({ run: name, MiB: SIZE / MiB, 'MB/s': '-', 'each round MB/s': '-', 'received MiB': '-', 'failed rounds': `${ROUNDS}: ${failures[name].join('; ')}` });
      continue;
    }
    const rates = ok.map((r) => mbps(SIZE, r.ms));
    rows.push({
      run: name,
      MiB: SIZE / MiB,
      'MB/s': median(rates).toFixed(1),
      'each round MB/s': rates.map((r) => r.toFixed(1)).join(' '),
      'received MiB': Math.min(...ok.map((r) => r.received / MiB)).toFixed(1),
      'failed rounds': failures[name].length,
    });
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
printTable(`Throughput, ${SIZE / MiB} MiB, one seed to one leecher, median of ${ROUNDS} alternating rounds (targets: >= 0.9 x raw, >= 1.5 x WebTorrent)`, rows);
console.log(`tabswarm / raw = ${ratios.tabswarm_over_raw.toFixed(2)}, tabswarm / WebTorrent = ${ratios.tabswarm_over_webtorrent.toFixed(2)}`);
writeResult('throughput', { size: SIZE, rounds: ROUNDS, rows, ratios });
