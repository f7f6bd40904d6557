// Helpers for the peer end-to-end tests (tests/e2e/peer-*.test.mjs) and the throughput script
// (tests/e2e/peer-bench.mjs). Each peer is a blank page of the tracker's origin in its own
// isolated browser context; it loads /pkg/tabswarm.js (or WebTorrent's browser bundle) and is
// driven through page.evaluate with the public JS API only.
import { launchBrowser } from './harness.mjs';

/**
 * A blank HTML page served by the tracker (the repository is its static root), so /pkg and
 * /node_modules load same-origin. It must come from the server: a page fulfilled by the test
 * runner counts as a public address and Chromium then blocks its requests to loopback.
 */
const BLANK = '/tests/e2e/peer-blank.html';

/** Opens a fresh isolated context with a blank page of `origin`. */
export async function openBlank(browser, origin, name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.peerName = name;
  page.errors = [];
  // Uncaught exceptions and unhandled rejections only (page.errors has console errors too).
  page.uncaught = [];
  page.on('pageerror', (e) => {
    page.errors.push(`${name}: ${e.message}`);
    page.uncaught.push(`${name}: ${e.message}`);
  });
  page.on('console', (m) => {
    if (process.env.E2E_VERBOSE) console.log(`[${name}] ${m.type()}: ${m.text()}`);
    if (m.type() === 'error') page.errors.push(`${name}: ${m.text()}`);
  });
  await page.goto(`${origin}${BLANK}`);
  return page;
}

/** Loads tabswarm in `page` and makes `window.client` (a Client announcing to `announce`). */
export async function tabswarmPeer(browser, origin, announce, name, { storage = 'auto' } = {}) {
  const page = await openBlank(browser, origin, name);
  await page.evaluate(async ({ announce, storage }) => {
    const mod = await import('/pkg/tabswarm.js');
    await mod.default();
    window.tabswarm = mod;
    window.client = new mod.Client({ announce: [announce], iceServers: [], storage });
    // Page-side helpers shared by the tests.
    window.makeBytes = (n, seed) => {
      // xorshift32, the same generator as harness.mjs randomBytes.
      const out = new Uint8Array(n);
      const view = new Uint32Array(out.buffer, 0, n >>> 2);
      let x = seed >>> 0 || 1;
      for (let i = 0; i < view.length; i++) {
        x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
        view[i] = x;
      }
      for (let i = view.length * 4; i < n; i++) out[i] = i & 255;
      return out;
    };
    window.sha256 = async (bytes) => {
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
    };
  }, { announce, storage });
  return page;
}

/** Loads WebTorrent's browser bundle in `page` and makes `window.wt` (a WebTorrent client). */
export async function webtorrentPeer(browser, origin, name) {
  const page = await openBlank(browser, origin, name);
  await page.evaluate(async () => {
    const { default: WebTorrent } = await import('/node_modules/webtorrent/dist/webtorrent.min.js');
    window.wt = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } }, dht: false, lsd: false, utPex: false });
    window.wt.on('error', (e) => console.error('webtorrent client error', String(e?.message ?? e)));
    window.makeBytes = (n, seed) => {
      const out = new Uint8Array(n);
      const view = new Uint32Array(out.buffer, 0, n >>> 2);
      let x = seed >>> 0 || 1;
      for (let i = 0; i < view.length; i++) {
        x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
        view[i] = x;
      }
      for (let i = view.length * 4; i < n; i++) out[i] = i & 255;
      return out;
    };
    window.sha256 = async (bytes) => {
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
    };
  });
  return page;
}

/**
 * tabswarm seeds `size` pseudo-random bytes (xorshift seed `seed`) as a File (or, with
 * `as: 'bytes'`, as a Uint8Array held in memory).
 * Returns { infoHash, magnetUri, torrentFile (array of bytes), sha256, length, seconds }.
 */
export async function tabswarmSeed(page, { size, seed = 1, name = 'data.bin', pieceLength, as = 'file', superSeed = false } = {}) {
  return page.evaluate(async ({ size, seed, name, pieceLength, as, superSeed }) => {
    const bytes = window.makeBytes(size, seed);
    const sha256 = await window.sha256(bytes);
    // A File is read in slices on demand; bytes are kept in memory.
    const file = as === 'file' ? new File([bytes], name) : bytes;
    const t0 = performance.now();
    const opts = { name, superSeed };
    if (pieceLength) opts.pieceLength = pieceLength;
    const t = await window.client.seed(file, opts);
    window.seeded = t;
    return {
      infoHash: t.infoHash,
      magnetUri: t.magnetUri,
      torrentFile: Array.from(t.torrentFile),
      name: t.name,
      length: t.length,
      pieceLength: t.pieceLength,
      sha256,
      seconds: (performance.now() - t0) / 1000,
    };
  }, { size, seed, name, pieceLength, as, superSeed });
}

/**
 * tabswarm downloads from a magnet link (string) or .torrent bytes (array) and waits for
 * `done`. Returns { sha256, length, received, downloaded, uploaded, seconds, events }.
 */
