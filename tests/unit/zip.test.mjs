// www/zip.js, checked by real unzippers: python3's zipfile and (when installed) Info-ZIP's
// unzip read the archives it writes, including the ZIP64 forms. Run: node --test tests/unit/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { zipStream, zipBlob, blobStream, crc32, safePath, safeName, dosDateTime, _records } from '../../www/zip.js';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'tabswarm-zip-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));
const HAVE_UNZIP = (() => { try { execFileSync('which', ['unzip'], { stdio: 'ignore' }); return true; } catch { return false; } })();

/** Deterministic bytes (a different stream per seed). */
function bytes(n, seed) {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; out[i] = x & 255; }
  return out;
}
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

/** Writes the archive stream to a file (chunk by chunk) and returns its path. */
async function writeStream(stream, name) {
  const file = path.join(TMP, name);
  const fd = fs.openSync(file, 'w');
  try { for await (const chunk of stream) fs.writeSync(fd, chunk); } finally { fs.closeSync(fd); }
  return file;
}
async function writeBlob(blob, name) {
  return writeStream(blob.stream(), name);
}

/**
 * What python3's zipfile makes of the archive: testzip() (the name of the first entry whose CRC
 * fails, or null), and per entry its name, size, flags, method, whether it carries a ZIP64 extra
 * field, and the SHA-256 of its bytes as zipfile reads them. Also the classic end record's
 * fields and whether a ZIP64 end record and locator precede it.
 */
function pyInspect(file, { hash = true } = {}) {
  const script = String.raw`
import hashlib, json, struct, sys, zipfile
path, hash_ = sys.argv[1], sys.argv[2] == '1'
with zipfile.ZipFile(path) as z:
    bad = z.testzip()
    entries = []
    for i in z.infolist():
        e = {'name': i.filename, 'size': i.file_size, 'csize': i.compress_size, 'flags': i.flag_bits,
             'method': i.compress_type, 'crc': i.CRC, 'offset': i.header_offset, 'dir': i.is_dir(),
             'zip64extra': any(struct.unpack('<H', i.extra[k:k+2])[0] == 1 for k in range(0, len(i.extra) - 3, 4)) if i.extra else False}
        if hash_ and not i.is_dir():
            h = hashlib.sha256()
            with z.open(i) as f:
                while True:
                    b = f.read(1 << 20)
                    if not b: break
                    h.update(b)
            e['sha256'] = h.hexdigest()
        entries.append(e)
with open(path, 'rb') as f:
    f.seek(0, 2); n = f.tell(); f.seek(max(0, n - 22 - 20 - 56)); tail = f.read()
end = tail[-22:]
sig, _, _, count_disk, count, cd_size, cd_offset, _ = struct.unpack('<IHHHHIIH', end)
loc = tail[-42:-22] if len(tail) >= 42 else b''
z64 = len(loc) == 20 and struct.unpack('<I', loc[:4])[0] == 0x07064b50
rec = None
if z64:
    at = struct.unpack('<Q', loc[8:16])[0]
    with open(path, 'rb') as f:
        f.seek(at); r = f.read(56)
    s, _, _, _, _, _, n1, n2, sz, off = struct.unpack('<IQHHIIQQQQ', r)
    rec = {'sig': s, 'count': n1, 'size': sz, 'offset': off}
print(json.dumps({'bad': bad, 'entries': entries, 'end': {'sig': sig, 'count': count, 'cdSize': cd_size, 'cdOffset': cd_offset}, 'zip64End': rec}))
`;
  return JSON.parse(execFileSync('python3', ['-c', script, file, hash ? '1' : '0'], { maxBuffer: 1 << 28 }));
}

/** Info-ZIP's unzip -t (CRC test of every entry); returns its output, throws if it fails. */
function unzipTest(file) {
  return execFileSync('unzip', ['-tq', file], { encoding: 'utf8' });
}

