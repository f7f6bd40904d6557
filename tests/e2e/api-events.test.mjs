// The torrent's events and errors as a page sees them: on / once / off, the WebTorrent-style
// events (ready, metadata, download, upload, wire, peer-left, noPeers) with their arguments,
// batched byte counts that add up to the counters, one stats() snapshot, and a stable `code`
// on every error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSwarm, closePeers as close, tabswarmSeed } from './peer-lib.mjs';

const MiB = 1024 * 1024;
const swarm = withSwarm();
const peer = (name) => swarm.tabswarm(name);

test('a download reports its events, and the byte counts add up to the counters', { timeout: 120_000 }, async () => {
  const seed = await peer('seed');
  const leech = await peer('leech');
  const size = 4 * MiB + 1;
  const s = await tabswarmSeed(seed, { size, seed: 3 });
  await seed.evaluate(() => {
    window.up = { events: 0, bytes: 0 };
    window.seeded.on('upload', (n) => { window.up.events += 1; window.up.bytes += n; });
  });
  const got = await leech.evaluate(async (magnet) => {
    const d = await window.client.add(magnet);
    window.d = d;
    const log = { order: [], download: 0, downloadEvents: 0, wire: [], once: 0, removed: 0, errors: [] };
    for (const name of ['metadata', 'ready', 'done']) d.on(name, () => log.order.push(name));
    d.on('download', (n) => { log.download += n; log.downloadEvents += 1; });
    d.on('wire', (p) => log.wire.push(p));
    d.once('piece', () => { log.once += 1; });
    const removed = () => { log.removed += 1; };
    d.on('piece', removed);
    d.off('piece', removed);
    d.on('error', (e) => log.errors.push(e.code));
    window.log = log;
    await d.done();
    const stats = d.stats();
    return { log, stats, downloaded: d.downloaded, pieces: stats.pieces };
  }, s.magnetUri);
  const { log, stats } = got;
  assert.deepEqual(log.order, ['metadata', 'ready', 'done']);
  assert.equal(log.download, size, 'the download events add up to every verified byte');
  assert.ok(log.downloadEvents >= 1 && log.downloadEvents <= got.pieces, `batched: ${log.downloadEvents} events for ${got.pieces} pieces`);
  assert.equal(log.once, 1, 'once: called one time');
  assert.equal(log.removed, 0, 'off: never called');
  assert.ok(log.wire.length >= 1);
  assert.match(log.wire[0].id, /^[0-9a-f]{40}$/);
  assert.ok('client' in log.wire[0]);
  assert.deepEqual(log.errors, []);
  assert.equal(stats.progress, 1);
  assert.equal(stats.done, true);
  assert.equal(stats.length, size);
  assert.equal(stats.downloaded, size);
  assert.equal(stats.piecesHave, stats.pieces);
  assert.equal(stats.timeRemaining, 0);
  assert.ok(stats.numPeers >= 1 && stats.received >= size);
  for (const k of ['uploaded', 'wasted', 'downloadSpeed', 'uploadSpeed']) assert.equal(typeof stats[k], 'number', k);

  const up = await seed.evaluate(() => ({ ...window.up, uploaded: window.seeded.uploaded }));
  assert.equal(up.bytes, up.uploaded, 'the upload events add up to uploaded');
  assert.ok(up.uploaded >= size);

  // The seed leaves: the leecher hears peer-left for the peer that `wire` announced.
  await leech.evaluate(() => {
    window.peerLeft = new Promise((resolve) => window.d.on('peer-left', (p) => resolve(p.id)));
  });
  await seed.evaluate(() => window.seeded.destroy());
  const left = await leech.evaluate(() => window.withTimeout(window.peerLeft, 60_000, 'peer-left'));
  assert.ok(log.wire.some((p) => p.id === left), `peer-left ${left} was announced by wire`);
  assert.deepEqual([...seed.errors, ...leech.errors], []);
  await close(seed, leech);
});

test('ready for a .torrent file, noPeers when alone, and errors with codes', { timeout: 60_000 }, async () => {
  const p = await peer('alone');
  const s = await tabswarmSeed(p, { size: 100_000, seed: 5 });
  const got = await p.evaluate(async ({ torrentFile, announce }) => {
    const codeOf = async (f) => { try { await f(); return 'no error'; } catch (e) { return e.code; } };
    // A second client: the first one would hand back its own torrent for the same info hash.
    const other = new window.tabswarm.Client({ announce: [announce], iceServers: [] });
    // A .torrent file: the metadata is known at once, and `ready` follows the promise.
    const d = await other.add(new Uint8Array(torrentFile));
    const ready = new Promise((resolve) => d.once('ready', () => resolve(true)));
    const codes = {
      magnet: await codeOf(() => other.add('not a magnet')),
      torrent: await codeOf(() => other.add(new Uint8Array([1, 2, 3]))),
      input: await codeOf(() => other.add(42)),
      option: await codeOf(() => new window.tabswarm.Client({ storage: 'disk' })),
      pieceLength: await codeOf(() => other.seed(new Uint8Array(10), { pieceLength: 1.5 })),
      event: await codeOf(() => d.on('peer', () => {})),
    };
    // A magnet nobody else has: the tracker answers and nobody is connected.
    const lonely = await other.add('0123456789abcdef0123456789abcdef01234567');
    const noPeers = await new Promise((resolve) => lonely.once('noPeers', resolve));
    const done = lonely.done();
    lonely.destroy();
    codes.destroyed = await codeOf(() => done);
    return { ready: await ready, codes, noPeers };
  }, { torrentFile: s.torrentFile, announce: swarm.tracker.announce });
  assert.equal(got.ready, true);
  assert.equal(got.noPeers, 'tracker');
  assert.deepEqual(got.codes, {
    magnet: 'ERR_BAD_MAGNET',
    torrent: 'ERR_BAD_TORRENT',
    input: 'ERR_BAD_INPUT',
    option: 'ERR_INVALID_OPTION',
    pieceLength: 'ERR_INVALID_OPTION',
    event: 'ERR_UNKNOWN_EVENT',
    destroyed: 'ERR_DESTROYED',
  });
  assert.deepEqual(p.errors, []);
  await close(p);
});
