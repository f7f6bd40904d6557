// Folders in: a folder picked with <input webkitdirectory> or dropped (www/folder.js) seeds a
// multi-file torrent with the same info hash as WebTorrent 3 for the same files, and another
// tabswarm peer downloads every file under its path.
//
// Playwright can set a real directory on <input webkitdirectory> (so webkitRelativePath is the
// browser's own) but cannot drop a directory: the drop path is tested with DataTransfer-like
// objects whose entries and handles are stand-ins for the browser's (readEntries in batches,
// async iteration of a directory handle), and with a real DataTransfer of plain files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withSwarm, closePeers, startDownload } from './peer-lib.mjs';
import { randomBytes, sha256Hex } from './shared.js';

const swarm = withSwarm();
const KiB = 1024;
const ROOT_NAME = 'tëst-文件夹';
/** [path under the folder, size, xorshift seed]: 4 levels, an empty file, one bigger than a
 * 256 KiB piece, non-ASCII names, and junk that both sides leave out. */
const SPEC = [
  ['readme.txt', 100, 1],
  ['empty.dat', 0, 2],
  ['big.bin', 600 * KiB + 123, 3],
  ['sub/a.txt', 5000, 4],
  ['sub/naïve 日本.txt', 17000, 5],
  ['sub/.DS_Store', 6, 9],
  ['sub/deep/x.bin', 40000, 6],
  ['sub/deep/deeper/y.bin', 1, 7],
  ['other/z.bin', 16 * KiB, 8],
];
const PIECE_LENGTHS = [16 * KiB, 256 * KiB];
const KEPT = SPEC.filter(([p]) => !p.endsWith('.DS_Store'));

/** The folder on disk, for <input webkitdirectory>. */
function writeFolder() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tabswarm-folder-'));
  const root = path.join(base, ROOT_NAME);
  for (const [rel, size, seed] of SPEC) {
    const file = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, randomBytes(size, seed));
  }
  return { base, root };
}

/**
 * WebTorrent 3 seeds Files of SPEC's data with these `fullPath`s, in this order, once per piece
 * length; returns [{ infoHash, name, files: [path] }].
 */
async function webtorrentSeeds(page, fullPaths) {
  return page.evaluate(async ({ announce, fullPaths, spec, pieceLengths }) => {
    const out = [];
    for (const pieceLength of pieceLengths) {
      const files = fullPaths.map((fullPath) => {
        const [, size, seed] = spec.find(([p]) => fullPath.endsWith(`/${p}`));
        const file = new File([window.makeBytes(size, seed)], fullPath.split('/').pop());
        file.fullPath = fullPath;
        return file;
      });
      const t = await new Promise((resolve, reject) => {
        window.wt.seed(files, { announce: [announce], pieceLength }, resolve);
        window.wt.once('error', reject);
      });
      out.push({ infoHash: t.infoHash, name: t.name, files: t.files.map((f) => f.path) });
    }
    return out;
  }, { announce: swarm.tracker.announce, fullPaths, spec: SPEC, pieceLengths: PIECE_LENGTHS });
}

/** What tabswarm made of a seed: { infoHash, name, files: [path], torrentFile, length }. */
const describe = `(t) => ({ infoHash: t.infoHash, name: t.name, files: t.files.map((f) => f.path),
  torrentFile: Array.from(t.torrentFile), length: t.length })`;

