// The tabswarm page: DOM wiring over the wasm package's Client API, nothing more. All
// BitTorrent logic (hashing, pieces, peers, choking) lives in the wasm module.
import init, * as tabswarm from '/pkg/tabswarm.js';
import { qrSvg } from './qr.js';
import { filesFromDataTransfer, filesFromInput } from './folder.js';
import { saveFile, saveTorrent } from './save.js';

const { Client, version, sha1Hex } = tabswarm;

const $ = (sel, root = document) => root.querySelector(sel);
const statusEl = $('#status');
const errorsEl = $('#errors');
const torrentsEl = $('#torrents');
const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(location.hostname);
const trackerUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/announce`;

let client = null;

// ---------------------------------------------------------------------------- formatting
function fmtBytes(n) {
  if (!Number.isFinite(n) || n <= 0) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  const i = Math.min(units.length - 1, Math.floor(Math.log10(n) / 3));
  const v = n / 10 ** (3 * i);
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}
/** Piece sizes are powers of two: say 256 KiB, not 262.1 KB. */
function fmtPow2(n) {
  if (n >= 1 << 20) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10) return `${n / (1 << 10)} KiB`;
  return `${n} B`;
}
const fmtRate = (bps) => (bps > 0 ? `${(bps / 1e6).toFixed(bps >= 1e7 ? 0 : 1)} MB/s` : '–');
function fmtEta(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 1) return 'moments';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
const shortId = (id) => (id ? String(id).slice(0, 8) : '?');

// ---------------------------------------------------------------------------- errors
/** Shows a message in plain words; `key` replaces an earlier message with the same key. */
function showError(text, key = text) {
  let el = [...errorsEl.children].find((e) => e.dataset.key === key);
  if (!el) {
    el = document.createElement('div');
    el.className = 'error';
    el.dataset.key = key;
    const p = document.createElement('p');
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'button small';
    close.textContent = 'Dismiss';
    close.addEventListener('click', () => el.remove());
    el.append(p, close);
    errorsEl.append(el);
  }
  el.firstChild.textContent = text;
}

/** Sentences for people, by error code (README: "Error codes"); the message goes in brackets. */
const PLAIN = {
  ERR_TRACKER_UNREACHABLE: 'Cannot reach the tracker that introduces peers. Downloads resume when it is back.',
  ERR_TRACKER_REFUSED: 'The tracker that introduces peers refused this torrent.',
  ERR_PEER_BANNED: 'A peer sent corrupted data several times and was disconnected for good.',
  ERR_HASH_FAILED: 'A piece failed its integrity check and is being fetched again.',
  ERR_BAD_MAGNET: 'That is not a valid share link or magnet link.',
  ERR_BAD_TORRENT: 'That .torrent file cannot be read.',
  ERR_STORAGE_QUOTA: 'The browser has no room left to store this download.',
};

/** Turns an error from the wasm module into a sentence for people. */
function plain(err) {
  const msg = String(err?.message ?? err ?? 'unknown error');
  const sentence = PLAIN[err?.code];
  return sentence ? `${sentence.slice(0, -1)} (${msg}).` : msg;
}

// ---------------------------------------------------------------------------- torrent cards
/** Runs a save (www/save.js: streamed to a picked file or folder where the browser can, else a
 * download of the disk-backed Blob); a failure is shown, a cancel is not. */
async function save(what, run) {
  try {
    await run();
  } catch (e) {
    showError(`Could not save ${what}: ${plain(e)}`);
  }
}

function shareLinkFor(t) {
  return `${location.origin}${location.pathname}#${t.magnetUri}`;
}

/** Moves the test and accessibility hooks (#share-link, #progress, #save, #peers) to `card`. */
function takeHooks(card) {
  for (const id of ['share-link', 'progress', 'save', 'peers']) document.getElementById(id)?.removeAttribute('id');
  $('.t-link', card).id = 'share-link';
  $('.progress', card).id = 'progress';
  $('.t-save', card).id = 'save';
  $('.t-peer-table', card).id = 'peers';
}

function newCard(title, meta) {
  const card = $('#torrent-card').content.firstElementChild.cloneNode(true);
  $('.t-name', card).textContent = title;
  $('.t-meta', card).textContent = meta;
  $('.t-remove', card).hidden = true;
  torrentsEl.prepend(card);
  takeHooks(card);
  return card;
}

/** The card of the torrent with `infoHash`, if the page shows it. */
const cardOf = (infoHash) => [...torrentsEl.children].find((c) => c.dataset.infoHash === infoHash);

/** Binds `card` to torrent `t`: its info hash and its remove button. Returns the card that
 * shows `t` (an earlier one, if the page already had it). */
