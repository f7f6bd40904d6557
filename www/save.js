// Saving downloads from the page without holding a whole file in memory. ES module, no
// dependencies besides ./zip.js; the page calls these from a click handler (the pickers need
// the click's user activation, so each function opens its picker before anything slow).
//
//   saveFile(file, options)       -> Promise<boolean>  one file: a TorrentFile, { name, blob() },
//                                                       or a File/Blob (with options.name)
//   saveTorrent(torrent, options) -> Promise<boolean>  a whole torrent: its file, or its files
//                                                       as a folder or a .zip
//   saveMethod(torrent)           -> 'file' | 'folder' | 'zip' | 'download'
//                                                       what saveTorrent will do in this browser
//   torrentEntries(torrent, { root }) -> [{ path, segments, size, blob() }]
//                                                       the checked file list (see below)
//
// How the bytes travel:
//   - with window.showSaveFilePicker (Chromium): the file's Blob is streamed into the picked
//     file's writable (writeBlob: a BYOB reader fills one 4 MiB buffer over and over). A
//     torrent's Blob is disk-backed (OPFS files), so memory holds that buffer, whatever the size.
//   - otherwise (Firefox, Safari): an <a download> of URL.createObjectURL(blob); the browser's
//     download manager reads the Blob. The object URL is revoked a minute later.
//   - a multi-file torrent: with window.showDirectoryPicker, into the picked folder as
//     <torrent name>/<path> (nested folders created, one writable per file, each streamed);
//     else one <torrent name>.zip streamed (zip.js zipStream) to a showSaveFilePicker file;
//     else the zip as a Blob (zip.js zipBlob: a first pass reads every file once to compute its
//     CRC-32, then the archive is a Blob of small headers and the files' own Blobs, by
//     reference) downloaded through <a download>.
//
// Paths: a TorrentFile's `path` is '/'-separated and relative to the torrent's folder: for a
// multi-file torrent it does NOT start with the torrent's name (crates/core/src/metainfo.rs:
// FileEntry.path is the info dict's `path` list, joined with '/' by src/lib.rs), unlike
// WebTorrent's file.path. Folder and zip saves put the files under a folder named after the
// torrent (`root: false` leaves it out). A single-file torrent's path is its name. Paths are
// network input: every one goes through zip.js safePath (the one check for zip and folder
// saves), and a torrent with an unsafe path ('..', empty segments, absolute, '\' or NUL) or two
// files at one path is refused before any picker opens or anything is written.
//
// Every function resolves to true once the data is written (picker) or the download was started
// (fallback), to false when the user cancels a picker or `options.signal` aborts (an
// AbortError: no error message is due), and rejects with an Error whose message names the file
// and the cause (`cause` holds the original error, `code` its code if any).
//
// Options (all optional):
//   signal: AbortSignal    stops the save; what was written of the current file is discarded
//   onProgress(done, total) bytes written (or, for the zip Blob fallback, read for the CRCs)
//   via: 'auto' | 'file' | 'folder' | 'zip' | 'download'   saveTorrent: one way rather than
//                          the best this browser has, e.g. from a menu ('file': a one-file
//                          torrent's file, by picker or download; 'download': no picker, the file
//                          or the .zip downloaded). saveFile: 'download' skips the picker.
//   root: boolean          folder and zip saves: put the files in a <torrent name> folder (true)
//   revokeAfterMs: number  the fallback's object URL lifetime (60000)

import { zipStream, zipBlob, blobStream, safePath, safeName } from './zip.js';

const DOWNLOADS = 'downloads';
const ZIP_TYPES = [{ description: 'ZIP archive', accept: { 'application/zip': ['.zip'] } }];

const hasSavePicker = () => typeof globalThis.showSaveFilePicker === 'function';
const hasDirectoryPicker = () => typeof globalThis.showDirectoryPicker === 'function';

/** A user's cancel (picker closed, or our signal aborted) rather than a failure. */
const isCancel = (e, signal) => e?.name === 'AbortError' || (signal?.aborted ?? false);

/** An Error that says what could not be saved, and why. */
function failure(what, e) {
  if (e?.save) return e; // already one of ours
  let why = e?.message || String(e);
  if (e?.name === 'SecurityError' || e?.name === 'NotAllowedError') {
    why += ' (a save dialog can only open from a click: call this from the click handler)';
  }
  const err = new Error(`could not save ${JSON.stringify(what)}: ${why}`, { cause: e });
  if (e?.code !== undefined) err.code = e.code;
  err.save = true;
  return err;
}

