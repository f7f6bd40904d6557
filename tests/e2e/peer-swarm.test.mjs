// tabswarm peers swarming in real headless Chromium through our tracker, every peer in its own
// isolated browser context (so nothing is shared but the network): one seed to one and to
// several leechers, initial seeding, a bare magnet link, a late leecher after the seed left,
// a multi-file torrent, and bad input to add().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSwarm, closePeers as close, tabswarmSeed, tabswarmDownload, waitDone } from './peer-lib.mjs';

const MiB = 1024 * 1024;
const swarm = withSwarm();
const peer = (name) => swarm.tabswarm(name);

test('one seed to one leecher: 64 MiB, SHA-256 equal, every byte over the wire', { timeout: 180_000 }, async () => {
  const seed = await peer('seed');
  const leech = await peer('leech');
  const size = 64 * MiB + 12_345; // a short last piece
  const s = await tabswarmSeed(seed, { size, seed: 7, name: 'random.bin' });
  assert.match(s.infoHash, /^[0-9a-f]{40}$/);
  assert.equal(s.length, size);
  assert.equal(s.pieceLength, 64 * 1024, "create-torrent's default for 64 MiB");
  assert.match(s.magnetUri, new RegExp(`^magnet:\\?xt=urn:btih:${s.infoHash}`));

  const d = await tabswarmDownload(leech, s.torrentFile);
  assert.equal(d.length, size);
  assert.equal(d.sha256, s.sha256, 'the bytes equal the source');
  assert.ok(d.received >= size, `received ${d.received} bytes over the wire`);
  assert.equal(d.downloaded, size);
  assert.equal(d.progress, 1);
  assert.equal(d.name, 'random.bin');
  assert.ok(d.events.done === 1 && d.events.piece >= 1025 && d.events.wire >= 1, JSON.stringify(d.events));
  assert.deepEqual(d.events.error, []);
  console.log(`1 -> 1, 64 MiB: ${(size / MiB / d.seconds).toFixed(1)} MiB/s (${d.seconds.toFixed(1)} s)`);
  const uploaded = await seed.evaluate(() => window.seeded.uploaded);
  assert.ok(uploaded >= size, `the seed counted ${uploaded} bytes uploaded`);
  assert.deepEqual([...seed.errors, ...leech.errors], []);
  await close(seed, leech);
});

test('one seed to four leechers', { timeout: 180_000 }, async () => {
  const seed = await peer('seed');
  const leechers = await Promise.all([1, 2, 3, 4].map((i) => peer(`leech${i}`)));
  const size = 16 * MiB + 1;
  const s = await tabswarmSeed(seed, { size, seed: 11 });
  const results = await Promise.all(leechers.map((p) => tabswarmDownload(p, s.magnetUri)));
  for (const d of results) {
    assert.equal(d.sha256, s.sha256);
    assert.ok(d.received >= size);
  }
  // Leechers trade pieces among themselves: together they uploaded something.
  const uploadedByLeechers = results.reduce((n, d) => n + d.uploaded, 0);
  console.log(`1 -> 4, 16 MiB: leechers uploaded ${(uploadedByLeechers / MiB).toFixed(1)} MiB among themselves`);
  await close(seed, ...leechers);
});

test('a seed in initial-seeding mode (superSeed) serves a swarm that completes', { timeout: 180_000 }, async () => {
  const seed = await peer('seed');
  const leechers = await Promise.all([1, 2, 3].map((i) => peer(`leech${i}`)));
  const size = 4 * MiB + 5;
  const s = await tabswarmSeed(seed, { size, seed: 13, superSeed: true });
  const results = await Promise.all(leechers.map((p) => tabswarmDownload(p, s.torrentFile)));
  for (const d of results) assert.equal(d.sha256, s.sha256);
  // The seed reveals pieces a few at a time, so the leechers must have traded among themselves.
  const uploadedByLeechers = results.reduce((n, d) => n + d.uploaded, 0);
  // Failed once in CI (2026-12-04, not reproduced in 16 runs here): say whom each leecher met.
  const met = uploadedByLeechers > 0 ? [] : await Promise.all([seed, ...leechers].map(async (p) =>
    `${await p.evaluate(() => window.client.peerId.slice(0, 24))} met ` +
    `${(await p.evaluate(() => (window.log?.peers ?? []).map((x) => `${x.id.slice(0, 24)}@${Math.round(x.t)}`))).join(' ')}`));
  assert.ok(uploadedByLeechers > 0, `leechers uploaded to each other; ${met.join('; ')}`);
  await close(seed, ...leechers);
});

