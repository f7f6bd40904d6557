// Benchmark 2: hashing a 1 GiB file picked from disk into a torrent in a page, tabswarm against
// WebTorrent in one run, with the page's peak memory (JS heap + wasm memory) above its baseline.
// The page's figure misses its workers' heaps (tabswarm hashes in Web Workers), so the
// resident memory of all of Chromium's processes is sampled from outside as well.
import fs from 'node:fs';
import { launchBrowser, benchPeer, startTracker, printTable, writeResult, mbps, MiB, withTimeout } from './lib.mjs';
import { bigFile } from './bigfile.mjs';

const SIZE = Number(process.env.BENCH_SEED_MB ?? 1024) * MiB;
const { file } = bigFile(`seed-${SIZE / MiB}.bin`, SIZE);
const tracker = await startTracker();
// --expose-gc so the baseline is taken after a full collection; precise heap numbers.
const browser = await launchBrowser(['--js-flags=--expose-gc', '--enable-precise-memory-info']);
const rows = [];
const infoHashes = {};

/** Resident bytes of every process below this one (Chromium's and the tracker's), from /proc. */
function descendantsRss() {
  const parent = new Map();
  const rss = new Map();
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      rss.set(pid, m ? Number(m[1]) * 1024 : 0);
    } catch { /* the process ended meanwhile */ }
  }
  const below = (pid) => { for (let p = parent.get(pid); p; p = parent.get(p)) if (p === String(process.pid)) return true; return false; };
  let total = 0;
  for (const [pid, bytes] of rss) if (below(pid)) total += bytes;
  return total;
}
try {
  for (const [name, page, fn] of [['tabswarm', 'tabswarm.html', 'tsHashFile'], ['webtorrent', 'webtorrent.html', 'wtHashFile']]) {
    const p = await benchPeer(browser, tracker.url, page, name);
    await p.setInputFiles('#file', file);
    const rssBase = descendantsRss();
    let rssPeak = rssBase;
    const rssSampler = setInterval(() => { rssPeak = Math.max(rssPeak, descendantsRss()); }, 50);
    try {
      const r = await withTimeout(600_000, name, () => p.evaluate(async (f) => {
        globalThis.gc?.();
        const blob = window.pickedFile();
        const mem = () => (performance.memory?.usedJSHeapSize ?? 0) + (window.tsMemory ? window.tsMemory().wasm : 0);
        const base = mem();
        let peak = base;
        const sampler = setInterval(() => { peak = Math.max(peak, mem()); }, 25);
        const res = await window[f](blob, []);
        clearInterval(sampler);
        peak = Math.max(peak, mem(), res.peak ?? 0);
        return { ms: res.ms, base, peak, infoHash: res.infoHash };
      }, fn));
      clearInterval(rssSampler);
      infoHashes[name] = r.infoHash;
      rows.push({ client: name, MiB: SIZE / MiB, seconds: (r.ms / 1000).toFixed(2), 'MB/s': mbps(SIZE, r.ms).toFixed(0), 'memory growth MiB': ((r.peak - r.base) / MiB).toFixed(1), 'Chromium RSS growth MiB': ((rssPeak - rssBase) / MiB).toFixed(0) });
    } catch (e) {
      clearInterval(rssSampler);
      rows.push({ client: name, MiB: SIZE / MiB, seconds: '-', 'MB/s': '-', 'memory growth MiB': `failed: ${e.message}`, 'Chromium RSS growth MiB': '-' });
    }
    await p.context().close();
  }
} finally {
  await browser.close();
  await tracker.stop();
}
// Both hash the same file under the same name with the same default piece length, so the
// torrents must be identical: a check that the fast path hashes correctly.
const sameTorrent = infoHashes.tabswarm !== undefined && infoHashes.tabswarm === infoHashes.webtorrent;
const speed = (n) => Number(rows.find((r) => r.client === n)?.['MB/s']);
const ratio = speed('tabswarm') / speed('webtorrent');
printTable('Seeding: hash a 1 GiB picked file (targets: >= 5 x WebTorrent, memory growth <= 64 MiB)', rows);
console.log(`tabswarm / WebTorrent hashing speed = ${ratio.toFixed(2)}`);
console.log(`info hashes: ${JSON.stringify(infoHashes)} (${sameTorrent ? 'identical' : 'DIFFERENT'})`);
writeResult('seeding', { size: SIZE, rows, ratio, infoHashes, sameTorrent });
if (!sameTorrent) process.exitCode = 1;