function bindCard(card, t) {
  const earlier = cardOf(t.infoHash);
  if (earlier && earlier !== card) {
    card.remove();
    return null;
  }
  card.dataset.infoHash = t.infoHash;
  const remove = $('.t-remove', card);
  remove.hidden = false;
  remove.setAttribute('aria-label', `Remove ${t.name || 'this torrent'} and its stored data`);
  remove.onclick = () => {
    t.destroy();
    card.remove();
    showStorage();
  };
  return card;
}

function setProgress(card, fraction) {
  const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
  const bar = $('.progress', card);
  bar.setAttribute('aria-valuenow', String(pct));
  bar.setAttribute('aria-valuetext', `${pct} percent`);
  $('.progress-bar', bar).style.width = `${pct}%`;
}

function showShare(card, t) {
  const link = shareLinkFor(t);
  const a = $('.t-link', card);
  a.href = link;
  a.textContent = link.length > 90 ? `${link.slice(0, 87)}…` : link;
  a.title = link;
  $('.t-copy', card).onclick = async () => {
    const note = $('.t-copied', card);
    try {
      await navigator.clipboard.writeText(link);
      note.textContent = 'Copied.';
    } catch {
      // Clipboard access denied (e.g. no user gesture or insecure origin): select the text instead.
      const range = document.createRange();
      range.selectNodeContents(a);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      note.textContent = 'Press Ctrl+C to copy.';
    }
    setTimeout(() => { note.textContent = ''; }, 3000);
  };
  const svg = qrSvg(link);
  if (svg) $('.qr', card).innerHTML = svg;
  else $('.qr', card).textContent = 'The link is too long for a QR code.';
  $('.share', card).hidden = false;
}

function showFiles(card, t) {
  const files = t.files;
  const list = $('.file-list', card);
  list.replaceChildren();
  for (const f of files) {
    const li = document.createElement('li');
    const name = document.createElement(files.length > 1 ? 'label' : 'span');
    name.className = 'file-name';
    if (files.length > 1) {
      // Which files to download: a deselected file's pieces are not fetched.
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.className = 't-file-select';
      box.checked = f.selected;
      box.onchange = () => {
        try {
          if (box.checked) f.select(); else f.deselect();
        } catch (e) {
          box.checked = f.selected;
          showError(plain(e));
        }
      };
      name.append(box, ' ');
    }
    name.append(f.path);
    const size = document.createElement('span');
    size.className = 'file-size';
    size.textContent = fmtBytes(f.length);
    li.append(name, size);
    if (files.length > 1) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'button small t-file-save';
      b.textContent = 'Save';
      b.disabled = true;
      b.setAttribute('aria-label', `Save ${f.name}`);
      b.onclick = () => save(f.name, () => saveFile(f));
      li.append(b);
    }
    list.append(li);
  }
  const saveButton = $('.t-save', card);
  saveButton.textContent = files.length > 1 ? 'Save all files' : 'Save';
  // Several files save as a folder (or a zip); only the selected ones were downloaded.
  saveButton.onclick = () => save(t.name, () => saveTorrent({ name: t.name, files: t.files.filter((f) => f.selected) }));
  $('.files', card).hidden = files.length === 0;
}

function enableSave(card) {
  $('.t-save', card).disabled = false;
  for (const b of card.querySelectorAll('.t-file-save')) b.disabled = false;
}