test('a picked folder seeds with WebTorrent\'s info hash; another tabswarm peer gets every file', { timeout: 180_000 }, async () => {
  const { base, root } = writeFolder();
  try {
    const seed = await swarm.tabswarm('tabswarm-seed');
    await seed.evaluate(() => {
      const input = document.createElement('input');
      input.type = 'file';
      input.id = 'pick';
      input.webkitdirectory = true;
      document.body.append(input);
    });
    await seed.locator('#pick').setInputFiles(root);
    const picked = await seed.evaluate(async ({ pieceLengths, describe }) => {
      const show = eval(describe);
      const input = document.querySelector('#pick');
      const relative = Array.from(input.files, (f) => f.webkitRelativePath);
      // The FileList as the input gives it (webkitRelativePath read by seed) ...
      const direct = show(await window.client.seed(input.files, { pieceLength: pieceLengths[0] }));
      // ... and through www/folder.js (fullPath, as WebTorrent reads it).
      const { filesFromInput } = await import('/www/folder.js');
      const files = filesFromInput(input);
      window.seededFolder = show(await window.client.seed(files, { pieceLength: pieceLengths[1] }));
      return { relative, fullPaths: files.map((f) => f.fullPath), direct, viaFolderJs: window.seededFolder };
    }, { pieceLengths: PIECE_LENGTHS, describe });
    assert.deepEqual([...picked.relative].sort(), SPEC.map(([p]) => `${ROOT_NAME}/${p}`).sort());
    assert.deepEqual(picked.fullPaths, picked.relative.map((r) => `/${r}`));
    // The browser's order, kept; junk left out.
    const expected = picked.relative.map((r) => r.slice(ROOT_NAME.length + 1)).filter((p) => !p.endsWith('.DS_Store'));
    for (const t of [picked.direct, picked.viaFolderJs]) {
      assert.equal(t.name, ROOT_NAME);
      assert.deepEqual(t.files, expected);
      assert.equal(t.length, KEPT.reduce((n, [, size]) => n + size, 0));
    }

    const wtPage = await swarm.webtorrent('webtorrent-seed');
    const wt = await webtorrentSeeds(wtPage, picked.fullPaths);
    assert.match(picked.direct.infoHash, /^[0-9a-f]{40}$/);
    assert.equal(picked.direct.infoHash, wt[0].infoHash, '16 KiB pieces: the same info hash as WebTorrent');
    assert.equal(picked.viaFolderJs.infoHash, wt[1].infoHash, '256 KiB pieces: the same info hash as WebTorrent');
    assert.notEqual(wt[0].infoHash, wt[1].infoHash);
    assert.equal(wt[1].name, ROOT_NAME);
    // WebTorrent's file paths are "<name>/<path>".
    assert.deepEqual(wt[1].files, expected.map((p) => `${ROOT_NAME}/${p}`));
    await closePeers(wtPage);

    // Another tabswarm peer downloads the 256 KiB torrent: every path and every byte.
    const leech = await swarm.tabswarm('tabswarm-leech');
    await startDownload(leech, picked.viaFolderJs.torrentFile);
    const got = await leech.evaluate(async () => {
      const d = window.download;
      await window.withTimeout(d.done(), 120_000, () => `download: progress ${d.progress}, peers ${d.numPeers}`);
      const files = [];
      for (const f of d.files) files.push({ path: f.path, length: f.length, sha256: await window.sha256(await f.blob()) });
      return { name: d.name, files, received: d.received };
    });
    assert.equal(got.name, ROOT_NAME);
    const want = await Promise.all(expected.map(async (p) => {
      const [, size, seed] = SPEC.find(([q]) => q === p);
      return { path: p, length: size, sha256: await sha256Hex(randomBytes(size, seed)) };
    }));
    assert.deepEqual(got.files, want);
    assert.ok(got.received >= picked.viaFolderJs.length, `received ${got.received} bytes over the wire`);
    assert.deepEqual([...seed.errors, ...leech.errors], []);
    await closePeers(seed, leech);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('a dropped folder: entries read in batches, handles, plain files; WebTorrent\'s info hash', { timeout: 120_000 }, async () => {
  const page = await swarm.tabswarm('tabswarm-drop');
  const dropped = await page.evaluate(async ({ spec, rootName, pieceLength, describe }) => {
    const { filesFromDataTransfer } = await import('/www/folder.js');
    // A tree of SPEC: { name, children } for folders, { name, data } for files.
    const tree = { name: rootName, children: [] };
    for (const [rel, size, seed] of spec) {
      const parts = rel.split('/');
      let dir = tree;
      for (const part of parts.slice(0, -1)) {
        let next = dir.children.find((c) => c.name === part);
        if (!next) dir.children.push(next = { name: part, children: [] });
        dir = next;
      }
      dir.children.push({ name: parts.at(-1), data: window.makeBytes(size, seed) });
    }
    let reads = 0;
    // FileSystemEntry stand-ins: readEntries gives 2 entries a call, then an empty batch.
    const entry = (node, parent) => {
      const fullPath = `${parent}/${node.name}`;
      if (node.data) {
        return { isFile: true, isDirectory: false, name: node.name, fullPath, file: (ok) => setTimeout(() => ok(new File([node.data], node.name))) };
      }
      let at = 0;
      return {
        isFile: false, isDirectory: true, name: node.name, fullPath,
        createReader: () => ({
          readEntries: (ok) => setTimeout(() => {
            reads += 1;
            const batch = node.children.slice(at, at + 2).map((c) => entry(c, fullPath));
            at += batch.length;
            ok(batch);
          }),
        }),
      };
    };
    // FileSystemHandle stand-ins.
    const handle = (node) => (node.data
      ? { kind: 'file', name: node.name, getFile: async () => new File([node.data], node.name) }
      : { kind: 'directory', name: node.name, async *values() { for (const c of node.children) yield handle(c); } });
    const fromEntries = await filesFromDataTransfer({ items: [{ kind: 'string' }, { kind: 'file', webkitGetAsEntry: () => entry(tree, '') }] });
    const fromHandles = await filesFromDataTransfer({ items: [{ kind: 'file', getAsFileSystemHandle: async () => handle(tree), getAsFile: () => null }] });
    // A real DataTransfer of plain files (Chromium gives no entries for these).
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array([1, 2, 3])], 'one.bin'));
    dt.items.add(new File([new Uint8Array([4])], 'two.bin'));
    const plain = await filesFromDataTransfer(dt);
    const t = await window.client.seed(fromEntries, { pieceLength });
    return {
      reads,
      fromEntries: fromEntries.map((f) => f.fullPath),
      fromHandles: fromHandles.map((f) => f.fullPath),
      plain: plain.map((f) => [f.fullPath, f.size]),
      seeded: eval(describe)(t),
    };
  }, { spec: SPEC, rootName: ROOT_NAME, pieceLength: PIECE_LENGTHS[0], describe });
  // Depth first, each folder in its reader's order (SPEC's, grouped by folder).
  const order = ['readme.txt', 'empty.dat', 'big.bin', 'sub/a.txt', 'sub/naïve 日本.txt', 'sub/.DS_Store',
    'sub/deep/x.bin', 'sub/deep/deeper/y.bin', 'other/z.bin'].map((p) => `/${ROOT_NAME}/${p}`);
  assert.deepEqual(dropped.fromEntries, order);
  assert.deepEqual(dropped.fromHandles, order);
  // Every folder read until an empty batch: root 5 entries (4 calls), sub 4 (3), deep 2 (2),
  // deeper 1 (2), other 1 (2).
  assert.equal(dropped.reads, 13);
  assert.deepEqual(dropped.plain, [['/one.bin', 3], ['/two.bin', 1]]);
  assert.equal(dropped.seeded.name, ROOT_NAME);
  assert.deepEqual(dropped.seeded.files, order.filter((p) => !p.endsWith('.DS_Store')).map((p) => p.slice(ROOT_NAME.length + 2)));

  const wtPage = await swarm.webtorrent('webtorrent-drop');
  const [wt16] = await webtorrentSeeds(wtPage, dropped.fromEntries);
  assert.equal(dropped.seeded.infoHash, wt16.infoHash, 'the same info hash as WebTorrent');
  assert.deepEqual(page.errors, []);
  await closePeers(page, wtPage);
});