/**
 * A stream of `blob` (read slice by slice: zip.js blobStream) that reports bytes through
 * `progress` (a function of the chunk size).
 */
function streamOf(blob, progress) {
  const stream = blobStream(blob);
  if (!progress) return stream;
  return stream.pipeThrough(new TransformStream({
    transform(chunk, controller) {
      progress(chunk.byteLength);
      controller.enqueue(chunk);
    },
  }));
}

/** Bytes each write of writeBlob carries (one buffer, filled again and again). */
const WRITE_CHUNK = 4 * 1024 * 1024;

/**
 * The readers and writers of the writeBlob calls under way, kept reachable until each call
 * ends. Chromium collects a `blob.stream()` BYOB reader that only a pending read and the
 * awaiting async function refer to (a cycle no root reaches), and that read's promise then never
 * settles: the save hangs. Seen with a 512 MiB Blob and forced GCs every 100 ms: unrooted, the
 * first run hung; with the reader held here, every run finished (the writer alone was not
 * enough). WebKit fixed the same bug (WebKit/WebKit pull request 54097).
 */
const inFlight = new Set();

/**
 * Writes `blob` into a file's `writable` and closes it (aborts it on an error or `signal`, so
 * what was written is discarded). Where the Blob's stream takes a BYOB reader (Chromium,
 * Firefox) one buffer is filled and written over and over, so a 2 GiB save leaves no garbage
 * behind (a fresh chunk per read did: the renderer peaked near 300 MiB before they were
 * collected); elsewhere it pipes streamOf(blob).
 */
async function writeBlob(blob, writable, progress, signal) {
  let reader;
  try {
    reader = blob.stream().getReader({ mode: 'byob' });
  } catch {
    return streamOf(blob, progress).pipeTo(writable, { signal });
  }
  const writer = writable.getWriter();
  const held = { reader, writer };
  inFlight.add(held);
  let buffer = new ArrayBuffer(Math.max(1, Math.min(WRITE_CHUNK, blob.size)));
  try {
    for (let done = false; !done;) {
      let filled = 0;
      while (filled < buffer.byteLength) {
        throwIfAborted(signal);
        const r = await reader.read(new Uint8Array(buffer, filled, buffer.byteLength - filled));
        if (r.value) {
          buffer = r.value.buffer; // the read transferred it
          filled += r.value.byteLength;
        }
        if (r.done) { done = true; break; }
      }
      if (filled > 0) {
        await writer.write(new Uint8Array(buffer, 0, filled));
        progress?.(filled);
      }
    }
    await writer.close();
  } catch (e) {
    await writer.abort(e).catch(() => {});
    await reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    inFlight.delete(held);
  }
}

/** A progress counter over `total` bytes for options.onProgress (or null without one). */
function counter(onProgress, total) {
  if (typeof onProgress !== 'function') return null;
  let done = 0;
  return (n) => { done += n; onProgress(done, total); };
}

function throwIfAborted(signal) {
  if (signal?.aborted) throw signal.reason ?? new DOMException('aborted', 'AbortError');
}

/** Fetches a file's Blob (TorrentFile.blob() and { blob() } return a promise of one). */
async function blobOf(file) {
  const blob = file instanceof Blob ? file : await file.blob();
  if (!(blob instanceof Blob)) throw new TypeError('blob() did not give a Blob');
  return blob;
}

/** Clicks an <a download> of `blob` named `name`; revokes its object URL later. */
function download(blob, name, revokeAfterMs = 60_000) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.append(a);
  try {
    a.click();
  } finally {
    a.remove();
    // The download manager resolves the URL when the download starts; a minute is plenty.
    setTimeout(() => URL.revokeObjectURL(url), revokeAfterMs);
  }
}

/**
 * Saves one file: `file` is a TorrentFile, any { name, blob() } (blob() returning a Blob or a
 * promise of one), or a Blob/File (named by options.name, else its own name). Through
 * showSaveFilePicker where the browser has it (the Blob streamed to the picked file), else as a
 * download. Resolves true when written or the download started, false if the user cancelled.
 */
