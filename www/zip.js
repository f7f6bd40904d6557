// A streaming ZIP writer with no dependencies, for the page (saving a multi-file torrent as one
// .zip) and for Node 20 (its tests): plain ES module on Blob, ReadableStream and TextEncoder.
//
// Entries are stored (method 0: torrents are mostly compressed media already), names are UTF-8
// (general purpose flag bit 11), and ZIP64 records are written where a size, an offset or the
// entry count does not fit the classic fields (or everywhere with `{ zip64: true }`).
//
// Two ways to make an archive, neither of which holds a file's data in memory:
//   zipStream(entries) -> ReadableStream<Uint8Array>: one pass. Each entry's CRC-32 is computed
//     while its data streams through and written after it in a data descriptor (flag bit 3), so
//     nothing is read twice and memory stays at one chunk. For a writable file stream
//     (showSaveFilePicker) or anything else that takes a stream.
//   zipBlob(entries) -> Promise<Blob>: two passes, for browsers without a writable file stream.
//     A first pass streams every entry to compute its CRC-32; then the archive is assembled as
//     new Blob([header, file blob, header, file blob, ..., central directory]) whose data parts
//     are the entries' own Blobs, by reference, not copies (a disk-backed Blob stays on disk).
//     Local headers then carry the CRC and sizes; there are no data descriptors.
//
// An entry is { path, size?, blob | stream, date?, directory? }:
//   path: '/'-separated, relative; checked by safePath (a path that could leave the archive's
//     folder when extracted is an error). A path ending in '/' (or `directory: true`) is a
//     directory entry, with no data.
//   blob: a Blob, or a function returning a Blob or a promise of one (called when the entry's
//     turn comes, so a list of torrent files need not resolve every Blob up front).
//   stream: a ReadableStream of Uint8Array (or other ArrayBufferView/ArrayBuffer) chunks; zipStream
//     only. Without `size` such an entry is written as ZIP64 (its size might not fit 32 bits).
//   size: the byte count; for a Blob it defaults to blob.size, and a stream that yields a
//     different count fails the archive.
//   date: the modification time (default: options.date, else now), stored as a DOS time.
// `entries` is an array or any (async) iterable of entries.

const MAX32 = 0xffffffff;
const MAX16 = 0xffff;
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;
const SIG_LOCAL = 0x04034b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_ZIP64_END = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_END = 0x06054b50;
/** Version needed to extract: 2.0 (stored, directories), 4.5 (ZIP64). */
const V20 = 20;
const V45 = 45;
/** Version made by: high byte 3 = Unix, so the external attributes hold a mode. */
const MADE_BY_UNIX = 3 << 8;
const MODE_FILE = 0o100644;
const MODE_DIR = 0o40755;
const MSDOS_DIR = 0x10;

// ---------------------------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, the polynomial of zip, gzip and PNG), slicing by 8: eight 256-entry tables,
// eight bytes per step. A few times faster than one table and one byte per step, which matters
// for multi-gigabyte files.

const CRC_TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + n];
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
})();

/**
 * The CRC-32 of `bytes` (a Uint8Array) continued from `crc` (the CRC-32 of what came before;
 * 0 to start). crc32(crc32(0, a), b) === crc32(0, a followed by b).
 */
