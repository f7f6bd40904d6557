// Interop with real WebTorrent (npm `webtorrent`, its browser bundle) through our tracker, each
// way and in a mixed swarm. Every peer is in its own isolated browser context, and every
// download checks the bytes that really came over the wire (two WebTorrent pages in one context
// would share storage and only pretend to download).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './harness.mjs';
import {
  withSwarm, closePeers as close, tabswarmSeed, tabswarmDownload, webtorrentSeed, webtorrentDownload,
} from './peer-lib.mjs';

const MiB = 1024 * 1024;
const swarm = withSwarm();
const ts = (name) => swarm.tabswarm(name);
const wt = (name) => swarm.webtorrent(name);

test('WebTorrent seeds, tabswarm downloads', { timeout: 120_000 }, async () => {
  const seed = await wt('webtorrent-seed');
  const leech = await ts('tabswarm-leech');
  const size = 6 * MiB + 4321;
  const s = await webtorrentSeed(seed, swarm.tracker.announce, { size, seed: 21, name: 'from-webtorrent.bin' });
  const d = await tabswarmDownload(leech, s.torrentFile);
  assert.equal(d.sha256, s.sha256);
  assert.equal(d.length, size);
  assert.ok(d.received >= size, `tabswarm received ${d.received} bytes over the wire`);
  assert.equal(d.name, 'from-webtorrent.bin');
  const uploaded = await seed.evaluate(() => window.wtTorrent.uploaded);
  assert.ok(uploaded >= size, `WebTorrent uploaded ${uploaded}`);
  await close(seed, leech);
});

test('tabswarm seeds, WebTorrent downloads (from a magnet link)', { timeout: 120_000 }, async () => {
  const seed = await ts('tabswarm-seed');
  const leech = await wt('webtorrent-leech');
  const size = 6 * MiB + 99;
  const s = await tabswarmSeed(seed, { size, seed: 22, name: 'from-tabswarm.bin' });
  // WebTorrent gets the metadata from tabswarm over ut_metadata.
  const magnet = `magnet:?xt=urn:btih:${s.infoHash}&dn=from-tabswarm.bin`;
  const d = await webtorrentDownload(leech, swarm.tracker.announce, magnet);
  assert.equal(d.sha256, s.sha256);
  assert.equal(d.length, size);
  assert.ok(d.received >= size, `WebTorrent received ${d.received} bytes over the wire`);
  const uploaded = await seed.evaluate(() => window.seeded.uploaded);
  assert.ok(uploaded >= size, `tabswarm uploaded ${uploaded}`);
  await close(seed, leech);
});

test('a mixed swarm: tabswarm and WebTorrent seeds and leechers', { timeout: 180_000 }, async () => {
  const tsSeed = await ts('tabswarm-seed');
  const wtSeed = await wt('webtorrent-seed');
  const tsLeech = await ts('tabswarm-leech');
  const wtLeech = await wt('webtorrent-leech');
  const size = 12 * MiB + 5;
  // Same bytes, same name and piece length on both seeds: the same torrent.
  const s = await tabswarmSeed(tsSeed, { size, seed: 23, name: 'mixed.bin' });
  const w = await webtorrentSeed(wtSeed, swarm.tracker.announce, { size, seed: 23, name: 'mixed.bin' });
  assert.equal(w.infoHash, s.infoHash, 'tabswarm and WebTorrent make the same info hash');
  const [dt, dw] = await Promise.all([
    tabswarmDownload(tsLeech, s.torrentFile),
    webtorrentDownload(wtLeech, swarm.tracker.announce, s.torrentFile),
  ]);
  assert.equal(dt.sha256, s.sha256);
  assert.equal(dw.sha256, s.sha256);
  assert.ok(dt.received >= size && dw.received >= size);
  // Both implementations talked to each other: peer ids start with -TS (tabswarm), -WW (WebTorrent).
  const tsSees = await tsLeech.evaluate(() => window.download.peers().map((p) => p.id?.slice(0, 6)));
  assert.ok(tsSees.includes('2d5757') && tsSees.includes('2d5453'), `tabswarm leecher's peers: ${tsSees}`);
  const wtSees = await wtLeech.evaluate(() => window.wtTorrent.wires.map((w) => w.peerId.slice(0, 6)));
  assert.ok(wtSees.includes('2d5453'), `WebTorrent leecher's peers: ${wtSees}`);
  await close(tsSeed, wtSeed, tsLeech, wtLeech);
});

test("tabswarm and WebTorrent swarm through WebTorrent's own tracker (npm bittorrent-tracker)", { timeout: 120_000 }, async () => {
  const server = spawn(process.execPath, [path.join(ROOT, 'bench/tracker-npm-server.mjs'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const announce = await new Promise((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (c) => { out += c; const m = /listening on (ws:\/\/\S+)/.exec(out); if (m) resolve(`${m[1]}/announce`); });
      server.once('exit', (code) => reject(new Error(`bittorrent-tracker exited (${code}): ${out}`)));
    });
    const seed = await swarm.tabswarm('tabswarm-seed', { announce });
    const wtLeech = await wt('webtorrent-leech');
    const size = 4 * MiB + 17;
    const s = await tabswarmSeed(seed, { size, seed: 24, name: 'npm-tracker.bin' });
    // Every peer knows only the npm tracker.
    const own = await swarm.tabswarm('tabswarm-leech', { announce });
    const [dt, dw] = await Promise.all([
      tabswarmDownload(own, s.torrentFile),
      webtorrentDownload(wtLeech, announce, s.torrentFile),
    ]);
    assert.equal(dt.sha256, s.sha256);
    assert.equal(dw.sha256, s.sha256);
    assert.deepEqual([...seed.errors, ...own.errors], []);
    await close(seed, own, wtLeech);
  } finally {
    server.kill('SIGTERM');
  }
});
