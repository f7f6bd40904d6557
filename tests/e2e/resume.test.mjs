// Downloads that survive: the library (src/library.rs) keeps every torrent in OPFS, so a
// reload resumes a download without fetching verified pieces again, a browser restart brings
// a finished download back as a seed, and removing a torrent removes its data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './harness.mjs';
import { withSwarm, closePeers, tabswarmSeed, tabswarmDownload, startDownload, waitDone, until } from './peer-lib.mjs';

const swarm = withSwarm();
const MiB = 1024 * 1024;

/** After a reload: the page helpers, tabswarm, and a new `window.client`. */
async function reopen(page, announce) {
  await page.evaluate(async (announce) => {
    const shared = await import('/tests/e2e/shared.js');
    window.makeBytes = shared.randomBytes;
    window.sha256 = shared.sha256Hex;
    window.withTimeout = shared.withTimeout;
    const mod = await import('/pkg/tabswarm.js');
    await mod.default();
    window.tabswarm = mod;
    window.client = new mod.Client({ announce: [announce], iceServers: [] });
  }, announce);
}

/** `client.restore()` in the page; the first restored torrent becomes `window.download`. */
async function restore(page) {
  return page.evaluate(async () => {
    const t0 = performance.now();
    const list = await window.client.restore();
    const ms = performance.now() - t0;
    window.download = list[0];
    window.log = null;
    return { ms, torrents: list.map((t) => ({ infoHash: t.infoHash, name: t.name, progress: t.progress, kept: t.kept, storage: t.storage })) };
  });
}

test('a reload at about 50 % resumes: nothing verified is fetched again, at most 1.15 x the file over the wire', { timeout: 240_000 }, async () => {
  const size = 64 * MiB;
  const seed = await swarm.tabswarm('seed');
  const leech = await swarm.tabswarm('leech');
  const s = await tabswarmSeed(seed, { size, seed: 7 });
  // A capped seed makes "about half way" a window of seconds, not a race.
  await seed.evaluate(() => window.client.setLimits({ upload: 6e6 }));
  await startDownload(leech, s.magnetUri);
  const before = await leech.evaluate(async () => {
    const d = window.download;
    await window.withTimeout(new Promise((resolve) => {
      const check = () => (d.progress >= 0.5 ? resolve() : setTimeout(check, 20));
      check();
    }), 120_000, () => `progress ${d.progress}`);
    return { progress: d.progress, received: d.received, kept: d.kept, storage: d.storage };
  });
  assert.equal(before.kept, true, 'a download is kept in the library');
  assert.equal(before.storage, 'opfs');
  await leech.reload();
  await reopen(leech, swarm.tracker.announce);
  const back = await restore(leech);
  assert.equal(back.torrents.length, 1, JSON.stringify(back));
  const [t] = back.torrents;
  assert.equal(t.infoHash, s.infoHash);
  // Lost at most the pieces in flight and those whose write had not landed.
  assert.ok(t.progress >= before.progress - 0.1 && t.progress < 1, `progress ${before.progress} before, ${t.progress} after`);
  await seed.evaluate(() => window.client.setLimits({}));
  const done = await waitDone(leech, { timeoutMs: 180_000 });
  assert.equal(done.sha256, s.sha256);
  const total = before.received + done.received;
  console.log(`# reload at ${(before.progress * 100).toFixed(1)} %: restored at ${(t.progress * 100).toFixed(1)} % in ${back.ms.toFixed(0)} ms; ` +
    `received ${(before.received / MiB).toFixed(1)} + ${(done.received / MiB).toFixed(1)} MiB = ${(total / size).toFixed(3)} x the file`);
  assert.ok(total <= 1.15 * size, `received ${total} bytes in all for a ${size}-byte file`);
  assert.deepEqual(leech.uncaught, []);
  await closePeers(seed, leech);
});

test('removing a torrent deletes its data; keepData unlists it and a re-add resumes from the data', { timeout: 120_000 }, async () => {
  const size = 8 * MiB;
  const seed = await swarm.tabswarm('seed');
  const leech = await swarm.tabswarm('leech');
  const s = await tabswarmSeed(seed, { size, seed: 8 });
  await tabswarmDownload(leech, s.magnetUri);
  const files = async () => leech.evaluate(async () => {
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabswarm', { create: true });
    const out = {};
    for await (const [name, dir] of root.entries()) {
      const names = [];
      for await (const n of dir.keys()) names.push(n);
      out[name] = names.sort();
    }
    return out;
  });
  const stored = await leech.evaluate(() => window.download.storageUsed);
  assert.equal(stored, size);
  let listing = await files();
  assert.ok(listing[s.infoHash]?.includes('state.json') && listing[s.infoHash].includes('torrent'), JSON.stringify(listing));
  // keepData: unlisted (no state.json), pieces stay; adding it again needs no transfer.
  await leech.evaluate(() => window.download.destroy({ keepData: true }));
  await until(leech, (h) => navigator.storage.getDirectory()
    .then((r) => r.getDirectoryHandle('tabswarm')).then((t) => t.getDirectoryHandle(h))
    .then((d) => d.getFileHandle('state.json')).then(() => false, () => true), s.infoHash, { what: 'state.json to go' });
  listing = await files();
  assert.ok(!listing[s.infoHash].includes('state.json') && listing[s.infoHash].includes('p0'), JSON.stringify(listing));
  assert.equal((await restore(leech)).torrents.length, 0, 'an unlisted torrent is not restored');
  await closePeers(seed);
  const again = await leech.evaluate(async (m) => {
    const d = await window.client.add(m);
    await window.withTimeout(d.done(), 10_000, () => `progress ${d.progress}`);
    return { received: d.received, progress: d.progress };
  }, s.magnetUri);
  assert.deepEqual(again, { received: 0, progress: 1 }, 'the kept data serves the re-add, with no seed online');
  // destroy(): the directory goes.
  await leech.evaluate(() => window.client.torrents[0].destroy());
  await until(leech, async (h) => {
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabswarm');
    for await (const n of root.keys()) if (n === h) return false;
    return true;
  }, s.infoHash, { what: 'the directory to go' });
  await closePeers(leech);
});