export function crc32(crc, bytes) {
  const t = CRC_TABLES;
  let c = ~crc;
  let i = 0;
  const n = bytes.length;
  const end8 = n - (n & 7);
  while (i < end8) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = t[1792 + (c & 0xff)] ^ t[1536 + ((c >>> 8) & 0xff)] ^ t[1280 + ((c >>> 16) & 0xff)]
      ^ t[1024 + (c >>> 24)] ^ t[768 + bytes[i + 4]] ^ t[512 + bytes[i + 5]]
      ^ t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
    i += 8;
  }
  while (i < n) c = t[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Paths. Torrent paths are network input: this one function decides what may become a file name,
// for zip entries here and for folder saves in save.js.

/**
 * Splits a '/'-separated relative path into its segments, or throws a TypeError (with
 * `code: 'ERR_UNSAFE_PATH'`) for a path that could name something outside the folder it is
 * extracted or written to, or that a file system would refuse: empty paths and empty segments
 * ('a//b', a leading or trailing '/'), absolute paths ('/etc/passwd', 'C:' as first segment),
 * '.' and '..' segments, and segments holding '\' or NUL. Nothing is rewritten: a torrent with
 * such a path is refused rather than saved under names the user did not see.
 */
export function safePath(path) {
  const fail = (why) => {
    const e = new TypeError(`unsafe path ${JSON.stringify(String(path))}: ${why}`);
    e.code = 'ERR_UNSAFE_PATH';
    throw e;
  };
  if (typeof path !== 'string') fail('not a string');
  if (path === '') fail('empty');
  if (path.startsWith('/')) fail('absolute');
  const segments = path.split('/');
  if (/^[A-Za-z]:$/.test(segments[0])) fail('absolute (drive letter)');
  for (const s of segments) {
    if (s === '') fail('empty segment');
    if (s === '.' || s === '..') fail(`"${s}" segment`);
    if (s.includes('\\')) fail('backslash');
    if (s.includes('\0')) fail('NUL');
  }
  return segments;
}

/** A single safe name (one segment of safePath): a file or folder name, no '/'. */
export function safeName(name) {
  if (typeof name === 'string' && name.includes('/')) {
    const e = new TypeError(`unsafe name ${JSON.stringify(name)}: holds "/"`);
    e.code = 'ERR_UNSAFE_PATH';
    throw e;
  }
  return safePath(name)[0];
}

// ---------------------------------------------------------------------------------------------
// Reading Blobs.

/**
 * `blob`'s bytes as a stream of its consecutive slices' streams, `sliceSize` bytes (8 MiB) at a
 * time. Chromium reads a whole Blob's stream() ahead of a fast reader (tens of MiB of chunks
 * queued, measured while CRC-ing a 512 MiB Blob); reading slice by slice bounds that to about a
 * slice. Slicing a Blob copies nothing, disk-backed or not. Other objects with a stream()
 * (and no slice()) are streamed as they are.
 */
export function blobStream(blob, sliceSize = 8 * 1024 * 1024) {
  if (typeof blob.slice !== 'function' || blob.size <= sliceSize) return blob.stream();
  let offset = 0;
  let reader = null;
  return new ReadableStream({
    async pull(controller) {
      for (;;) {
        if (!reader) {
          if (offset >= blob.size) {
            controller.close();
            return;
          }
          reader = blob.slice(offset, Math.min(offset + sliceSize, blob.size)).stream().getReader();
          offset += sliceSize;
        }
        const { done, value } = await reader.read();
        if (!done) {
          controller.enqueue(value);
          return;
        }
        reader = null;
      }
    },
    cancel(reason) {
      return reader?.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

// ---------------------------------------------------------------------------------------------
// Record encoders. Exported for the unit tests (`_records`); offsets and sizes are Numbers
// (exact up to 2^53), written as 64-bit little-endian in the ZIP64 records.

const encoder = new TextEncoder();

class Writer {
  constructor(n) {
    this.bytes = new Uint8Array(n);
    this.view = new DataView(this.bytes.buffer);
    this.at = 0;
  }
  u16(v) { this.view.setUint16(this.at, v, true); this.at += 2; return this; }
  u32(v) { this.view.setUint32(this.at, v >>> 0, true); this.at += 4; return this; }
  u64(v) { this.view.setBigUint64(this.at, BigInt(v), true); this.at += 8; return this; }
  raw(b) { this.bytes.set(b, this.at); this.at += b.length; return this; }
  done() {
    if (this.at !== this.bytes.length) throw new Error(`zip: record is ${this.at} of ${this.bytes.length} bytes`);
    return this.bytes;
  }
}

/** DOS date and time (2-second resolution, local time; 1980-01-01 00:00 for earlier dates). */
export function dosDateTime(date) {
  const d = date instanceof Date && !Number.isNaN(date.getTime()) ? date : new Date();
  if (d.getFullYear() < 1980) return { date: (1 << 5) | 1, time: 0 };
  const year = Math.min(d.getFullYear(), 2107);
  return {
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
  };
}

/**
 * An entry's record fields: { name (UTF-8 bytes), directory, size, crc, offset, zip64,
 * descriptor, dos }. `zip64` marks the entry's sizes (local and central) and its offset (central)
 * as 0xFFFFFFFF with the real values in a ZIP64 extra field.
 */
function localHeader(e) {
  const extra = e.zip64 ? 20 : 0;
  const w = new Writer(30 + e.name.length + extra);
  const known = !e.descriptor; // sizes and CRC are in the header, not after the data
  w.u32(SIG_LOCAL).u16(e.zip64 ? V45 : V20).u16(FLAG_UTF8 | (e.descriptor ? FLAG_DESCRIPTOR : 0))
    .u16(0).u16(e.dos.time).u16(e.dos.date)
    .u32(known ? e.crc : 0);
  if (e.zip64) w.u32(MAX32).u32(MAX32);
  else w.u32(known ? e.size : 0).u32(known ? e.size : 0);
  w.u16(e.name.length).u16(extra).raw(e.name);
  // ZIP64 extra in a local header: both sizes (uncompressed, then compressed); 0 when a data
  // descriptor follows the data.
  if (e.zip64) w.u16(0x0001).u16(16).u64(known ? e.size : 0).u64(known ? e.size : 0);
  return w.done();
}

/** The data descriptor after an entry's data: CRC and sizes, 64-bit for a ZIP64 entry. */
function dataDescriptor(e) {
  const w = new Writer(e.zip64 ? 24 : 16);
  w.u32(SIG_DESCRIPTOR).u32(e.crc);
  if (e.zip64) w.u64(e.size).u64(e.size);
  else w.u32(e.size).u32(e.size);
  return w.done();
}

function centralHeader(e) {
  const extra = e.zip64 ? 28 : 0;
  const w = new Writer(46 + e.name.length + extra);
  const version = e.zip64 ? V45 : V20;
  const mode = e.directory ? MODE_DIR : MODE_FILE;
  w.u32(SIG_CENTRAL).u16(MADE_BY_UNIX | version).u16(version)
    .u16(FLAG_UTF8 | (e.descriptor ? FLAG_DESCRIPTOR : 0)).u16(0)
    .u16(e.dos.time).u16(e.dos.date).u32(e.crc);
  if (e.zip64) w.u32(MAX32).u32(MAX32);
  else w.u32(e.size).u32(e.size);
  w.u16(e.name.length).u16(extra).u16(0) // comment length
    .u16(0).u16(0) // disk number, internal attributes
    .u32(((mode << 16) | (e.directory ? MSDOS_DIR : 0)) >>> 0)
    .u32(e.zip64 ? MAX32 : e.offset)
    .raw(e.name);
  // ZIP64 extra in the central header: the fields that are 0xFFFFFFFF above, in this order.
  if (e.zip64) w.u16(0x0001).u16(24).u64(e.size).u64(e.size).u64(e.offset);
  return w.done();
}

/**
 * The end of the archive: [ZIP64 end record, ZIP64 locator,] end record, for `count` entries
 * whose central directory is `size` bytes at `offset`. The ZIP64 records are written when
 * `zip64` is set or a value does not fit; then every field of the classic record is its
 * "see ZIP64" value (0xFFFF, 0xFFFFFFFF), so a reader has to use the ZIP64 ones.
 */
function endRecords({ count, offset, size, zip64 = false }) {
  const need = zip64 || count >= MAX16 || offset >= MAX32 || size >= MAX32;
  const w = new Writer((need ? 56 + 20 : 0) + 22);
  if (need) {
    const at = offset + size;
    w.u32(SIG_ZIP64_END).u64(44) // size of the rest of this record
      .u16(MADE_BY_UNIX | V45).u16(V45).u32(0).u32(0) // this disk, central directory's disk
      .u64(count).u64(count).u64(size).u64(offset);
    w.u32(SIG_ZIP64_LOCATOR).u32(0).u64(at).u32(1);
  }
  w.u32(SIG_END).u16(0).u16(0)
    .u16(need ? MAX16 : count).u16(need ? MAX16 : count)
    .u32(need ? MAX32 : size).u32(need ? MAX32 : offset)
    .u16(0); // comment length
  return w.done();
}

export const _records = { localHeader, dataDescriptor, centralHeader, endRecords };

// ---------------------------------------------------------------------------------------------
// Entries.

async function* iterate(entries) {
  if (entries == null) throw new TypeError('zip: entries must be an array or an iterable');
  for await (const e of entries) yield e;
}

/** The checked, encoded form of an entry, before its data. */
function describe(entry, options) {
  if (entry == null || typeof entry !== 'object') throw new TypeError('zip: an entry must be an object');
  const directory = entry.directory === true || (typeof entry.path === 'string' && entry.path.endsWith('/'));
  const path = safePath(directory && entry.path.endsWith('/') ? entry.path.slice(0, -1) : entry.path).join('/');
  const name = encoder.encode(directory ? `${path}/` : path);
  if (name.length > MAX16) throw new RangeError(`zip: name of ${name.length} bytes is too long: ${path.slice(0, 80)}…`);
  let size = entry.size;
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
    throw new RangeError(`zip: size of ${path} must be a non-negative integer, not ${size}`);
  }
  if (directory && size) throw new RangeError(`zip: directory ${path} has a size`);
  return {
    path,
    name,
    directory,
    size: directory ? 0 : size,
    crc: 0,
    offset: 0,
    zip64: false,
    descriptor: false,
    dos: dosDateTime(entry.date ?? options.date),
  };
}

/** The entry's data as a Blob, or null when it has a stream instead (or none: a directory). */
async function entryBlob(entry, path) {
  let blob = entry.blob;
  if (typeof blob === 'function') blob = await blob.call(entry);
  if (blob === undefined || blob === null) return null;
  if (typeof blob.stream !== 'function' || typeof blob.size !== 'number') {
    throw new TypeError(`zip: blob of ${path} is not a Blob`);
  }
  return blob;
}

const asBytes = (chunk, path) => {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError(`zip: stream of ${path} yielded a ${typeof chunk}, not bytes`);
};

/** Reads `stream` to its end, calling `each(bytes)` per chunk; cancels it if `each` throws. */
async function drain(stream, path, each) {
  const reader = stream.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) { finished = true; return; }
      await each(asBytes(value, path));
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

function sizeMismatch(path, declared, actual) {
  return new Error(`zip: ${path} was declared as ${declared} bytes but has ${actual}`);
}

// ---------------------------------------------------------------------------------------------
// One pass: zipStream.

/**
 * The archive of `entries` as a stream of Uint8Array chunks, produced as it is read: memory
 * holds one chunk of data and the central directory's records (about 100 bytes per entry).
 * Options: `zip64: true` writes every entry and the end in ZIP64 form (for tests, and readers
 * that want it); `date`: the default modification time; `onProgress(bytes)`: called with the
 * archive bytes produced so far after each chunk. Cancelling the stream cancels the entry being
 * read; an entry's error (unsafe path, unreadable blob, wrong size) errors the stream.
 */
export function zipStream(entries, options = {}) {
  const chunks = coalesce(archiveChunks(entries, options));
  let produced = 0;
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await chunks.next();
      if (done) { controller.close(); return; }
      produced += value.length;
      controller.enqueue(value);
      options.onProgress?.(produced);
    },
    async cancel() {
      await chunks.return();
    },
  }, { highWaterMark: 0 });
}

/**
 * Joins chunks under 64 KiB (records, and small entries' data, copied at once) into chunks of
 * about 64 KiB, so an archive of many small files is not a stream of many tiny chunks; bigger
 * chunks pass through as they are, not copied.
 */
async function* coalesce(chunks, limit = 1 << 16) {
  let buf = null;
  let used = 0;
  const flush = () => {
    const out = buf.subarray(0, used);
    buf = null;
    used = 0;
    return out;
  };
  for await (const c of chunks) {
    if (c.length >= limit) {
      if (used) yield flush();
      yield c;
      continue;
    }
    if (buf && used + c.length > limit) yield flush();
    buf ??= new Uint8Array(limit);
    buf.set(c, used);
    used += c.length;
  }
  if (used) yield flush();
}

async function* archiveChunks(entries, options) {
  const central = [];
  let offset = 0;
  for await (const entry of iterate(entries)) {
    const e = describe(entry, options);
    e.offset = offset;
    const blob = e.directory ? null : await entryBlob(entry, e.path);
    const stream = e.directory || blob ? null : entry.stream;
    if (!e.directory && !blob && !(stream && typeof stream.getReader === 'function')) {
      throw new TypeError(`zip: entry ${e.path} has neither a blob nor a stream`);
    }
    if (blob) {
      if (e.size !== undefined && e.size !== blob.size) throw sizeMismatch(e.path, e.size, blob.size);
      e.size = blob.size;
    }
    const declared = e.size;
    e.descriptor = !e.directory;
    // Without a declared size the entry might exceed 4 GiB: ZIP64 it is.
    e.zip64 = options.zip64 === true || declared === undefined || declared >= MAX32 || offset >= MAX32;
    const header = localHeader(e);
    offset += header.length;
    yield header;
    if (!e.directory && e.size === 0 && blob) {
      const descriptor = dataDescriptor(e); // CRC 0, size 0: no need to open the Blob
      offset += descriptor.length;
      yield descriptor;
    } else if (!e.directory) {
      let crc = 0;
      let size = 0;
      const data = blob ? blobStream(blob) : stream;
      const reader = data.getReader();
      let finished = false;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) { finished = true; break; }
          const bytes = asBytes(value, e.path);
          if (bytes.length === 0) continue;
          size += bytes.length;
          if (declared !== undefined && size > declared) throw sizeMismatch(e.path, declared, `more than ${declared}`);
          crc = crc32(crc, bytes);
          offset += bytes.length;
          yield bytes;
        }
      } finally {
        if (!finished) await reader.cancel().catch(() => {});
        reader.releaseLock();
      }
      if (declared !== undefined && size !== declared) throw sizeMismatch(e.path, declared, size);
      e.crc = crc;
      e.size = size;
      const descriptor = dataDescriptor(e);
      offset += descriptor.length;
      yield descriptor;
    }
    central.push(e);
  }
  const cdOffset = offset;
  let cdSize = 0;
  for (const e of central) {
    const record = centralHeader(e);
    cdSize += record.length;
    yield record;
  }
  yield endRecords({ count: central.length, offset: cdOffset, size: cdSize, zip64: options.zip64 === true });
}