const DATA = {
  'top.bin': bytes(300_001, 1),
  'a/b/c/nested.dat': bytes(70_000, 2),
  'a/empty.txt': new Uint8Array(0),
  'Ünïcødé 日本語/файл ✓.txt': new TextEncoder().encode('grüße\n'),
  'a/b/streamed.bin': bytes(123_457, 3),
};
const FIXED_DATE = new Date(2024, 1, 29, 13, 37, 42);

/** The DATA entries: Blobs (one given as a function returning a promise), a stream, a directory. */
function sampleEntries({ withStream = true } = {}) {
  const list = [];
  for (const [p, b] of Object.entries(DATA)) {
    if (p === 'a/b/streamed.bin') {
      if (withStream) list.push({ path: p, size: b.length, stream: new Blob([b]).stream() });
      else list.push({ path: p, blob: async () => new Blob([b]) });
    } else {
      list.push({ path: p, blob: new Blob([b]) });
    }
  }
  list.push({ path: 'an empty dir/' });
  return list;
}

function checkSample(info, { descriptor }) {
  assert.equal(info.bad, null, 'testzip found a bad CRC');
  const names = info.entries.map((e) => e.name);
  assert.deepEqual(names, [...Object.keys(DATA), 'an empty dir/']);
  for (const e of info.entries) {
    assert.equal(e.method, 0, `${e.name} stored`);
    assert.ok(e.flags & 0x800, `${e.name} has the UTF-8 flag`);
    if (e.dir) {
      assert.equal(e.size, 0);
      continue;
    }
    assert.equal(Boolean(e.flags & 0x8), descriptor, `${e.name} data descriptor flag`);
    const want = DATA[e.name];
    assert.equal(e.size, want.length, `${e.name} size`);
    assert.equal(e.csize, want.length, `${e.name} stored size`);
    assert.equal(e.crc, zlib.crc32(want), `${e.name} CRC`);
    assert.equal(e.sha256, sha256(want), `${e.name} bytes`);
  }
}

/** Extracts with Info-ZIP's unzip and compares the tree and bytes with DATA. */
function checkExtracted(file) {
  const dir = fs.mkdtempSync(path.join(TMP, 'x-'));
  execFileSync('unzip', ['-q', file, '-d', dir]);
  for (const [p, b] of Object.entries(DATA)) {
    assert.equal(sha256(fs.readFileSync(path.join(dir, p))), sha256(b), `extracted ${p}`);
  }
  assert.ok(fs.statSync(path.join(dir, 'an empty dir')).isDirectory());
  const count = (d) => fs.readdirSync(d, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? count(path.join(d, e.name)) : 1), 0);
  assert.equal(count(dir), Object.keys(DATA).length, 'no extra files');
}

test('crc32 agrees with zlib on every length, alignment and split', () => {
  const b = bytes(4099, 7);
  for (const off of [0, 1, 2, 3, 5, 8]) {
    for (const len of [0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4000]) {
      const s = b.subarray(off, off + len);
      assert.equal(crc32(0, s), zlib.crc32(s), `offset ${off} length ${len}`);
    }
  }
  for (const cut of [0, 1, 5, 8, 1234, 4099]) {
    assert.equal(crc32(crc32(0, b.subarray(0, cut)), b.subarray(cut)), zlib.crc32(b), `split at ${cut}`);
  }
  assert.equal(crc32(0, new TextEncoder().encode('123456789')), 0xcbf43926); // the check value
});