test('bad paths are refused with ERR_BAD_INPUT; plain files keep today\'s layout', { timeout: 60_000 }, async () => {
  const page = await swarm.tabswarm('tabswarm-bad');
  const r = await page.evaluate(async () => {
    const { filesFromInput } = await import('/www/folder.js');
    const file = (fullPath) => Object.assign(new File([new Uint8Array([7])], 'x'), { fullPath });
    const refused = [];
    for (const bad of ['/f/../x', '/f//x', '/f/', 'C:/x', '/f/a\u0000b', '/f/a\\b', `/${'d/'.repeat(64)}x`, `/f/${'n'.repeat(4100)}`]) {
      try {
        await window.client.seed([file('/f/ok'), file(bad)]);
        refused.push({ bad, code: 'resolved' });
      } catch (e) {
        refused.push({ bad, code: e.code, message: e.message });
      }
    }
    // Files without a folder: named after the first, each path its name (as before).
    const flat = filesFromInput([new File([new Uint8Array([1])], 'a.txt'), new File([new Uint8Array([2, 3])], 'b.txt')]);
    const t = await window.client.seed(flat);
    return { refused, flat: flat.map((f) => f.fullPath), name: t.name, files: t.files.map((f) => f.path) };
  });
  for (const { bad, code, message } of r.refused) {
    assert.equal(code, 'ERR_BAD_INPUT', `${JSON.stringify(bad.slice(0, 40))}: ${code} ${message}`);
    assert.match(message, /invalid file path/);
  }
  assert.deepEqual(r.flat, ['/a.txt', '/b.txt']);
  assert.equal(r.name, 'a.txt');
  assert.deepEqual(r.files, ['a.txt', 'b.txt']);
  await closePeers(page);
});