export async function saveFile(file, options = {}) {
  const { signal, onProgress, revokeAfterMs } = options;
  let name = options.name ?? file?.name ?? (file instanceof Blob ? 'download' : undefined);
  try {
    if (!file || (!(file instanceof Blob) && typeof file.blob !== 'function')) {
      throw new TypeError('not a file: expected a TorrentFile, { name, blob() } or a Blob');
    }
    name = safeName(name);
    throwIfAborted(signal);
    if (options.via !== 'download' && hasSavePicker()) {
      // The picker first, while the click's user activation lasts; the Blob after.
      const handle = await globalThis.showSaveFilePicker({ suggestedName: name, startIn: DOWNLOADS });
      const blob = await blobOf(file);
      throwIfAborted(signal);
      const writable = await handle.createWritable();
      await writeBlob(blob, writable, counter(onProgress, blob.size), signal);
      return true;
    }
    const blob = await blobOf(file);
    throwIfAborted(signal);
    download(blob, name, revokeAfterMs);
    onProgress?.(blob.size, blob.size);
    return true;
  } catch (e) {
    if (isCancel(e, signal)) return false;
    throw failure(name ?? 'file', e);
  }
}

/**
 * The torrent's files as checked entries: { path, segments, size, blob() }, `path` under a
 * `<torrent name>/` folder when `root` is true (the default). Throws (ERR_UNSAFE_PATH) for an
 * unsafe name or path, (ERR_PATH_CONFLICT) for two files at one path or a file where another
 * file's folder would be, and (ERR_NO_METADATA) for a torrent whose files are not known yet.
 */
export function torrentEntries(torrent, { root = true } = {}) {
  const files = Array.from(torrent?.files ?? []);
  if (files.length === 0) {
    const e = new Error('the torrent has no files yet (its metadata has not arrived)');
    e.code = 'ERR_NO_METADATA';
    throw e;
  }
  const prefix = root ? [safeName(torrent.name)] : [];
  const conflict = (msg) => {
    const e = new Error(msg);
    e.code = 'ERR_PATH_CONFLICT';
    return e;
  };
  const filePaths = new Set();
  const dirPaths = new Set();
  const entries = files.map((f) => {
    const segments = [...prefix, ...safePath(f.path)];
    const path = segments.join('/');
    if (filePaths.has(path)) throw conflict(`two files at ${JSON.stringify(path)}`);
    if (dirPaths.has(path)) throw conflict(`${JSON.stringify(path)} is both a file and a folder`);
    filePaths.add(path);
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/');
      if (filePaths.has(dir)) throw conflict(`${JSON.stringify(dir)} is both a file and a folder`);
      dirPaths.add(dir);
    }
    const size = Number(f.length);
    return { path, segments, size, blob: () => blobOf(f) };
  });
  return entries;
}

/** What saveTorrent does with `torrent` in this browser: 'file', 'folder', 'zip' or 'download'. */
export function saveMethod(torrent, { via = 'auto' } = {}) {
  if (via !== 'auto') return via;
  if (Array.from(torrent?.files ?? []).length === 1) return 'file';
  if (hasDirectoryPicker()) return 'folder';
  if (hasSavePicker()) return 'zip';
  return 'download';
}

/**
 * Saves a whole torrent (once done: the files' Blobs are awaited as they are written). A torrent
 * of one file saves that file (saveFile); one of several files saves them in a folder picked
 * with showDirectoryPicker, else as <name>.zip through showSaveFilePicker, else as a .zip
 * download (see the top of this file). Resolves true when written or the download started,
 * false if the user cancelled; rejects with an Error naming the file that failed.
 */
export async function saveTorrent(torrent, options = {}) {
  const { signal, root = true } = options;
  const title = torrent?.name || 'torrent';
  let method;
  let entries;
  let zipName;
  try {
    method = saveMethod(torrent, options);
    if (!['file', 'folder', 'zip', 'download'].includes(method)) {
      throw new TypeError(`unknown via ${JSON.stringify(method)}: 'auto', 'file', 'folder', 'zip' or 'download'`);
    }
    const files = Array.from(torrent?.files ?? []);
    if (method === 'file' || (method === 'download' && files.length === 1)) {
      if (files.length !== 1) {
        if (files.length === 0) torrentEntries(torrent); // throws ERR_NO_METADATA
        throw new TypeError(`via: 'file' needs a torrent of one file, not ${files.length}`);
      }
      return await saveFile(files[0], { ...options, via: method === 'download' ? 'download' : 'auto' });
    }
    // Checked before any picker opens: an unsafe torrent is refused without asking anything.
    entries = torrentEntries(torrent, { root });
    zipName = `${safeName(torrent.name)}.zip`;
    throwIfAborted(signal);
  } catch (e) {
    if (isCancel(e, signal)) return false;
    throw failure(title, e);
  }
  const total = entries.reduce((t, e) => t + e.size, 0);
  if (method === 'folder') return saveFolder(title, entries, total, options);
  if (method === 'zip') return saveZip(zipName, entries, total, options);
  return downloadZip(title, zipName, entries, total, options);
}