export async function tabswarmDownload(page, source, { timeoutMs = 120_000 } = {}) {
  return page.evaluate(async ({ source, timeoutMs }) => {
    const input = typeof source === 'string' ? source : new Uint8Array(source);
    const t0 = performance.now();
    const d = await window.client.add(input);
    window.download = d;
    const events = { metadata: 0, piece: 0, progress: 0, wire: 0, done: 0, error: [] };
    for (const name of ['metadata', 'piece', 'progress', 'wire', 'done']) d.on(name, () => { events[name] += 1; });
    d.on('error', (e) => events.error.push(String(e?.message ?? e)));
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(
        `download timed out: progress ${d.progress}, peers ${d.numPeers}, received ${d.received}, errors ${events.error.join('; ')}`)), timeoutMs);
    });
    await Promise.race([d.done(), timeout]);
    clearTimeout(timer);
    const seconds = (performance.now() - t0) / 1000;
    const blob = await d.blob();
    const bytes = new Uint8Array(await blob.arrayBuffer());
    return {
      sha256: await window.sha256(bytes),
      length: bytes.length,
      received: d.received,
      downloaded: d.downloaded,
      uploaded: d.uploaded,
      progress: d.progress,
      name: d.name,
      files: d.files.map((f) => ({ name: f.name, length: f.length })),
      seconds,
      events,
    };
  }, { source, timeoutMs });
}

/** Waits for window.download to finish; returns its SHA-256 and counters. */
export async function waitDone(page, { timeoutMs = 120_000 } = {}) {
  return page.evaluate(async (timeoutMs) => {
    const d = window.download;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: progress ${d.progress}, peers ${d.numPeers}`)), timeoutMs);
    });
    await Promise.race([d.done(), timeout]);
    clearTimeout(timer);
    const bytes = new Uint8Array(await (await d.blob()).arrayBuffer());
    return { sha256: await window.sha256(bytes), length: bytes.length, received: d.received, uploaded: d.uploaded };
  }, timeoutMs);
}

/**
 * Puts the file at `path` (on disk) into the page as a disk-backed File, the way a user's file
 * arrives, and returns nothing; the page finds it as `window.pickedFile`.
 * (Reading slices of a large in-memory File repeatedly fails in Chromium's off-the-record
 * contexts after a few hundred MiB with NotReadableError; disk-backed Files do not.)
 */
export async function pickFile(page, path) {
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'peer-file';
    document.body.append(input);
  });
  await page.setInputFiles('#peer-file', path);
  await page.evaluate(() => { window.pickedFile = document.getElementById('peer-file').files[0]; });
}

/** tabswarm seeds window.pickedFile (see pickFile); returns what tabswarmSeed returns but sha256. */
export async function tabswarmSeedPicked(page) {
  return page.evaluate(async () => {
    const t0 = performance.now();
    const t = await window.client.seed(window.pickedFile, {});
    window.seeded = t;
    return { infoHash: t.infoHash, torrentFile: Array.from(t.torrentFile), length: t.length, seconds: (performance.now() - t0) / 1000 };
  });
}

/** WebTorrent seeds window.pickedFile (see pickFile). */
export async function webtorrentSeedPicked(page, announce) {
  return page.evaluate(async (announce) => {
    const t0 = performance.now();
    const t = await new Promise((resolve, reject) => {
      window.wt.seed(window.pickedFile, { announce: [announce] }, resolve);
      window.wt.once('error', reject);
    });
    window.wtTorrent = t;
    return { infoHash: t.infoHash, torrentFile: Array.from(t.torrentFile), length: t.length, seconds: (performance.now() - t0) / 1000 };
  }, announce);
}

/** WebTorrent seeds `size` pseudo-random bytes; returns { infoHash, magnetUri, torrentFile, sha256 }. */
export async function webtorrentSeed(page, announce, { size, seed = 1, name = 'data.bin' } = {}) {
  return page.evaluate(async ({ announce, size, seed, name }) => {
    const bytes = window.makeBytes(size, seed);
    const sha256 = await window.sha256(bytes);
    const file = new File([bytes], name);
    const t = await new Promise((resolve, reject) => {
      window.wt.seed(file, { announce: [announce], name }, resolve);
      window.wt.once('error', reject);
    });
    window.wtTorrent = t;
    return { infoHash: t.infoHash, magnetUri: t.magnetURI, torrentFile: Array.from(t.torrentFile), sha256, length: t.length };
  }, { announce, size, seed, name });
}

/**
 * WebTorrent downloads `source` (magnet string or .torrent bytes) and waits for done.
 * Returns { sha256, length, received } where received counts bytes over the wire.
 */
export async function webtorrentDownload(page, announce, source, { timeoutMs = 120_000 } = {}) {
  return page.evaluate(async ({ announce, source, timeoutMs }) => {
    const input = typeof source === 'string' ? source : new Uint8Array(source);
    const t0 = performance.now();
    const t = await new Promise((resolve, reject) => {
      window.wt.add(input, { announce: [announce] }, resolve);
      window.wt.once('error', reject);
    });
    window.wtTorrent = t;
    if (!t.done) {
      let timer;
      await new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`WebTorrent download timed out: progress ${t.progress}, peers ${t.numPeers}`)), timeoutMs);
        t.once('done', resolve);
        t.once('error', reject);
      });
      clearTimeout(timer);
    }
    const seconds = (performance.now() - t0) / 1000;
    const blob = await t.files[0].blob();
    const bytes = new Uint8Array(await blob.arrayBuffer());
    return { sha256: await window.sha256(bytes), length: bytes.length, received: t.received, seconds };
  }, { announce, source, timeoutMs });
}

/** Polls `fn` in the page until it returns truthy. */
export async function pageWait(page, fn, arg, { timeoutMs = 60_000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${page.peerName}: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export { launchBrowser };