test('blobStream reads a Blob slice by slice: same bytes, cancellable', async () => {
  const b = bytes(1_000_003, 4);
  const blob = new Blob([b]);
  for (const slice of [999, 65_536, 1_000_003, 4 << 20]) {
    const got = new Uint8Array(await new Response(blobStream(blob, slice)).arrayBuffer());
    assert.equal(sha256(got), sha256(b), `slices of ${slice}`);
  }
  // Slices of one byte (a Blob read per byte: a small one).
  const small = b.subarray(0, 3001);
  const got = new Uint8Array(await new Response(blobStream(new Blob([small]), 1)).arrayBuffer());
  assert.equal(sha256(got), sha256(small), 'slices of 1');
  assert.equal((await new Response(blobStream(new Blob([]), 10)).arrayBuffer()).byteLength, 0);
  const reader = blobStream(blob, 1000).getReader();
  const first = await reader.read();
  assert.ok(first.value.length <= 1000);
  await reader.cancel();
  assert.equal((await reader.read()).done, true);
});

test('safePath accepts relative paths and refuses what could escape or that a file system refuses', () => {
  assert.deepEqual(safePath('a'), ['a']);
  assert.deepEqual(safePath('dir/sub/file name.txt'), ['dir', 'sub', 'file name.txt']);
  assert.deepEqual(safePath('日本/..hidden/a..b/...'), ['日本', '..hidden', 'a..b', '...']);
  for (const bad of ['', '/etc/passwd', '/', 'a//b', 'a/', '/a', '..', 'a/../b', '../a', 'a/..',
    '.', './a', 'a/./b', 'a\\b', '..\\..\\x', 'C:', 'c:/windows', 'a\0b', 'nul\0', null, undefined, 7]) {
    assert.throws(() => safePath(bad), (e) => e instanceof TypeError && e.code === 'ERR_UNSAFE_PATH', JSON.stringify(bad));
  }
  assert.equal(safeName('Film (2024)'), 'Film (2024)');
  assert.throws(() => safeName('a/b'), { code: 'ERR_UNSAFE_PATH' });
  assert.throws(() => safeName('..'), { code: 'ERR_UNSAFE_PATH' });
});

test('zipStream: nested paths, an empty file, non-ASCII names, a stream and a directory, read back by zipfile and unzip', async () => {
  let progress = 0;
  const file = await writeStream(zipStream(sampleEntries(), { date: FIXED_DATE, onProgress: (n) => { progress = n; } }), 'stream.zip');
  assert.equal(progress, fs.statSync(file).size, 'onProgress ends at the archive size');
  const info = pyInspect(file);
  checkSample(info, { descriptor: true });
  assert.equal(info.zip64End, null, 'small archive: no ZIP64 end record');
  assert.ok(info.entries.every((e) => !e.zip64extra), 'small archive: no ZIP64 extra fields');
  assert.equal(info.end.count, 6);
  if (HAVE_UNZIP) {
    const out = unzipTest(file);
    assert.match(out, /No errors detected/);
    checkExtracted(file);
  }
});

test('zipStream accepts an async iterable, and stores the modification time', async () => {
  async function* gen() { for (const e of sampleEntries()) { await new Promise((r) => setTimeout(r, 1)); yield e; } }
  const file = await writeStream(zipStream(gen(), { date: FIXED_DATE }), 'async.zip');
  checkSample(pyInspect(file), { descriptor: true });
  const out = execFileSync('python3', ['-c', 'import zipfile,sys; print(zipfile.ZipFile(sys.argv[1]).infolist()[0].date_time)', file], { encoding: 'utf8' });
  assert.equal(out.trim(), '(2024, 2, 29, 13, 37, 42)');
  assert.deepEqual(dosDateTime(new Date(1970, 0, 1)), { date: 33, time: 0 }); // 1980-01-01
});

test('zipBlob: the same archive from two passes, with the CRC in the local headers and the data by reference', async () => {
  let last = null;
  const blob = await zipBlob(sampleEntries({ withStream: false }), { date: FIXED_DATE, onProgress: (n, total) => { last = [n, total]; } });
  const dataBytes = Object.values(DATA).reduce((t, b) => t + b.length, 0);
  assert.deepEqual(last, [dataBytes, dataBytes]);
  assert.equal(blob.type, 'application/zip');
  const file = await writeBlob(blob, 'blob.zip');
  checkSample(pyInspect(file), { descriptor: false });
  if (HAVE_UNZIP) {
    assert.match(unzipTest(file), /No errors detected/);
    checkExtracted(file);
  }
  await assert.rejects(zipBlob([{ path: 'x', stream: new Blob(['x']).stream() }]), /has no blob/);
});