// Piece map: each piece is a cell (or a column of pixels shares several pieces when there are
// more pieces than pixels). Have = blue, in flight = amber, missing = grey, darker when rarer.
function drawPieceMap(canvas, states, availability) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.floor(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.floor(canvas.clientHeight * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const ctx = canvas.getContext('2d');
  const n = states?.length ?? 0;
  ctx.clearRect(0, 0, w, h);
  if (!n) return;
  const maxAvail = Math.max(1, ...(availability ?? [1]));
  // Lay pieces out in rows so small torrents get big cells.
  const rows = n > w ? 1 : Math.max(1, Math.min(4, Math.ceil(Math.sqrt((n * h) / w))));
  const perRow = Math.ceil(n / rows);
  const cw = w / perRow;
  const ch = h / rows;
  for (let i = 0; i < n; i++) {
    const s = states[i];
    if (s === 2) ctx.fillStyle = '#2563eb';
    else if (s === 1) ctx.fillStyle = '#f59e0b';
    else if (s === 3) ctx.fillStyle = 'hsl(220 10% 92%)';
    else {
      const a = availability ? availability[i] : 1;
      const light = a === 0 ? 30 : 55 + Math.round((30 * a) / maxAvail);
      ctx.fillStyle = `hsl(220 10% ${light}%)`;
    }
    const x = (i % perRow) * cw;
    const y = Math.floor(i / perRow) * ch;
    ctx.fillRect(Math.floor(x), Math.floor(y), Math.max(1, Math.ceil(cw - (cw > 4 ? 1 : 0))), Math.ceil(ch - (ch > 4 ? 1 : 0)));
  }
}

function renderPeers(card, peers) {
  const tbody = $('.t-peer-table tbody', card);
  const rows = (peers ?? []).map((p) => {
    const tr = document.createElement('tr');
    const cells = [
      shortId(p.id),
      p.client || 'unknown',
      fmtRate(p.downloadSpeed),
      fmtRate(p.uploadSpeed),
      `${p.amChoking ? 'yes' : 'no'} / ${p.peerChoking ? 'yes' : 'no'}`,
      `${p.amInterested ? 'yes' : 'no'} / ${p.peerInterested ? 'yes' : 'no'}`,
      `${Math.round((p.progress ?? 0) * 100)}%`,
    ];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = 7;
    td.className = 'empty';
    td.textContent = 'No peers connected yet.';
    tr.append(td);
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
}

/** Keeps a card in step with its torrent: events for state changes, a light UI refresh for rates. */
function follow(card, t, { seeding }) {
  const started = performance.now();
  let done = seeding;
  const describe = () => {
    const n = t.files.length;
    return `${fmtBytes(t.length)} · ${n > 1 ? `${n} files · ` : ''}${fmtPow2(t.pieceLength)} pieces`;
  };
  const onMetadata = () => {
    $('.t-name', card).textContent = t.name;
    $('.t-meta', card).textContent = describe();
    showFiles(card, t);
  };
  const refresh = () => {
    const s = t.stats();
    // Done and progress count the selected files only (all of them by default).
    done = s.done || (seeding && s.progress === 1);
    setProgress(card, done ? 1 : (s.wanted ? s.wantedHave / s.wanted : s.progress));
    $('.t-down', card).textContent = fmtRate(s.downloadSpeed);
    $('.t-up', card).textContent = fmtRate(s.uploadSpeed);
    $('.t-peers', card).textContent = String(s.numPeers);
    $('.t-stored', card).textContent = t.kept ? fmtBytes(t.storageUsed) : 'not kept';
    $('.t-eta', card).textContent = done ? 'done' : fmtEta(s.timeRemaining / 1000);
    let state;
    if (done) state = seeding ? `Sharing. ${fmtBytes(s.uploaded)} sent so far.` : `Done: every piece verified. Still sharing with others (${fmtBytes(s.uploaded)} sent).`;
    else if (!s.length) state = 'Fetching the file list from peers…';
    else if (s.numPeers === 0 && performance.now() - started > 8000) state = 'No peers yet. Waiting for someone who has the file to be online.';
    else state = `Downloading: ${fmtBytes(s.wantedHave)} of ${fmtBytes(s.wanted)}.`;
    $('.t-state', card).textContent = state;
    if ($('.more', card).open) {
      drawPieceMap($('.t-map', card), t.pieceStates(), t.availability());
      renderPeers(card, t.peers());
    }
  };
  t.on('metadata', () => { onMetadata(); refresh(); });
  t.on('done', () => { done = true; enableSave(card); refresh(); });
  t.on('error', (e) => showError(plain(e)));
  t.on('warning', (e) => showError(plain(e)));
  if (t.length) onMetadata();
  if (seeding) enableSave(card);
  refresh();
  // Refreshes rates and the state line until the card leaves the page.
  const timer = setInterval(() => (card.isConnected ? refresh() : clearInterval(timer)), 500);
}

// ---------------------------------------------------------------------------- actions
/** The folder every file's `fullPath` starts with (www/folder.js), if there is one. */
function commonFolder(files) {
  const first = (f) => (f.fullPath ?? '').replace(/^\//, '').split('/');
  const top = first(files[0]);
  if (top.length < 2) return null;
  return files.every((f) => { const p = first(f); return p.length >= 2 && p[0] === top[0]; }) ? top[0] : null;
}

async function seedFiles(fileList) {
  const files = Array.from(fileList);
  if (!files.length) return;
  const total = files.reduce((s, f) => s + f.size, 0);
  const folder = commonFolder(files);
  const title = folder ?? (files.length === 1 ? files[0].name : `${files.length} files`);
  const card = newCard(title, fmtBytes(total));
  $('.t-state', card).textContent = 'Hashing…';
  try {
    const t = await client.seed(files.length === 1 && !folder ? files[0] : files, {
      onProgress: (fraction) => {
        setProgress(card, fraction);
        $('.t-state', card).textContent = `Hashing… ${Math.floor(fraction * 100)}%`;
      },
    });
    if (!bindCard(card, t)) return;
    showShare(card, t);
    follow(card, t, { seeding: true });
  } catch (e) {
    card.remove();
    showError(`Could not share ${title}: ${plain(e)}`);
  }
}

async function download(input, label) {
  const card = newCard(label, '');
  $('.t-state', card).textContent = 'Joining the swarm…';
  try {
    const d = await client.add(input, { announce: [trackerUrl] });
    if (!bindCard(card, d)) return;
    showShare(card, d);
    follow(card, d, { seeding: false });
  } catch (e) {
    card.remove();
    showError(plain(e));
  }
}

function magnetFromText(text) {
  let s = text.trim();
  const hash = s.indexOf('#magnet');
  if (hash >= 0) s = s.slice(hash + 1);
  if (s.startsWith('magnet%3A')) s = decodeURIComponent(s);
  return s;
}

function wire() {
  const input = $('#file-input');
  input.addEventListener('change', () => { seedFiles(input.files); });
  const folderInput = $('#folder-input');
  folderInput.addEventListener('change', () => { seedFiles(filesFromInput(folderInput)); });
  const drop = $('#drop');
  for (const ev of ['dragenter', 'dragover']) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('over'); });
  }
  for (const ev of ['dragleave', 'drop']) drop.addEventListener(ev, () => drop.classList.remove('over'));
  // Folders too: their files come with their paths (read during the event, www/folder.js).
  const onDrop = (e) => {
    e.preventDefault();
    e.stopPropagation();
    filesFromDataTransfer(e.dataTransfer).then(seedFiles, (err) => showError(`Could not read the drop: ${plain(err)}`));
  };
  drop.addEventListener('drop', onDrop);
  // Dropping outside the zone must not navigate away from the tab that is seeding.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => { if (e.dataTransfer?.items?.length) onDrop(e); else e.preventDefault(); });

  $('#magnet-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const m = magnetFromText($('#magnet-input').value);
    if (m) download(m, 'Magnet link');
  });
  const torrentInput = $('#torrent-input');
  torrentInput.addEventListener('change', async () => {
    const f = torrentInput.files[0];
    if (f) download(new Uint8Array(await f.arrayBuffer()), f.name.replace(/\.torrent$/i, ''));
  });
  const fromHash = () => {
    const m = magnetFromText(location.hash.slice(1));
    if (m.startsWith('magnet:')) download(m, 'Shared download');
  };
  window.addEventListener('hashchange', fromHash);
  fromHash();
  // Kept torrents come back after a reload; warn only about those that would be lost.
  window.addEventListener('beforeunload', (e) => {
    if (client.torrents.some((t) => !t.kept)) { e.preventDefault(); }
  });
  $('#persist').addEventListener('click', async () => {
    await client.persist().catch(() => false);
    showStorage();
  });
}

