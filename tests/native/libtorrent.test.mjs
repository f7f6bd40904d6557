// Interop with a native BitTorrent client: libtorrent 2.1 (its WebTorrent support, WebRTC via
// libdatachannel) through our tracker over plain ws://. libtorrent runs as a child process,
// tests/native/lt_peer.py, driven by JSON lines; the tabswarm and WebTorrent peers are pages of
// headless Chromium as in tests/e2e. Python: $TABSWARM_PYTHON, else the venv scripts/bootstrap.sh
// makes. Run: node --test --test-concurrency=1 tests/native/libtorrent.test.mjs
// LT_VERBOSE=1 prints libtorrent's stderr and progress lines (and the seed's peer log after each
// run of the 64 MiB test); LT_PEER_VERBOSE=1 libtorrent's connection alerts; LT_PEER_LOG_FILE=path
// appends every libtorrent alert, its peer and torrent logs included, to path; LT_RTC_LOG=1 adds
// the seed page's WebRTC events to the 64 MiB test's seed log, and prints both tabswarm pages'
// in the mixed swarm test.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  withSwarm, closePeers as close, tabswarmSeed, tabswarmDownload, webtorrentDownload,
} from '../e2e/peer-lib.mjs';
import { randomBytes, sha256Hex } from '../e2e/shared.js';

const MiB = 1024 * 1024;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const LT_PEER = path.join(HERE, 'lt_peer.py');
const PYTHON = process.env.TABSWARM_PYTHON
  || path.join(os.homedir(), '.cache/tabswarm/venv-libtorrent-2.1.1/bin/python');
const VERBOSE = !!process.env.LT_VERBOSE;

const swarm = withSwarm();
const ts = (name) => swarm.tabswarm(name);
const wt = (name) => swarm.webtorrent(name);

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'tabswarm-lt-'));
const children = new Set();
after(async () => {
  await Promise.all([...children].map((c) => c.stop()));
  fs.rmSync(TMP, { recursive: true, force: true });
});

/** Writes randomBytes(size, seed) (the bytes the pages make) to TMP/dir/name. */
async function writeData(dir, name, size, seed) {
  const bytes = randomBytes(size, seed);
  const d = path.join(TMP, dir);
  fs.mkdirSync(d, { recursive: true });
  const file = path.join(d, name);
  fs.writeFileSync(file, bytes);
  return { file, sha256: await sha256Hex(bytes), size };
}

/**
 * Runs lt_peer.py with `args`. Returns { lines, waitFor(pred, ms), exited, stop(), stderr() }:
 * `lines` the JSON lines so far; waitFor resolves with the first line matching `pred`, and
 * rejects on timeout or if the process exits first; stop closes its stdin (seeders stop) and
 * kills it if it does not exit within 5 s.
 */
