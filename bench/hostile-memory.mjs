// Benchmark: a hostile peer floods a leecher with blocks it never asked for, at full speed for
// 30 s (reconnecting under a new peer id each time it is dropped). Target: the leecher page's
// memory (JS heap + wasm memory, as in big-download) grows by less than 32 MiB.
// The torrent is the one from the code review: 256 MiB in 4 MiB pieces, where every kept
// unrequested block used to pin a whole 4 MiB piece buffer.
import crypto from 'node:crypto';
import { launchBrowser, benchPeer, openPeer, startTracker, printTable, writeResult, MiB, withTimeout } from './lib.mjs';

const SECONDS = Number(process.env.BENCH_HOSTILE_SECS ?? 30);
const TARGET_MIB = 32;
const LENGTH = 256 * MiB;
const PIECE = 4 * MiB;

/** Minimal bencode for the .torrent (ints, byte strings, lists, dicts with sorted keys). */
function bencode(v) {
  if (typeof v === 'number') return Buffer.from(`i${v}e`);
  if (typeof v === 'string' || Buffer.isBuffer(v)) {
    const b = Buffer.isBuffer(v) ? v : Buffer.from(v);
    return Buffer.concat([Buffer.from(`${b.length}:`), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(bencode), Buffer.from('e')]);
  const keys = Object.keys(v).sort();
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [bencode(k), bencode(v[k])]), Buffer.from('e')]);
}

const tracker = await startTracker();
const browser = await launchBrowser(['--enable-precise-memory-info']);
let row, ok = false;
try {
  // The piece hashes are random: no block can ever verify, which does not matter here.
  const info = { length: LENGTH, name: 'hostile.bin', 'piece length': PIECE, pieces: crypto.randomBytes((LENGTH / PIECE) * 20) };
  const infoHash = crypto.createHash('sha1').update(bencode(info)).digest('hex');
  const torrentFile = Array.from(bencode({ announce: tracker.announce, info }));

  const leech = await benchPeer(browser, tracker.url, 'tabswarm.html', 'flooded-leecher');
  const cdp = await leech.context().newCDPSession(leech);
  const sample = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    return leech.evaluate(() => window.tsMemory());
  };
  await leech.evaluate(async ([ann, tf]) => {
    const { Client } = await import('/pkg/tabswarm.js');
    window.client = new Client({ announce: [ann], iceServers: [] });
    const d = await window.client.add(new Uint8Array(tf));
    window.drops = [];
    d.on('warning', (e) => window.drops.push(String(e?.message ?? e)));
    window.peak = window.tsMemory().total;
    setInterval(() => { window.peak = Math.max(window.peak, window.tsMemory().total); }, 50);
  }, [tracker.announce, torrentFile]);
  await new Promise((r) => setTimeout(r, 2000));
  const base = await sample();
  await leech.evaluate((b) => { window.peak = b; }, base.total);

  const hostile = await openPeer(browser, `${tracker.url}/tests/e2e/peer-blank.html`, { name: 'flooder' });
  const flood = await withTimeout((SECONDS + 60) * 1000, 'flood', () => hostile.evaluate(async ({ announce, infoHash, seconds, pieces, pieceLen }) => {
    const R = await import('/tests/e2e/raw-peer.js');
    const ih = R.fromHex(infoHash);
    const end = performance.now() + seconds * 1000;
    const block = new Uint8Array(8 + 16384);
    crypto.getRandomValues(block.subarray(8));
    let sent = 0, connections = 0, failures = 0;
    while (performance.now() < end) {
      let p;
      try { p = await R.connectRaw(announce, infoHash, { timeoutMs: 10_000 }); } catch { failures++; continue; }
      connections++;
      let closed = false;
      p.closed.then(() => { closed = true; });
      p.send(R.handshake(ih, R.fromHex(p.peerId)));
      p.send(R.message(5, new Uint8Array(Math.ceil(pieces / 8)).fill(0xff)));
      p.send(R.message(1)); // unchoke: the leecher may request, we never answer
      const dc = p.channel;
      while (!closed && performance.now() < end) {
        if (dc.bufferedAmount > 4 << 20) { await new Promise((r) => setTimeout(r, 5)); continue; }
        const v = new DataView(block.buffer);
        v.setUint32(0, Math.floor(Math.random() * pieces));
        v.setUint32(4, Math.floor(Math.random() * (pieceLen / 16384)) * 16384);
        try { p.send(R.message(7, block)); } catch { break; }
        sent += block.length - 8;
      }
      p.close();
    }
    return { sent, connections, failures };
  }, { announce: tracker.announce, infoHash, seconds: SECONDS, pieces: LENGTH / PIECE, pieceLen: PIECE }));
  const peak = await leech.evaluate(() => window.peak);
  const after = await sample();
  const drops = await leech.evaluate(() => window.drops.filter((w) => w.includes('did not request')).length);
  const growth = (peak - base.total) / MiB;
  ok = growth < TARGET_MIB;
  row = {
    seconds: SECONDS,
    'MiB sent': (flood.sent / MiB).toFixed(1),
    connections: flood.connections,
    'dropped (unrequested)': drops,
    'base MiB': (base.total / MiB).toFixed(1),
    'peak growth MiB': growth.toFixed(1),
    'growth after GC MiB': ((after.total - base.total) / MiB).toFixed(1),
    'wasm growth MiB': ((after.wasm - base.wasm) / MiB).toFixed(1),
    [`< ${TARGET_MIB} MiB`]: ok,
  };
} catch (e) {
  row = { seconds: SECONDS, error: e.message };
} finally {
  await browser.close();
  await tracker.stop();
}
printTable(`Hostile peer flooding unrequested blocks, 256 MiB torrent, 4 MiB pieces (target: page memory growth < ${TARGET_MIB} MiB)`, [row]);
writeResult('hostile-memory', { row });
if (!ok) process.exit(1);