test('a browser restart on the same profile lists the finished download, which seeds a new leecher', { timeout: 180_000 }, async () => {
  const size = 16 * MiB;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tabswarm-profile-'));
  const launch = () => chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const blank = `${swarm.tracker.url}/tests/e2e/peer-blank.html`;
  try {
    const seed = await swarm.tabswarm('seed');
    const s = await tabswarmSeed(seed, { size, seed: 9 });
    let ctx = await launch();
    let page = ctx.pages()[0] ?? await ctx.newPage();
    await page.goto(blank);
    await reopen(page, swarm.tracker.announce);
    const first = await tabswarmDownload(page, s.magnetUri);
    assert.equal(first.sha256, s.sha256);
    await ctx.close();
    await closePeers(seed); // the only other copy is gone

    ctx = await launch();
    page = ctx.pages()[0] ?? await ctx.newPage();
    await page.goto(blank);
    await reopen(page, swarm.tracker.announce);
    const back = await restore(page);
    assert.equal(back.torrents.length, 1, JSON.stringify(back));
    assert.equal(back.torrents[0].infoHash, s.infoHash);
    assert.equal(back.torrents[0].progress, 1);
    const leech = await swarm.tabswarm('new leecher');
    const got = await tabswarmDownload(leech, s.magnetUri);
    assert.equal(got.sha256, s.sha256);
    const up = await page.evaluate(() => window.download.uploaded);
    assert.ok(up >= size, `the restored seed sent ${up} bytes`);
    await closePeers(leech);
    await ctx.close();
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
});

test('a download bigger than the quota is refused at once; a full disk midway stops it with ERR_STORAGE_QUOTA', { timeout: 120_000 }, async () => {
  const size = 16 * MiB;
  const seed = await swarm.tabswarm('seed');
  const leech = await swarm.tabswarm('leech');
  const s = await tabswarmSeed(seed, { size, seed: 10 });
  // A .torrent that declares more than this context may store (no peer needed to refuse it).
  const huge = await leech.evaluate(async () => {
    const { quota, usage } = await window.client.storageEstimate();
    const length = 2 * (quota - usage) + 12345;
    const pieceLength = 64 * 1024 * 1024;
    const pieces = Math.ceil(length / pieceLength);
    const enc = new TextEncoder();
    const name = 'huge.bin';
    const info = `d6:lengthi${length}e4:name${name.length}:${name}12:piece lengthi${pieceLength}e6:pieces${pieces * 20}:`;
    const bytes = new Uint8Array([...enc.encode(`d4:info${info}`), ...new Uint8Array(pieces * 20).fill(7), ...enc.encode('ee')]);
    const code = await window.withTimeout(window.client.add(bytes).then(() => 'added', (e) => e.code), 10_000, () => 'add of a huge torrent');
    return { code, length, torrents: window.client.torrents.length };
  });
  assert.equal(huge.code, 'ERR_STORAGE_QUOTA', JSON.stringify(huge));
  assert.equal(huge.torrents, 0);
  // Chromium's DevTools protocol caps this origin's storage at 4 MiB, which its estimate()
  // does not show: the writes fail midway, and the download stops instead of retrying.
  const cdp = await leech.context().newCDPSession(leech);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: swarm.tracker.url, quotaSize: 4 * MiB });
  const r = await leech.evaluate(async (magnet) => {
    const d = await window.client.add(magnet);
    const error = new Promise((resolve) => d.on('error', (e) => resolve(e.code)));
    const done = await window.withTimeout(d.done().then(() => 'done', (e) => e.code), 30_000, () => `progress ${d.progress}`);
    return { error: await window.withTimeout(error, 5_000, () => 'no error event'), done, received: d.received };
  }, s.magnetUri);
  assert.equal(r.error, 'ERR_STORAGE_QUOTA');
  assert.equal(r.done, 'ERR_STORAGE_QUOTA', 'done() rejects with the reason');
  assert.ok(r.received < size, `stopped: received ${r.received} of ${size}`);
  await closePeers(seed, leech);
});