function lt(args, name) {
  const child = spawn(PYTHON, [LT_PEER, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONWARNINGS: 'ignore' },
  });
  const lines = [];
  let stderr = '';
  const waiters = new Set();
  let code = null;
  const exited = new Promise((resolve) => child.on('exit', (c, sig) => {
    code = c ?? sig;
    for (const w of waiters) w.onExit();
    resolve(code);
  }));
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    let msg;
    try { msg = JSON.parse(line); } catch { stderr += `(stdout) ${line}\n`; return; }
    lines.push(msg);
    if (VERBOSE) console.log(`[${name}] ${line.slice(0, 300)}`);
    for (const w of waiters) w.onLine(msg);
  });
  child.stderr.on('data', (c) => {
    stderr += c;
    if (VERBOSE) process.stderr.write(`[${name}] ${c}`);
  });
  const tail = () => stderr.split('\n').slice(-15).join('\n');
  const handle = {
    lines,
    exited,
    stderr: () => stderr,
    waitFor(pred, ms, what = 'a line') {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          onLine: (m) => { if (pred(m)) { done(); resolve(m); } },
          onExit: () => {
            done();
            const last = lines.at(-1);
            reject(new Error(`${name} exited (${code}) before ${what}; last line ${JSON.stringify(last)?.slice(0, 600)}\n${tail()}`));
          },
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no ${what} within ${ms / 1000} s; last line ${JSON.stringify(lines.at(-1))?.slice(0, 600)}\n${tail()}`));
        }, ms);
        const done = () => { clearTimeout(timer); waiters.delete(w); };
        waiters.add(w);
        if (code !== null) w.onExit();
      });
    },
    async stop() {
      children.delete(handle);
      if (code !== null) return code;
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      const c = await exited;
      clearTimeout(t);
      return c;
    },
  };
  children.add(handle);
  return handle;
}

/** libtorrent seeds `file`; resolves with its 'seeding' line and the handle. */
async function ltSeed(file, { pieceLength = 256 * 1024, limit = 300 } = {}) {
  const p = lt(['seed', file, '--tracker', swarm.tracker.announce, '--piece-length', String(pieceLength),
    '--limit', String(limit)], 'lt-seed');
  const info = await p.waitFor((m) => m.event === 'seeding', 30_000, 'seeding line');
  return { ...info, torrent: Buffer.from(info.torrent_hex, 'hex'), proc: p };
}

/** libtorrent downloads `source` (magnet or .torrent path); resolves with its final line. */
async function ltDownload(source, { stall = 20, limit = 120, name = 'lt-leech', extra = [] } = {}) {
  const p = lt(['download', source, '--tracker', swarm.tracker.announce, '--stall', String(stall),
    '--limit', String(limit), ...extra], name);
  const res = await p.waitFor((m) => 'done' in m, (limit + 15) * 1000, 'final line');
  if (!res.done) {
    await p.stop();
    throw new Error(`${name} failed: ${res.error}\npeers ${JSON.stringify(res.peers)}\n${p.stderr().split('\n').slice(-15).join('\n')}`);
  }
  return { ...res, proc: p };
}

const bareMagnet = (infoHash) => `magnet:?xt=urn:btih:${infoHash}`;

test('libtorrent seeds, tabswarm downloads by magnet (ut_metadata) and by .torrent', { timeout: 90_000 }, async () => {
  const size = 6 * MiB + 1234;
  const data = await writeData('t1', 'from-libtorrent.bin', size, 31);
  const s = await ltSeed(data.file);
  assert.match(s.info_hash, /^[0-9a-f]{40}$/);
  const byMagnet = await ts('tabswarm-magnet');
  const byTorrent = await ts('tabswarm-torrent');
  try {
    const t0 = Date.now();
    const d1 = await tabswarmDownload(byMagnet, `${bareMagnet(s.info_hash)}&dn=from-libtorrent.bin`, { timeoutMs: 60_000 });
    console.log(`libtorrent -> tabswarm by magnet: ${size} bytes in ${d1.seconds.toFixed(2)} s (${(size / d1.seconds / 1e6).toFixed(1)} MB/s), ${Date.now() - t0} ms wall`);
    assert.equal(d1.sha256, data.sha256);
    assert.equal(d1.length, size);
    assert.equal(d1.name, 'from-libtorrent.bin');
    assert.ok(d1.received >= size, `tabswarm received ${d1.received}`);
    assert.equal(d1.events.metadata, 1, 'metadata came over ut_metadata once');
    assert.deepEqual(d1.events.error, []);
    assert.deepEqual(byMagnet.errors, []);
    // Close the first leecher (now a seed too): the second copy must come from libtorrent alone.
    await close(byMagnet);

    const d2 = await tabswarmDownload(byTorrent, Array.from(s.torrent), { timeoutMs: 60_000 });
    console.log(`libtorrent -> tabswarm by .torrent: ${size} bytes in ${d2.seconds.toFixed(2)} s (${(size / d2.seconds / 1e6).toFixed(1)} MB/s)`);
    assert.equal(d2.sha256, data.sha256);
    assert.equal(d2.length, size);
    assert.ok(d2.received >= size, `tabswarm received ${d2.received}`);
    assert.deepEqual(d2.events.error, []);
    const infoHash = await byTorrent.evaluate(() => window.download.infoHash);
    assert.equal(infoHash, s.info_hash);
    assert.deepEqual(byTorrent.errors, []);
    // libtorrent uploaded both copies.
    await s.proc.waitFor((m) => m.event === 'stats' && m.uploaded >= 2 * size, 10_000, 'upload stats of both copies');
  } finally {
    await s.proc.stop();
    await close(byMagnet, byTorrent).catch(() => {});
  }
});

/**
 * A tabswarm peer whose Client caps its data-channel messages at `maxMessageSize` bytes
 * (undefined: the default).
 */
async function tsWithMessageSize(name, maxMessageSize) {
  if (maxMessageSize === undefined) return ts(name);
  const page = await swarm.blank(name);
  await page.evaluate(async ({ announce, maxMessageSize }) => {
    const mod = await import('/pkg/tabswarm.js');
    await mod.default();
    window.tabswarm = mod;
    window.client = new mod.Client({ announce: [announce], iceServers: [], maxMessageSize });
  }, { announce: swarm.tracker.announce, maxMessageSize });
  return page;
}

/**
 * Logs the page's WebRTC connections (state changes, data channel events, who closed what) in
 * `window.rtcLog`, with wall-clock seconds to line up with libtorrent's alerts (LT_PEER_LOG_FILE).
 */
async function logRtc(page) {
  await page.evaluate(() => {
    const Orig = window.RTCPeerConnection;
    let n = 0;
    window.rtcLog = [];
    const T = () => (Date.now() / 1000).toFixed(3);
    window.RTCPeerConnection = class extends Orig {
      constructor(...a) {
        super(...a);
        const id = ++n;
        this._log = (m) => window.rtcLog.push(`${T()} pc${id} ${m}`);
        this._log('new');
        this.addEventListener('connectionstatechange', () => this._log(`conn ${this.connectionState}`));
        this.addEventListener('iceconnectionstatechange', () => this._log(`ice ${this.iceConnectionState}`));
        this.addEventListener('datachannel', (e) => { this._log(`datachannel ${e.channel.label}`); this._hook(e.channel); });
      }
      _hook(dc) {
        for (const ev of ['open', 'close', 'closing', 'error']) dc.addEventListener(ev, (e) => this._log(`dc ${ev} ${e.error?.message ?? ''}`));
        const close = dc.close.bind(dc);
        dc.close = () => { this._log(`dc.close() ${new Error().stack.split('\n').slice(2, 4).join(' ')}`); close(); };
      }
      createDataChannel(...a) { const dc = super.createDataChannel(...a); this._log('createDataChannel'); this._hook(dc); return dc; }
      setRemoteDescription(d) { this._log(`remote ${d?.type}`); return super.setRemoteDescription(d); }
      close() { this._log(`close() ${this.connectionState}`); return super.close(); }
    };
  });
}

// LT_MAX_MESSAGE (bytes) and LT_RUNS override the message cap and the number of runs of the
// next test, for bisecting (bench/results/libtorrent-message-size.md).
const MAX_MESSAGE = process.env.LT_MAX_MESSAGE ? Number(process.env.LT_MAX_MESSAGE) : undefined;
const RUNS = Number(process.env.LT_RUNS || 10);
// LT_SEED_UPLOAD (bytes/s) caps the seed's upload rate: a slow transfer, as on a loaded machine.
const SEED_UPLOAD = process.env.LT_SEED_UPLOAD ? Number(process.env.LT_SEED_UPLOAD) : undefined;

test(`tabswarm seeds 64 MiB, libtorrent downloads it ${RUNS} times in a row`, { timeout: 60_000 + RUNS * (SEED_UPLOAD ? 140_000 : 35_000) }, async () => {
  const size = 64 * MiB;
  const seed = await tsWithMessageSize('tabswarm-seed', MAX_MESSAGE);
  try {
    if (process.env.LT_RTC_LOG) await logRtc(seed);
    const s = await tabswarmSeed(seed, { size, seed: 32, name: 'to-libtorrent.bin' });
    if (SEED_UPLOAD) await seed.evaluate((upload) => window.seeded.setLimits({ upload }), SEED_UPLOAD);
    // The seed's peers coming and going, for the failure message.
    await seed.evaluate(() => {
      const t0 = performance.now();
      window.seedLog = [];
      for (const ev of ['wire', 'peer-left', 'warning', 'error']) {
        window.seeded.on(ev, (p) => window.seedLog.push(`${((performance.now() - t0) / 1000).toFixed(2)}s ${ev} ${p?.id ?? p?.message}`));
      }
      window.seedT0 = Date.now() / 1000;
    });
    const seedLog = () => seed.evaluate(() => `t0 ${window.seedT0}: ${window.seedLog.join('; ')}` +
      (window.rtcLog ? `\nrtc:\n${window.rtcLog.splice(0).join('\n')}` : ''));
    const torrentPath = path.join(TMP, 'to-libtorrent.torrent');
    fs.writeFileSync(torrentPath, Buffer.from(s.torrentFile));
    const results = [];
    const failures = [];
    // Every run, even after a failure, so the count of failures is exact.
    for (let run = 1; run <= RUNS; run++) {
      // Runs 1 and 6 by bare magnet: libtorrent gets the metadata from tabswarm over ut_metadata.
      const byMagnet = run === 1 || run === 6;
      try {
        const r = await ltDownload(byMagnet ? bareMagnet(s.infoHash) : torrentPath, { name: `lt-leech-${run}`, stall: 15 });
        await r.proc.stop();
        console.log(`run ${run} (${r.by}): ${r.bytes} bytes in ${r.seconds} s = ${r.mbps} MB/s` +
          (byMagnet ? `, metadata after ${r.metadata_seconds} s` : ''));
        assert.equal(r.sha256, s.sha256, `run ${run}: sha256`);
        assert.equal(r.bytes, size, `run ${run}: bytes`);
        assert.equal(r.info_hash, s.infoHash, `run ${run}: info hash`);
        assert.equal(r.name, 'to-libtorrent.bin');
        results.push(r);
        if (VERBOSE) console.log(`tabswarm seed: ${await seedLog()}`);
      } catch (e) {
        const msg = `run ${run} (${byMagnet ? 'magnet' : 'torrent'}): ${e.message.split('\n')[0]}; tabswarm seed: ${await seedLog()}`;
        console.log(msg);
        failures.push(msg);
      }
    }
    const rates = results.map((r) => r.mbps);
    console.log(`tabswarm -> libtorrent (maxMessageSize ${MAX_MESSAGE ?? 'default'}): ${RUNS} runs of 64 MiB, ` +
      `${failures.length} failed; MB/s of the rest ${rates.join(', ')}`);
    assert.deepEqual(failures, [], `${failures.length} of ${RUNS} runs failed`);
    const uploaded = await seed.evaluate(() => window.seeded.uploaded);
    assert.ok(uploaded >= RUNS * size, `tabswarm uploaded ${uploaded}`);
    assert.deepEqual(seed.errors, []);
  } finally {
    await close(seed);
  }
});

test('a mixed swarm: libtorrent, tabswarm and WebTorrent peers all complete', { timeout: 120_000 }, async () => {
  const size = 12 * MiB + 77;
  const pieceLength = 256 * 1024;
  const data = await writeData('t3', 'mixed.bin', size, 33);
  // Seeds: libtorrent and tabswarm, the same torrent (same bytes, name and piece length).
  const s = await ltSeed(data.file, { pieceLength });
  const tsSeed = await ts('tabswarm-seed');
  const tsLeech = await ts('tabswarm-leech');
  const wtLeech = await wt('webtorrent-leech');
  if (process.env.LT_RTC_LOG) await Promise.all([logRtc(tsSeed), logRtc(tsLeech)]);
  try {
    const t = await tabswarmSeed(tsSeed, { size, seed: 33, name: 'mixed.bin', pieceLength });
    assert.equal(t.infoHash, s.info_hash, 'tabswarm and libtorrent make the same info hash');
    const torrent = Array.from(s.torrent);
    // Leechers: one of each, at once. libtorrent starts from a bare magnet.
    const [dl, dt, dw] = await Promise.all([
      ltDownload(bareMagnet(s.info_hash), { name: 'lt-leech', extra: ['--keep-seeding', '60'] }),
      tabswarmDownload(tsLeech, torrent, { timeoutMs: 90_000 }),
      webtorrentDownload(wtLeech, swarm.tracker.announce, torrent, { timeoutMs: 90_000 }),
    ]);
    console.log(`mixed: libtorrent ${dl.seconds} s, tabswarm ${dt.seconds.toFixed(2)} s, WebTorrent ${dw.seconds.toFixed(2)} s`);
    assert.equal(dl.sha256, data.sha256, 'libtorrent leecher');
    assert.equal(dl.bytes, size);
    assert.equal(dt.sha256, data.sha256, 'tabswarm leecher');
    assert.equal(dw.sha256, data.sha256, 'WebTorrent leecher');
    assert.ok(dt.received >= size && dw.received >= size, `received: tabswarm ${dt.received}, WebTorrent ${dw.received}`);
    assert.deepEqual(dt.events.error, []);
    // The tabswarm leecher talked to libtorrent (-LT...) and to tabswarm (-TS...) peers: every
    // 'wire' it had (peers() lists only those still connected, and libtorrent drops the
    // connections between two seeds as soon as both are complete).
    const ids = await tsLeech.evaluate(() => window.log.peers.map((p) => p.id));
    const prefixes = ids.map((id) => Buffer.from(id ?? '', 'hex').subarray(0, 3).toString('latin1'));
    console.log(`tabswarm leecher's peers: ${prefixes.join(' ')}`);
    if (process.env.LT_RTC_LOG) {
      for (const [n, p] of [['seed', tsSeed], ['leech', tsLeech]]) {
        console.log(`tabswarm ${n} ${await p.evaluate(() => window.client.peerId)} rtc:\n${await p.evaluate(() => window.rtcLog.join('\n'))}`);
      }
    }
    assert.ok(prefixes.includes('-LT'), `tabswarm leecher saw no libtorrent peer: ${ids}`);
    assert.ok(prefixes.includes('-TS'), `tabswarm leecher saw no tabswarm peer: ${ids}`);
    const wtSees = await wtLeech.evaluate(() => window.wtTorrent.wires.map((w) => w.peerId));
    console.log(`WebTorrent leecher's wires: ${wtSees.map((h) => h.slice(0, 6)).join(' ')}`);
    assert.ok(wtSees.length >= 1, 'WebTorrent leecher has wires');
    // libtorrent's leecher got every byte over the wire (its peer list is empty by 'done':
    // it drops seeds once complete, so that is all it can say).
    assert.ok(dl.downloaded >= size, `libtorrent leecher downloaded ${dl.downloaded}`);
    assert.deepEqual([...tsSeed.errors, ...tsLeech.errors], []);
    await dl.proc.stop();
  } finally {
    await s.proc.stop();
    await close(tsSeed, tsLeech, wtLeech);
  }
});