/** Brings back the torrents this browser kept (library in OPFS): downloads resume. */
async function restore() {
  let kept = [];
  try {
    kept = await client.restore();
  } catch (e) {
    showError(`Could not bring back earlier downloads: ${plain(e)}`);
  }
  for (const t of kept) {
    const card = bindCard(newCard(t.name || 'Download', ''), t);
    if (!card) continue;
    showShare(card, t);
    follow(card, t, { seeding: t.progress === 1 });
  }
}

/** The site's storage: what is used of the quota, and whether it is persistent. */
async function showStorage() {
  const el = $('#storage');
  try {
    const { usage, quota, persisted } = await client.storageEstimate();
    $('.storage-text', el).textContent = `Storage: ${fmtBytes(usage)} used of ${fmtBytes(quota)}${persisted ? ', kept by the browser' : ''}.`;
    $('#persist').hidden = persisted;
    el.hidden = false;
  } catch {
    el.hidden = true;
  }
}

// ---------------------------------------------------------------------------- start
try {
  await init();
  const ok = sha1Hex(new TextEncoder().encode('abc')) === 'a9993e364706816aba3e25717850c26c9cd0d89d';
  statusEl.textContent = ok ? `wasm module loaded · v${version()}` : 'wasm module loaded, but its self-check failed';
  statusEl.dataset.wasm = ok ? 'loaded' : 'broken';
  client = new Client({ announce: [trackerUrl], ...(loopback ? { iceServers: [] } : {}) });
  wire();
  await restore();
  showStorage();
  setInterval(showStorage, 5000);
} catch (e) {
  statusEl.textContent = 'Could not load the wasm module';
  statusEl.dataset.wasm = 'error';
  showError(`Could not start tabswarm: ${plain(e)}`);
}
