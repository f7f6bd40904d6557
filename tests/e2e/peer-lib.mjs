// The swarm of the end-to-end tests (tests/e2e/*.test.mjs): our tracker, headless browsers
// (Chromium, Firefox or both), and peers. Each peer is a blank page of the tracker's origin in
// its own isolated browser context; it loads /pkg/tabswarm.js (or WebTorrent's browser bundle)
// and is driven through page.evaluate with the public JS API only.
import { before, after } from 'node:test';
import { startTracker, launchBrowser, openPeer, browserKind } from './harness.mjs';

/**
 * A blank HTML page served by the tracker (the repository is its static root), so /pkg and
 * /node_modules load same-origin. It must come from the server: a page fulfilled by the test
 * runner counts as a public address and Chromium then blocks its requests to loopback.
 */
const BLANK = '/tests/e2e/peer-blank.html';

/**
 * Starts our tracker and headless browsers before the calling file's tests and stops them after
 * them: `browsers`, kinds of harness.mjs BROWSERS (default: the one E2E_BROWSER names, else
 * Chromium). Returns the swarm: `tracker`, `browser` (the first) and `browsers` (by kind), set
 * once the `before` hook ran, and openers of pages and peers, each in a fresh isolated context
 * of the first browser or of the one `in` names.
 */
export function withSwarm({ browsers = [browserKind()] } = {}) {
  const swarm = {
    tracker: null,
    browser: null,
    browsers: {},
    /** A page of the tracker's origin at `path` (see harness.mjs openPeer). */
    page: (path, name, { in: kind } = {}) => openPeer(pick(kind), swarm.tracker.url + path, { name }),
    /** A blank page with tests/e2e/shared.js loaded (see openBlank). */
    blank: (name, { in: kind } = {}) => openBlank(pick(kind), swarm.tracker.url, name),
    /** A tabswarm peer announcing to our tracker (or to `announce`); see tabswarmPeer. */
    tabswarm: (name, { announce = swarm.tracker.announce, in: kind, ...options } = {}) =>
      tabswarmPeer(pick(kind), swarm.tracker.url, announce, name, options),
    /** A WebTorrent peer; see webtorrentPeer. */
    webtorrent: (name, { in: kind } = {}) => webtorrentPeer(pick(kind), swarm.tracker.url, name),
  };
  const pick = (kind) => (kind ? swarm.browsers[kind] : swarm.browser);
  before(async () => {
    swarm.tracker = await startTracker();
    for (const kind of browsers) swarm.browsers[kind] = await launchBrowser([], kind);
    swarm.browser = swarm.browsers[browsers[0]];
  });
  after(async () => {
    for (const b of Object.values(swarm.browsers)) await b.close();
    await swarm.tracker?.stop();
  });
  return swarm;
}

/**
 * Evaluates `fn(arg)` in `page` (it may be async) every 200 ms until it returns a truthy value,
 * and returns that value; throws after `timeoutMs`. (Playwright's waitForFunction takes the
 * promise of an async function for a truthy result.)
 */
export async function until(page, fn, arg, { timeoutMs = 10_000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Closes the pages' browser contexts. */
export const closePeers = (...pages) => Promise.all(pages.map((p) => p.context().close()));

/**
 * Opens a fresh isolated context with a blank page of `origin`, with the page-side helpers of
 * tests/e2e/shared.js as `window.makeBytes` (randomBytes), `window.sha256` (sha256Hex) and
 * `window.withTimeout`.
 */
export async function openBlank(browser, origin, name) {
  const page = await openPeer(browser, `${origin}${BLANK}`, { name });
  await page.evaluate(async () => {
    const shared = await import('/tests/e2e/shared.js');
    window.makeBytes = shared.randomBytes;
    window.sha256 = shared.sha256Hex;
    window.withTimeout = shared.withTimeout;
  });
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
  }, { announce, storage });
  return page;
}

/** Loads WebTorrent's browser bundle in `page` and makes `window.wt` (a WebTorrent client). */
export async function webtorrentPeer(browser, origin, name) {
  const page = await openBlank(browser, origin, name);
  await page.evaluate(async () => {
    const { webtorrentClient } = await import('/tests/e2e/shared.js');
    window.wt = await webtorrentClient();
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
 * tabswarm starts downloading a magnet link (string) or .torrent bytes (array) as
 * `window.download`, and logs its events in `window.log`: counts of each, and `peers`
 * ({ id, t }), `errors` and `warnings` ({ msg, t }), t in the page's performance.now().
 */
export async function startDownload(page, source) {
  await page.evaluate(async (source) => {
    const input = typeof source === 'string' ? source : new Uint8Array(source);
    const log = { t0: performance.now(), doneAt: null, events: {}, peers: [], errors: [], warnings: [] };
    window.log = log;
    const d = await window.client.add(input);
    window.download = d;
    for (const name of ['metadata', 'piece', 'progress', 'wire', 'done']) {
      log.events[name] = 0;
      d.on(name, () => { log.events[name] += 1; });
    }
    d.on('done', () => { log.doneAt ??= performance.now(); });
    d.on('wire', (p) => log.peers.push({ id: p.id, t: performance.now() }));
    d.on('error', (e) => log.errors.push({ msg: String(e?.message ?? e), t: performance.now() }));
    d.on('warning', (e) => log.warnings.push({ msg: String(e?.message ?? e), t: performance.now() }));
  }, source);
}

/**
 * Waits for `window.download` to finish. Returns { sha256, length, received, downloaded,
 * uploaded, progress, name, files }, and, for a download begun by startDownload, `seconds`
 * from add() to done and `events` (the counts, and `error`: the error messages).
 */
export async function waitDone(page, { timeoutMs = 120_000 } = {}) {
  return page.evaluate(async (timeoutMs) => {
    const d = window.download;
    const log = window.log;
    await window.withTimeout(d.done(), timeoutMs, () => `download: progress ${d.progress}, peers ${d.numPeers}, ` +
      `received ${d.received}, errors ${log?.errors.map((e) => e.msg).join('; ')}`);
    const end = performance.now();
    const bytes = new Uint8Array(await (await d.blob()).arrayBuffer());
    return {
      sha256: await window.sha256(bytes),
      length: bytes.length,
      received: d.received,
      downloaded: d.downloaded,
      uploaded: d.uploaded,
      progress: d.progress,
      name: d.name,
      files: d.files.map((f) => ({ name: f.name, length: f.length })),
      seconds: log ? ((log.doneAt ?? end) - log.t0) / 1000 : undefined,
      events: log ? { ...log.events, error: log.errors.map((e) => e.msg) } : undefined,
    };
  }, timeoutMs);
}

/** startDownload, then waitDone. */
export async function tabswarmDownload(page, source, options) {
  await startDownload(page, source);
  return waitDone(page, options);
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
      await window.withTimeout(new Promise((resolve, reject) => {
        t.once('done', resolve);
        t.once('error', reject);
      }), timeoutMs, () => `WebTorrent download: progress ${t.progress}, peers ${t.numPeers}`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const blob = await t.files[0].blob();
    const bytes = new Uint8Array(await blob.arrayBuffer());
    return { sha256: await window.sha256(bytes), length: bytes.length, received: t.received, seconds };
  }, { announce, source, timeoutMs });
}