test('a start from a magnet link alone fetches the metadata over ut_metadata', { timeout: 120_000 }, async () => {
  const seed = await peer('seed');
  const leech = await peer('leech');
  const size = 3 * MiB + 777;
  const s = await tabswarmSeed(seed, { size, seed: 5, name: 'from magnet.bin' });
  // Only the info hash: no name, no tracker, so everything else must come from peers.
  const bare = `magnet:?xt=urn:btih:${s.infoHash}`;
  // Checked in the same task as `add` resolves: once a peer is found the metadata can
  // arrive within milliseconds.
  const before = await leech.evaluate(async (bare) => {
    window.download = await window.client.add(bare);
    return { length: window.download.length, files: window.download.files.length };
  }, bare);
  assert.deepEqual(before, { length: 0, files: 0 }, 'no metadata before peers are found');
  const d = await waitDone(leech);
  assert.equal(d.sha256, s.sha256);
  const meta = await leech.evaluate(() => ({
    name: window.download.name, length: window.download.length, pieceLength: window.download.pieceLength,
    infoHash: window.download.infoHash, file: window.download.files.map((f) => [f.name, f.length]),
  }));
  assert.deepEqual(meta, {
    name: 'from magnet.bin', length: size, pieceLength: s.pieceLength, infoHash: s.infoHash, file: [['from magnet.bin', size]],
  });
  await close(seed, leech);
});

test('a leecher that joins after the seed left is served by the other peers', { timeout: 180_000 }, async () => {
  const seed = await peer('seed');
  const a = await peer('A');
  const b = await peer('B');
  const size = 8 * MiB + 3;
  const s = await tabswarmSeed(seed, { size, seed: 9 });
  const [da, db] = await Promise.all([tabswarmDownload(a, s.torrentFile), tabswarmDownload(b, s.torrentFile)]);
  assert.equal(da.sha256, s.sha256);
  assert.equal(db.sha256, s.sha256);
  // The seed leaves: its torrent is destroyed (announcing `stopped`) and its context closed.
  await seed.evaluate(() => window.client.destroy());
  await close(seed);
  const late = await peer('late');
  const d = await tabswarmDownload(late, s.torrentFile);
  assert.equal(d.sha256, s.sha256);
  assert.ok(d.received >= size);
  const uploaded = await Promise.all([a, b].map((p) => p.evaluate(() => window.download.uploaded)));
  assert.ok(uploaded[0] + uploaded[1] >= size, `A and B served the late leecher: ${uploaded}`);
  await close(a, b, late);
});

test('a multi-file torrent: every file arrives whole, each with its own blob', { timeout: 120_000 }, async () => {
  const seed = await peer('seed');
  const leech = await peer('leech');
  const sizes = [1_000_000, 5, 2_500_001];
  const s = await seed.evaluate(async (sizes) => {
    const files = sizes.map((n, i) => new File([window.makeBytes(n, 40 + i)], `part ${i}.bin`));
    const t = await window.client.seed(files, { name: 'album' });
    window.seeded = t;
    return { torrentFile: Array.from(t.torrentFile), hashes: await Promise.all(files.map(async (f) => window.sha256(new Uint8Array(await f.arrayBuffer())))) };
  }, sizes);
  const got = await leech.evaluate(async (torrentFile) => {
    const d = await window.client.add(new Uint8Array(torrentFile));
    await d.done();
    let single = null;
    try { await d.blob(); } catch (e) { single = String(e.message); }
    const files = await Promise.all(d.files.map(async (f) => ({
      name: f.name, path: f.path, length: f.length,
      sha256: await window.sha256(new Uint8Array(await (await f.blob()).arrayBuffer())),
    })));
    return { name: d.name, files, single };
  }, s.torrentFile);
  assert.equal(got.name, 'album');
  assert.deepEqual(got.files.map((f) => [f.name, f.length]), sizes.map((n, i) => [`part ${i}.bin`, n]));
  assert.deepEqual(got.files.map((f) => f.sha256), s.hashes);
  assert.match(got.single, /files\[i\]\.blob/);
  await close(seed, leech);
});

test('bad input is a rejected promise with a clear message, not a crash', { timeout: 60_000 }, async () => {
  const p = await peer('errors');
  const errors = await p.evaluate(async () => {
    const out = [];
    for (const input of ['magnet:?dn=nohash', 'not a magnet', new Uint8Array([1, 2, 3])]) {
      try { await window.client.add(input); out.push('accepted'); } catch (e) { out.push(String(e?.message ?? e)); }
    }
    return out;
  });
  assert.match(errors[0], /info hash/i);
  assert.match(errors[1], /magnet/i);
  assert.match(errors[2], /torrent/i);
  // The module still works afterwards.
  const options = await p.evaluate(() => [1, 262145, 65536.5, 'big', 16384, 262144].map((maxMessageSize) => {
    try { new window.tabswarm.Client({ announce: [], maxMessageSize }).free(); return 'accepted'; } catch (e) { return String(e?.message ?? e); }
  }));
  assert.deepEqual(options.slice(4), ['accepted', 'accepted']);
  for (const e of options.slice(0, 4)) assert.match(e, /maxMessageSize must be a whole number of bytes from 16384 to 262144/);
  const ok = await p.evaluate(() => window.tabswarm.sha1Hex(new Uint8Array([97, 98, 99])));
  assert.equal(ok, 'a9993e364706816aba3e25717850c26c9cd0d89d');
  await close(p);
});