for (const kind of ['zipStream', 'zipBlob']) {
  test(`${kind} with zip64: true writes ZIP64 extra fields and end records, and readers use them`, async () => {
    const entries = sampleEntries({ withStream: kind === 'zipStream' });
    const file = kind === 'zipStream'
      ? await writeStream(zipStream(entries, { zip64: true }), 'forced64-stream.zip')
      : await writeBlob(await zipBlob(entries, { zip64: true }), 'forced64-blob.zip');
    const info = pyInspect(file);
    checkSample(info, { descriptor: kind === 'zipStream' });
    // Every file entry's sizes and offset are 0xFFFFFFFF in its central record, the real ones in
    // its ZIP64 extra field; zipfile read the right sizes and bytes, so it used them.
    assert.ok(info.entries.filter((e) => !e.dir).every((e) => e.zip64extra), 'ZIP64 extra on every entry');
    // The classic end record says "see ZIP64" in every field ...
    assert.deepEqual(info.end, { sig: 0x06054b50, count: 0xffff, cdSize: 0xffffffff, cdOffset: 0xffffffff });
    // ... and the ZIP64 end record holds the real values.
    assert.equal(info.zip64End.sig, 0x06064b50);
    assert.equal(info.zip64End.count, 6);
    const size = fs.statSync(file).size;
    assert.equal(info.zip64End.offset + info.zip64End.size + 56 + 20 + 22, size);
    // The offsets zipfile read from the extra fields point at local headers.
    const raw = fs.readFileSync(file);
    for (const e of info.entries) assert.equal(raw.readUInt32LE(e.offset), 0x04034b50, `${e.name} at ${e.offset}`);
    if (HAVE_UNZIP) {
      assert.match(unzipTest(file), /No errors detected/);
      checkExtracted(file);
    }
  });
}

test('more than 65535 entries: the count goes to the ZIP64 end record', async () => {
  const N = 70_000;
  async function* many() { for (let i = 0; i < N; i++) yield { path: `d${i % 7}/f${i}`, blob: new Blob(i % 1000 ? [] : [`#${i}`]) }; }
  const file = await writeStream(zipStream(many()), 'many.zip');
  const info = pyInspect(file, { hash: false });
  assert.equal(info.bad, null);
  assert.equal(info.entries.length, N);
  assert.equal(info.entries[N - 1].name, `d${(N - 1) % 7}/f${N - 1}`);
  assert.equal(info.entries[3000].size, '#3000'.length);
  assert.equal(info.end.count, 0xffff);
  assert.equal(info.zip64End.count, N);
  assert.ok(info.entries.every((e) => !e.zip64extra), 'entries themselves fit 32 bits');
  if (HAVE_UNZIP) assert.match(unzipTest(file), /No errors detected/);
});

