// Picking files: BEP 53 `so=` in a magnet link and `file.deselect()` download only the chosen
// file (bytes received at most its size plus two pieces), and the choice survives a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSwarm, closePeers } from './peer-lib.mjs';

const swarm = withSwarm();
const KiB = 1024;
const PIECE = 256 * KiB;
// Sizes that do not line up with pieces, so file 1 shares a piece with each neighbour.
const SIZES = [3 * 1024 * KiB + 1000, 5 * 1024 * KiB + 3000, 4 * 1024 * KiB + 77];

/** tabswarm seeds three files as one torrent; returns its magnet, .torrent and file hashes. */
async function seedThree(page) {
  return page.evaluate(async ({ sizes, piece }) => {
    const files = sizes.map((n, i) => Object.assign(new File([window.makeBytes(n, 40 + i)], `f${i}.bin`), { fullPath: `/three/f${i}.bin` }));
    const hashes = [];
    for (const f of files) hashes.push(await window.sha256(new Uint8Array(await f.arrayBuffer())));
    const t = await window.client.seed(files, { pieceLength: piece });
    window.seeded = t;
    return { magnetUri: t.magnetUri, torrentFile: Array.from(t.torrentFile), hashes, paths: t.files.map((f) => f.path) };
  }, { sizes: SIZES, piece: PIECE });
}

/** Waits for done; returns bytes received, per-file selected/progress and file 1's SHA-256. */
async function finish(page) {
  return page.evaluate(async () => {
    const d = window.download;
    await window.withTimeout(d.done(), 60_000, () => `progress ${d.progress}`);
    const f1 = new Uint8Array(await (await d.files[1].blob()).arrayBuffer());
    const other = await d.files[0].blob().then(() => 'resolved', (e) => e.code);
    return {
      received: d.received,
      selected: d.files.map((f) => f.selected),
      progress: d.files.map((f) => f.progress),
      sha1: await window.sha256(f1),
      other,
      stats: d.stats(),
      states: Array.from(d.pieceStates()),
    };
  });
}

test('so=1 in a magnet link downloads only file 1', { timeout: 120_000 }, async () => {
  const seed = await swarm.tabswarm('seed');
  const leech = await swarm.tabswarm('leech');
  const s = await seedThree(seed);
  await leech.evaluate(async (m) => { window.download = await window.client.add(m); }, `${s.magnetUri}&so=1`);
  const r = await finish(leech);
  assert.equal(r.sha1, s.hashes[1]);
  assert.deepEqual(r.selected, [false, true, false]);
  assert.equal(r.progress[1], 1);
  assert.ok(r.progress[0] < 1 && r.progress[2] < 1, `other files: ${r.progress}`);
  assert.equal(r.other, 'ERR_STORAGE', 'a deselected file has no blob');
  assert.ok(r.received <= SIZES[1] + 2 * PIECE, `received ${r.received} for a ${SIZES[1]}-byte file`);
  assert.ok(r.states.includes(3), 'pieces of deselected files show as not wanted');
  console.log(`# so=1: received ${r.received} bytes for a ${SIZES[1]}-byte file (bound ${SIZES[1] + 2 * PIECE})`);
  // The selection is kept: after a reload the torrent comes back with file 1 only.
  await leech.reload();
  const back = await leech.evaluate(async (announce) => {
    const mod = await import('/pkg/tabswarm.js');
    await mod.default();
    const client = new mod.Client({ announce: [announce], iceServers: [] });
    const [t] = await client.restore();
    return { selected: t.files.map((f) => f.selected), progress: t.progress, done: t.stats().done };
  }, swarm.tracker.announce);
  assert.deepEqual(back.selected, [false, true, false]);
  assert.equal(back.done, true);
  await closePeers(seed, leech);
});

test('deselect() before peers connect downloads only the file left selected; select() fetches more', { timeout: 120_000 }, async () => {
  const seed = await swarm.tabswarm('seed');
  const leech = await swarm.tabswarm('leech');
  const s = await seedThree(seed);
  await leech.evaluate(async (bytes) => {
    const d = await window.client.add(new Uint8Array(bytes));
    d.files[0].deselect();
    d.files[2].deselect();
    window.download = d;
  }, s.torrentFile);
  const r = await finish(leech);
  assert.equal(r.sha1, s.hashes[1]);
  assert.deepEqual(r.selected, [false, true, false]);
  assert.ok(r.received <= SIZES[1] + 2 * PIECE, `received ${r.received} for a ${SIZES[1]}-byte file`);
  // Selecting file 2 again: done resolves once it is in too.
  const more = await leech.evaluate(async () => {
    const d = window.download;
    const before = d.received;
    const again = new Promise((resolve) => d.once('done', resolve));
    d.files[2].select();
    await window.withTimeout(again, 60_000, () => `progress ${d.progress}`);
    const f2 = new Uint8Array(await (await d.files[2].blob()).arrayBuffer());
    return { extra: d.received - before, sha2: await window.sha256(f2), selected: d.files.map((f) => f.selected) };
  });
  assert.equal(more.sha2, s.hashes[2]);
  assert.deepEqual(more.selected, [false, true, true]);
  assert.ok(more.extra <= SIZES[2] + 2 * PIECE, `received ${more.extra} more for a ${SIZES[2]}-byte file`);
  await closePeers(seed, leech);
});
