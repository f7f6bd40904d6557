// Issue 13: hostile peers in real browsers.
// (a) A WebTorrent peer whose chunk store returns corrupted bytes (added with skipVerify, so
//     it seeds them as if they were right) beside an honest tabswarm seed: the leecher
//     completes with the right bytes, bans the corrupting peer and never talks to it again,
//     and never bans the honest seed. Once with whole pieces spoiled, once with one byte in
//     the second block of each piece (pieces the honest seed serves too).
// (b) A raw data-channel peer (tests/e2e/raw-peer.js) that sends garbage: the seed closes
//     each such connection with the named reason, keeps serving an honest leecher meanwhile,
//     and its page has no uncaught error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTracker } from './harness.mjs';
import { launchBrowser, tabswarmPeer, webtorrentPeer, tabswarmSeed, openBlank } from './peer-lib.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;
let tracker, browser;
before(async () => {
  tracker = await startTracker();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await tracker?.stop();
});

const close = (...pages) => Promise.all(pages.map((p) => p.context().close()));

/** Starts a download in `page` that records `peer` and `error` events with their times. */
async function startLoggedDownload(page, torrentFile) {
  await page.evaluate(async (torrentFile) => {
    const d = await window.client.add(new Uint8Array(torrentFile));
    window.download = d;
    window.log = { peers: [], errors: [], warnings: [] };
    d.on('wire', (p) => window.log.peers.push({ id: p.id, t: performance.now() }));
    d.on('error', (e) => window.log.errors.push({ msg: String(e?.message ?? e), t: performance.now() }));
    d.on('warning', (e) => window.log.warnings.push({ msg: String(e?.message ?? e), t: performance.now() }));
  }, torrentFile);
}