test('record encoders put sizes and offsets beyond 4 GiB in ZIP64 fields', () => {
  const { localHeader, centralHeader, dataDescriptor, endRecords } = _records;
  const name = new TextEncoder().encode('big/файл.mkv');
  const e = { name, directory: false, size: 5 * 2 ** 30 + 3, crc: 0xdeadbeef, offset: 2 ** 33 + 17, zip64: true, descriptor: true, dos: dosDateTime(FIXED_DATE) };
  const dv = (b) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const lh = dv(localHeader(e));
  assert.equal(lh.getUint32(0, true), 0x04034b50);
  assert.equal(lh.getUint16(4, true), 45);
  assert.equal(lh.getUint16(6, true), 0x0808);
  assert.equal(lh.getUint32(14, true), 0, 'CRC after the data');
  assert.equal(lh.getUint32(18, true), 0xffffffff);
  assert.equal(lh.getUint32(22, true), 0xffffffff);
  assert.equal(lh.getUint16(26, true), name.length);
  assert.equal(lh.getUint16(28, true), 20);
  assert.equal(lh.getUint16(30 + name.length, true), 1, 'ZIP64 extra id');
  assert.equal(lh.getUint16(32 + name.length, true), 16);
  const dd = dv(dataDescriptor(e));
  assert.equal(dd.byteLength, 24);
  assert.equal(dd.getUint32(4, true), 0xdeadbeef);
  assert.equal(dd.getBigUint64(8, true), BigInt(e.size));
  assert.equal(dd.getBigUint64(16, true), BigInt(e.size));
  const ch = dv(centralHeader(e));
  assert.equal(ch.getUint32(0, true), 0x02014b50);
  assert.equal(ch.getUint32(16, true), 0xdeadbeef);
  assert.equal(ch.getUint32(20, true), 0xffffffff);
  assert.equal(ch.getUint32(24, true), 0xffffffff);
  assert.equal(ch.getUint32(42, true), 0xffffffff, 'offset in the extra field');
  const x = 46 + name.length;
  assert.equal(ch.getUint16(x, true), 1);
  assert.equal(ch.getUint16(x + 2, true), 24);
  assert.equal(ch.getBigUint64(x + 4, true), BigInt(e.size));
  assert.equal(ch.getBigUint64(x + 12, true), BigInt(e.size));
  assert.equal(ch.getBigUint64(x + 20, true), BigInt(e.offset));
  // A small entry: classic fields, no extra.
  const small = dv(centralHeader({ ...e, size: 10, offset: 99, zip64: false }));
  assert.equal(small.byteLength, 46 + name.length);
  assert.equal(small.getUint32(20, true), 10);
  assert.equal(small.getUint32(42, true), 99);
  // The end: a central directory past 4 GiB needs the ZIP64 records.
  const end = dv(endRecords({ count: 3, offset: 2 ** 32 + 5, size: 300 }));
  assert.equal(end.byteLength, 56 + 20 + 22);
  assert.equal(end.getUint32(0, true), 0x06064b50);
  assert.equal(end.getBigUint64(24, true), 3n);
  assert.equal(end.getBigUint64(32, true), 3n);
  assert.equal(end.getBigUint64(40, true), 300n);
  assert.equal(end.getBigUint64(48, true), BigInt(2 ** 32 + 5));
  assert.equal(end.getUint32(56, true), 0x07064b50);
  assert.equal(end.getBigUint64(64, true), BigInt(2 ** 32 + 305), 'locator points at the ZIP64 end record');
  assert.equal(end.getUint32(76, true), 0x06054b50);
  assert.equal(end.getUint32(92, true), 0xffffffff);
  const classic = dv(endRecords({ count: 3, offset: 1000, size: 300 }));
  assert.equal(classic.byteLength, 22);
  assert.equal(classic.getUint16(10, true), 3);
  assert.equal(classic.getUint32(16, true), 1000);
});

