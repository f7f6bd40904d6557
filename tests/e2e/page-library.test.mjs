// The page's library: a folder picked in A is shared; B downloads it, saves it as a folder
// through the directory picker, finds it again listed after a reload, and removes it with its
// data. Headless Chromium aborts the File System Access pickers, so B's pickers hand out OPFS
// directories (the same handle type a real picker gives).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openPeer } from './harness.mjs';
import { withSwarm } from './peer-lib.mjs';
import { randomBytes, sha256Hex } from './shared.js';

const swarm = withSwarm();

const TREE = {
  'album/cover.bin': 70_000,
  'album/disc 1/01 intro.bin': 1_500_000,
  'album/disc 1/02 theme.bin': 2_100_000,
  'album/disc 2/deep/03 finale.bin': 900_000,
  'album/notes.txt': 0,
};

/** Pickers that hand out OPFS directories: `saved/` for showDirectoryPicker. */
function opfsPickers() {
  const dir = async (name) => (await navigator.storage.getDirectory()).getDirectoryHandle(name, { create: true });
  window.showDirectoryPicker = async () => dir('saved');
  window.showSaveFilePicker = async ({ suggestedName }) => (await dir('saved-files')).getFileHandle(suggestedName, { create: true });
}

test('a folder shared by page A is saved as a folder by page B, listed after a reload, and removed with its data', { timeout: 240_000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tabswarm-folder-'));
  const want = {};
  let seed = 1;
  for (const [rel, size] of Object.entries(TREE)) {
    const bytes = Buffer.from(randomBytes(size, seed++));
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), bytes);
    want[rel] = await sha256Hex(bytes);
  }
  try {
    const a = await swarm.page('/', 'A');
    await a.waitForSelector('#status[data-wasm="loaded"]');
    await a.setInputFiles('#folder-input', path.join(root, 'album'));
    const link = await a.waitForSelector('#share-link[href*="magnet:"]', { timeout: 60_000 });
    const href = await link.getAttribute('href');
    const hash = await a.$eval('#torrents > [data-info-hash]', (c) => c.dataset.infoHash);
    assert.match(hash, /^[0-9a-f]{40}$/);
    assert.equal(await a.$eval(`[data-info-hash="${hash}"] .t-name`, (e) => e.textContent), 'album');

    const b = await openPeer(swarm.browser, href, { name: 'B', init: opfsPickers });
    await b.waitForSelector(`#torrents > [data-info-hash="${hash}"] #progress[aria-valuenow="100"]`, { timeout: 120_000 });
    // Every file listed, with a checkbox each (all selected).
    const boxes = await b.$$eval('.t-file-select', (els) => els.map((e) => e.checked));
    assert.deepEqual(boxes, Object.keys(TREE).map(() => true));
    await b.click('#save:not([disabled])');
    const tree = () => b.evaluate(async () => {
      const walk = async (dir, prefix, out) => {
        for await (const [name, h] of dir.entries()) {
          const p = prefix ? `${prefix}/${name}` : name;
          if (name.endsWith('.crswap')) continue;
          if (h.kind === 'directory') await walk(h, p, out);
          else out[p] = await window.crypto.subtle.digest('SHA-256', await (await h.getFile()).arrayBuffer())
            .then((d) => Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, '0')).join(''));
        }
        return out;
      };
      // Files come and go while the save runs (a writable is a .crswap file until closed).
      return walk(await (await navigator.storage.getDirectory()).getDirectoryHandle('saved', { create: true }), '', {})
        .catch(() => ({}));
    });
    let saved = {};
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      saved = await tree();
      // A file is created empty and filled when its writable closes: done once all match.
      if (JSON.stringify(Object.entries(saved).sort()) === JSON.stringify(Object.entries(want).sort())) break;
    }
    assert.deepEqual(saved, want, 'the saved folder has the same tree and bytes (within 60 s)');

    // After a reload the torrent is listed again, complete, at once.
    await b.goto(`${swarm.tracker.url}/`);
    await b.waitForSelector(`#torrents > [data-info-hash="${hash}"] #progress[aria-valuenow="100"]`, { timeout: 10_000 });
    assert.equal(await b.$$eval('#torrents > [data-info-hash]', (c) => c.length), 1);
    // Remove: the card and the data go.
    await b.click(`[data-info-hash="${hash}"] .t-remove`);
    assert.equal(await b.$$eval('#torrents > [data-info-hash]', (c) => c.length), 0);
    const listed = () => b.evaluate(async (h) => {
      const lib = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabswarm', { create: true });
      for await (const n of lib.keys()) if (n === h) return true;
      return false;
    }, hash);
    for (let i = 0; i < 50 && await listed(); i++) await new Promise((r) => setTimeout(r, 200));
    assert.equal(await listed(), false, 'the torrent\'s directory is deleted');
    await b.reload();
    await b.waitForSelector('#status[data-wasm="loaded"]');
    await b.waitForSelector('#storage:not([hidden])');
    assert.equal(await b.$$eval('#torrents > [data-info-hash]', (c) => c.length), 0, 'a removed torrent stays removed');
    assert.deepEqual([...a.errors, ...b.errors], []);
    await a.context().close();
    await b.context().close();
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