/** Writes every entry into a folder picked with showDirectoryPicker. */
async function saveFolder(title, entries, total, { signal, onProgress }) {
  let current = title;
  try {
    if (!hasDirectoryPicker()) throw new TypeError('this browser cannot pick a folder (showDirectoryPicker)');
    const top = await globalThis.showDirectoryPicker({ id: 'tabswarm-save', mode: 'readwrite', startIn: DOWNLOADS });
    const progress = counter(onProgress, total);
    const dirs = new Map([['', top]]);
    const dirOf = async (segments) => {
      let key = '';
      let dir = top;
      for (const s of segments) {
        key = key ? `${key}/${s}` : s;
        let next = dirs.get(key);
        if (!next) {
          next = await dir.getDirectoryHandle(s, { create: true });
          dirs.set(key, next);
        }
        dir = next;
      }
      return dir;
    };
    for (const e of entries) {
      current = e.path;
      throwIfAborted(signal);
      const dir = await dirOf(e.segments.slice(0, -1));
      const name = e.segments[e.segments.length - 1];
      const existed = await dir.getFileHandle(name).then(() => true, () => false);
      const handle = await dir.getFileHandle(name, { create: true });
      try {
        const blob = await e.blob();
        if (blob.size !== e.size) throw new Error(`its Blob has ${blob.size} bytes, the torrent says ${e.size}`);
        const writable = await handle.createWritable();
        // Closed when done (the file is then committed), aborted on an error or our signal
        // (what was written of this file is discarded).
        await writeBlob(blob, writable, progress, signal);
      } catch (err) {
        // No empty file left where this save created one; a file that was there stays as it was.
        if (!existed) await dir.removeEntry(name).catch(() => {});
        throw err;
      }
    }
    return true;
  } catch (e) {
    if (isCancel(e, signal)) return false;
    throw failure(current, e);
  }
}

/** Streams the torrent as one .zip into a file picked with showSaveFilePicker. */
async function saveZip(zipName, entries, total, { signal, onProgress }) {
  let current = zipName;
  try {
    if (!hasSavePicker()) throw new TypeError('this browser cannot pick a file to write (showSaveFilePicker)');
    const handle = await globalThis.showSaveFilePicker({ suggestedName: zipName, startIn: DOWNLOADS, types: ZIP_TYPES });
    const writable = await handle.createWritable();
    const progress = counter(onProgress, total);
    // The zip's own progress counts archive bytes (headers too); report the files' bytes.
    const tracked = entries.map((e) => ({
      path: e.path,
      size: e.size,
      blob: async () => {
        current = e.path;
        const blob = await e.blob();
        return progress ? new ProgressBlob(blob, progress) : blob;
      },
    }));
    await zipStream(tracked).pipeTo(writable, { signal });
    return true;
  } catch (e) {
    if (isCancel(e, signal)) return false;
    throw failure(current, e);
  }
}

/** The zip as a Blob (two passes, data by reference) through <a download>. */
async function downloadZip(title, zipName, entries, total, { signal, onProgress, revokeAfterMs }) {
  try {
    const list = [];
    for (const e of entries) {
      throwIfAborted(signal);
      list.push({ path: e.path, size: e.size, blob: await e.blob() });
    }
    const blob = await zipBlob(list, { onProgress: onProgress && ((n) => { throwIfAborted(signal); onProgress(n, total); }) });
    throwIfAborted(signal);
    download(blob, zipName, revokeAfterMs);
    return true;
  } catch (e) {
    if (isCancel(e, signal)) return false;
    throw failure(title, e);
  }
}

/** A Blob stand-in for zipStream (size, stream()) whose stream reports its bytes. */
class ProgressBlob {
  constructor(blob, progress) {
    this.blob = blob;
    this.size = blob.size;
    this.progress = progress;
  }
  stream() {
    return streamOf(this.blob, this.progress);
  }
}