test('tabswarm, WebTorrent and libtorrent make the same info hash', { timeout: 60_000 }, async () => {
  const size = 5 * MiB + 321;
  const name = 'same-hash.bin';
  const data = await writeData('t4', name, size, 34);
  const tsPage = await ts('tabswarm');
  const wtPage = await wt('webtorrent');
  try {
    for (const pieceLength of [16 * 1024, 256 * 1024, 1024 * 1024]) {
      const p = lt(['hash', data.file, '--piece-length', String(pieceLength)], 'lt-hash');
      const l = await p.waitFor((m) => 'info_hash' in m, 20_000, 'info hash');
      await p.stop();
      const t = await tsPage.evaluate(async ({ size, name, pieceLength }) => {
        const file = new File([window.makeBytes(size, 34)], name);
        const torrent = await window.client.seed(file, { name, pieceLength });
        const res = { infoHash: torrent.infoHash, pieceLength: torrent.pieceLength };
        await torrent.destroy?.();
        return res;
      }, { size, name, pieceLength });
      const w = await wtPage.evaluate(async ({ size, name, pieceLength }) => {
        const file = new File([window.makeBytes(size, 34)], name);
        const torrent = await new Promise((resolve, reject) => {
          window.wt.seed(file, { name, pieceLength, announce: [] }, resolve);
          window.wt.once('error', reject);
        });
        const res = { infoHash: torrent.infoHash, pieceLength: torrent.pieceLength };
        await new Promise((r) => window.wt.remove(torrent, r));
        return res;
      }, { size, name, pieceLength });
      console.log(`piece length ${pieceLength}: libtorrent ${l.info_hash}, tabswarm ${t.infoHash}, WebTorrent ${w.infoHash}`);
      assert.equal(l.piece_length, pieceLength);
      assert.equal(t.pieceLength, pieceLength);
      assert.equal(w.pieceLength, pieceLength);
      assert.equal(t.infoHash, l.info_hash, `tabswarm vs libtorrent at piece length ${pieceLength}`);
      assert.equal(w.infoHash, l.info_hash, `WebTorrent vs libtorrent at piece length ${pieceLength}`);
    }
    assert.deepEqual([...tsPage.errors], []);
  } finally {
    await close(tsPage, wtPage);
  }
});