// ---------------------------------------------------------------------------------------------
// Two passes: zipBlob.

/**
 * The archive of `entries` (each with a `blob`; streams cannot be read twice) as a Blob, for
 * browsers that can download a Blob but not write a stream to a file. A first pass streams each
 * Blob once to compute its CRC-32 (`onProgress(bytes, total)` reports it); the result is then
 * `new Blob([...])` of the small header records and the entries' Blobs themselves, so the
 * archive's data is not copied (a disk-backed entry stays on disk). Options as zipStream's.
 */
export async function zipBlob(entries, options = {}) {
  const list = [];
  for await (const entry of iterate(entries)) {
    const e = describe(entry, options);
    const blob = e.directory ? null : await entryBlob(entry, e.path);
    if (!e.directory && !blob) throw new TypeError(`zip: entry ${e.path} has no blob (zipBlob cannot read a stream twice)`);
    if (blob) {
      if (e.size !== undefined && e.size !== blob.size) throw sizeMismatch(e.path, e.size, blob.size);
      e.size = blob.size;
    }
    list.push({ e, blob });
  }
  const total = list.reduce((t, { e }) => t + e.size, 0);
  let read = 0;
  for (const { e, blob } of list) {
    if (!blob || blob.size === 0) continue;
    let crc = 0;
    let size = 0;
    await drain(blobStream(blob), e.path, (bytes) => {
      crc = crc32(crc, bytes);
      size += bytes.length;
      read += bytes.length;
      options.onProgress?.(read, total);
    });
    if (size !== e.size) throw sizeMismatch(e.path, e.size, size);
    e.crc = crc;
  }
  const parts = [];
  let offset = 0;
  for (const { e, blob } of list) {
    e.offset = offset;
    e.zip64 = options.zip64 === true || e.size >= MAX32 || offset >= MAX32;
    const header = localHeader(e);
    parts.push(header);
    offset += header.length;
    if (blob && blob.size) {
      parts.push(blob);
      offset += blob.size;
    }
  }
  const cdOffset = offset;
  let cdSize = 0;
  for (const { e } of list) {
    const record = centralHeader(e);
    parts.push(record);
    cdSize += record.length;
  }
  parts.push(endRecords({ count: list.length, offset: cdOffset, size: cdSize, zip64: options.zip64 === true }));
  return new Blob(parts, { type: 'application/zip' });
}