/** Waits for window.download to finish; returns the SHA-256 of its bytes. */
async function finish(page, timeoutMs) {
  return page.evaluate(async (timeoutMs) => {
    const d = window.download;
    let timer;
    await Promise.race([
      d.done(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(
          `timed out: progress ${d.progress}, peers ${d.numPeers}, errors ${window.log.errors.map((e) => e.msg).join('; ')}`)), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    const bytes = new Uint8Array(await (await d.blob()).arrayBuffer());
    return window.sha256(bytes);
  }, timeoutMs);
}

for (const mode of ['piece', 'block']) {
  test(`a corrupting WebTorrent peer (spoiling each ${mode}) is banned, the honest seed is not`, { timeout: 150_000 }, async () => {
    const honest = await tabswarmPeer(browser, tracker.url, tracker.announce, 'honest-seed');
    const bad = await webtorrentPeer(browser, tracker.url, 'corrupting-webtorrent');
    const leech = await tabswarmPeer(browser, tracker.url, tracker.announce, 'leecher');
    const size = 4 * MiB + 777;
    const s = await tabswarmSeed(honest, { size, seed: 31, pieceLength: 64 * KiB, name: 'hostile.bin' });
    // Slow enough that the corrupting peer serves pieces before the honest seed has sent all.
    await honest.evaluate(() => window.client.setLimits({ upload: 384 * 1024 }));
    const honestId = await honest.evaluate(() => window.client.peerId);

    const badId = await bad.evaluate(async ({ announce, torrentFile, size, mode }) => {
      const good = window.makeBytes(size, 31);
      // A chunk store that hands out the right bytes, spoiled: every byte of each piece
      // ('piece'), or one byte in the second 16 KiB block of each piece ('block').
      class CorruptStore {
        constructor(chunkLength) { this.chunkLength = chunkLength; }
        put(index, buf, cb) { queueMicrotask(() => cb?.(null)); }
        get(index, opts, cb) {
          if (typeof opts === 'function') { cb = opts; opts = null; }
          const start = index * this.chunkLength;
          const piece = good.slice(start, Math.min(start + this.chunkLength, good.length));
          if (mode === 'piece') for (let i = 0; i < piece.length; i++) piece[i] ^= 0x5a;
          else if (piece.length > 16384 + 100) piece[16384 + 100] ^= 0xff;
          const offset = opts?.offset ?? 0;
          const length = opts?.length ?? piece.length - offset;
          const out = piece.slice(offset, offset + length);
          queueMicrotask(() => cb(null, out));
        }
        close(cb) { queueMicrotask(() => cb?.(null)); }
        destroy(cb) { queueMicrotask(() => cb?.(null)); }
      }
      await new Promise((resolve, reject) => {
        window.wt.add(new Uint8Array(torrentFile), {
          announce: [announce], store: CorruptStore, skipVerify: true, storeCacheSlots: 0,
        }, (t) => { window.wtTorrent = t; resolve(); });
        window.wt.once('error', reject);
      });
      return window.wt.peerId;
    }, { announce: tracker.announce, torrentFile: s.torrentFile, size, mode });

    await startLoggedDownload(leech, s.torrentFile);
    const sha = await finish(leech, 120_000);
    assert.equal(sha, s.sha256, 'the leecher has the right bytes');

    // The corrupting peer was banned; ask it to offer itself again a few times and give the
    // leecher time to (wrongly) take it back.
    const banned = await leech.evaluate(() => window.log.errors.filter((e) => e.msg.startsWith('banned peer')));
    assert.equal(banned.length, 1, `one ban: ${JSON.stringify(banned)}`);
    assert.ok(banned[0].msg.includes(badId), `the corrupting peer ${badId} is the one banned: ${banned[0].msg}`);
    for (let i = 0; i < 3; i++) {
      await bad.evaluate(() => window.wtTorrent.discovery.tracker?.update());
      await new Promise((r) => setTimeout(r, 1500));
    }
    const after = await leech.evaluate(({ badId, honestId }) => {
      const banAt = window.log.errors.find((e) => e.msg.startsWith('banned peer')).t;
      return {
        handshakesAfterBan: window.log.peers.filter((p) => p.id === badId && p.t > banAt).length,
        handshakesWithBad: window.log.peers.filter((p) => p.id === badId).length,
        handshakesWithHonest: window.log.peers.filter((p) => p.id === honestId).length,
        connected: window.download.peers().map((p) => p.id),
        hashFailures: window.log.errors.filter((e) => e.msg.includes('failed its hash check')).length,
      };
    }, { badId, honestId });
    assert.ok(after.handshakesWithBad >= 1, 'the corrupting peer did connect');
    assert.ok(after.hashFailures >= 3, `pieces failed: ${after.hashFailures}`);
    assert.equal(after.handshakesAfterBan, 0, 'no connection to the banned peer after the ban');
    assert.ok(!after.connected.includes(badId), `not connected to the banned peer: ${after.connected}`);
    assert.ok(after.connected.includes(honestId), `still connected to the honest seed: ${after.connected}`);
    assert.ok(after.handshakesWithHonest >= 1, 'the leecher talked to the honest seed');
    assert.deepEqual(leech.uncaught, [], 'no page errors in the leecher');
    await close(honest, bad, leech);
  });
}

test('a raw peer sending garbage is closed each time; the seed keeps serving', { timeout: 150_000 }, async () => {
  const seed = await tabswarmPeer(browser, tracker.url, tracker.announce, 'seed');
  const leech = await tabswarmPeer(browser, tracker.url, tracker.announce, 'honest-leecher');
  const hostile = await openBlank(browser, tracker.url, 'raw-hostile');
  const size = 6 * MiB + 3;
  const s = await tabswarmSeed(seed, { size, seed: 32, name: 'garbage.bin' });
  const seedId = await seed.evaluate(() => {
    window.warnings = [];
    window.seeded.on('warning', (e) => window.warnings.push(String(e?.message ?? e)));
    window.client.setLimits({ upload: 512 * 1024 });
    return window.client.peerId;
  });
  // An honest download runs while the garbage arrives.
  await startLoggedDownload(leech, s.torrentFile);

  const cases = await hostile.evaluate(async ({ announce, infoHash, pieces, seedId }) => {
    const R = await import('/tests/e2e/raw-peer.js');
    const ih = R.fromHex(infoHash);
    const acts = {
      'wrong info hash': (p, id) => [R.handshake(R.random(20), id)],
      'random bytes': () => { const b = R.random(300); b[0] = 0xfe; return [b]; },
      'oversize length prefix': (p, id) => [R.handshake(ih, id), new Uint8Array([0xff, 0xff, 0xff, 0xf0, 7, 0, 0, 0])],
      // One byte short (a longer one is caught by the decoder's size limit, a protocol error).
      'wrong-length bitfield': (p, id) => [R.handshake(ih, id), R.message(5, new Uint8Array(Math.ceil(pieces / 8) - 1).fill(0xff))],
      'out-of-range request': (p, id) => [R.handshake(ih, id), R.message(2), R.request(pieces + 7, 0, 16384)],
    };
    const out = [];
    for (const [name, act] of Object.entries(acts)) {
      // Our one offer goes to one peer of the swarm; try until the seed is the one answering.
      let p;
      for (let attempt = 0; attempt < 10 && !p; attempt++) {
        const c = await R.connectRaw(announce, infoHash);
        if (c.remoteId === seedId) p = c; else c.close();
      }
      if (!p) throw new Error(`${name}: never reached the seed`);
      for (const bytes of act(p, R.fromHex(p.peerId))) p.send(bytes);
      const t0 = performance.now();
      const how = await Promise.race([p.closed, new Promise((r) => setTimeout(() => r(null), 15_000))]);
      out.push({ name, peerId: p.peerId, closed: how, ms: Math.round(performance.now() - t0) });
      p.close();
    }
    return out;
  }, { announce: tracker.announce, infoHash: s.infoHash, pieces: Math.ceil(size / s.pieceLength), seedId });

  for (const c of cases) assert.ok(c.closed, `${c.name}: the seed closed the connection (${JSON.stringify(c)})`);
  const warnings = await seed.evaluate(() => window.warnings);
  const expected = {
    'wrong info hash': /wrong info hash/,
    'random bytes': /protocol error/,
    'oversize length prefix': /protocol error/,
    'wrong-length bitfield': /bad bitfield/,
    'out-of-range request': /invalid block/,
  };
  const dropped = warnings.filter((w) => w.startsWith('dropped a peer'));
  for (const c of cases) {
    assert.ok(dropped.some((w) => expected[c.name].test(w)), `${c.name}: a matching reason among ${JSON.stringify(dropped)}`);
  }
  const hostileDrops = dropped.filter((w) => Object.values(expected).some((re) => re.test(w)));
  assert.equal(hostileDrops.length, cases.length, `one drop per garbage peer: ${JSON.stringify(dropped)}`);

  const sha = await finish(leech, 120_000);
  assert.equal(sha, s.sha256, 'the honest leecher completes with the right bytes');
  const stillServing = await seed.evaluate(() => window.seeded.numPeers);
  assert.ok(stillServing >= 1, 'the seed is still connected to the honest leecher');
  assert.deepEqual(seed.uncaught, [], 'no uncaught error in the seed page');
  await close(seed, leech, hostile);
});