// Streams (and CRCs) 4 GiB: about a minute on a loaded 2-core machine, so only on request.
const HUGE = process.env.ZIP_HUGE === '1';
test('a file over 4 GiB (streamed zeros, written as a sparse file) is read back by zipfile (ZIP_HUGE=1)', { timeout: 600_000, skip: !HUGE && 'set ZIP_HUGE=1 to stream 4 GiB' }, async () => {
  const MiB = 1 << 20;
  const zeros = new Uint8Array(MiB);
  const big = 4 * 1024 * MiB + 5 * MiB + 321; // past 0xFFFFFFFF
  let left = big;
  const source = new ReadableStream({
    pull(c) {
      if (left === 0) { c.close(); return; }
      const n = Math.min(left, MiB);
      left -= n;
      c.enqueue(n === MiB ? zeros : new Uint8Array(n));
    },
  });
  const tail = bytes(1000, 9);
  const entries = [
    { path: 'small-before.bin', blob: new Blob([tail]) },
    { path: 'huge/zeros.bin', size: big, stream: source },
    { path: 'small-after.bin', blob: new Blob([tail]) }, // its local header is past 4 GiB
  ];
  // The whole-MiB zero chunks (the very object `zeros`, passed through) become holes.
  const file = path.join(TMP, 'huge.zip');
  const fd = fs.openSync(file, 'w');
  let at = 0;
  for await (const chunk of zipStream(entries)) {
    if (chunk !== zeros) fs.writeSync(fd, chunk, 0, chunk.length, at);
    at += chunk.length;
  }
  fs.ftruncateSync(fd, at);
  fs.closeSync(fd);
  assert.ok(at > 2 ** 32);
  const info = pyInspect(file, { hash: false });
  assert.equal(info.bad, null, 'CRC of every entry, the 4 GiB one included');
  assert.deepEqual(info.entries.map((e) => [e.name, e.size, e.zip64extra]), [
    ['small-before.bin', 1000, false],
    ['huge/zeros.bin', big, true],
    ['small-after.bin', 1000, true],
  ]);
  assert.ok(info.entries[2].offset > 2 ** 32);
  assert.equal(info.zip64End.count, 3, 'central directory past 4 GiB: ZIP64 end record');
  assert.ok(info.zip64End.offset > 2 ** 32);
  const out = execFileSync('python3', ['-c', 'import zipfile,sys; print(zipfile.ZipFile(sys.argv[1]).read("small-after.bin").hex())', file], { encoding: 'utf8' });
  assert.equal(out.trim(), Buffer.from(tail).toString('hex'));
  if (HAVE_UNZIP) assert.match(unzipTest(file), /No errors detected/);
});

test('errors: unsafe paths, wrong sizes, missing data; cancelling stops the source', async () => {
  const read = (s) => new Response(s).arrayBuffer();
  await assert.rejects(read(zipStream([{ path: '../evil', blob: new Blob(['x']) }])), { code: 'ERR_UNSAFE_PATH' });
  await assert.rejects(read(zipStream([{ path: 'ok', blob: new Blob(['x']) }, { path: '/abs', blob: new Blob(['x']) }])), { code: 'ERR_UNSAFE_PATH' });
  await assert.rejects(read(zipStream([{ path: 'a', size: 5, stream: new Blob(['abc']).stream() }])), /declared as 5 bytes but has 3/);
  await assert.rejects(read(zipStream([{ path: 'a', size: 2, stream: new Blob(['abc']).stream() }])), /declared as 2 bytes/);
  await assert.rejects(read(zipStream([{ path: 'a', size: 2, blob: new Blob(['abc']) }])), /declared as 2 bytes but has 3/);
  await assert.rejects(read(zipStream([{ path: 'a' }])), /neither a blob nor a stream/);
  await assert.rejects(read(zipStream([{ path: 'a', stream: new Blob(['x']).stream() }, { path: 'b', blob: 'nope' }])), /not a Blob/);
  // No size given: written as ZIP64, whatever the size.
  const file = await writeStream(zipStream([{ path: 'unsized', stream: new Blob(['abc']).stream() }]), 'unsized.zip');
  const info = pyInspect(file);
  assert.deepEqual(info.entries.map((e) => [e.name, e.size, e.zip64extra]), [['unsized', 3, true]]);
  // Cancelling the archive cancels the entry's stream.
  let cancelled = null;
  const endless = new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(1024)); }, cancel(r) { cancelled = r ?? 'cancelled'; } });
  const reader = zipStream([{ path: 'endless', stream: endless }]).getReader();
  for (let i = 0; i < 5; i++) await reader.read();
  await reader.cancel('stop');
  assert.ok(cancelled, 'source stream cancelled');
});
