// The one copy of what node (tests/e2e, bench/) and the pages it drives (bench/pages, the e2e
// peers) both need: node imports this file, and pages import it as /tests/e2e/shared.js, served
// by our tracker from the repository root. Plain browser JS, nothing from node.

/** Deterministic pseudo-random bytes (xorshift32), so a failure can be replayed from its seed. */
export function randomBytes(n, seed = 1) {
  const out = new Uint8Array(n);
  const view = new Uint32Array(out.buffer, 0, n >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < view.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    view[i] = x;
  }
  for (let i = view.length * 4; i < n; i++) out[i] = i & 255;
  return out;
}

/** Lowercase hex of bytes, and back. */
export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
export const fromHex = (hex) => Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));

/** SHA-256 of bytes or a Blob, as lowercase hex (WebCrypto: pages and node alike). */
export async function sha256Hex(data) {
  const buf = data instanceof Blob ? await data.arrayBuffer() : data;
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', buf)));
}

/**
 * Rejects with "timed out: <what>" unless `promise` settles within `ms`. `what` may be a
 * function, called when the time is up, to report the state at that moment.
 */
export function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s: ${typeof what === 'function' ? what() : what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * A WebTorrent client (npm `webtorrent`, its browser bundle) set up as every test and
 * benchmark peer uses it: no STUN servers (loopback only), no DHT, LSD or PEX, so peers come
 * from our tracker alone; client errors go to the console (where the tests collect them).
 * Pages only.
 */
export async function webtorrentClient() {
  const { default: WebTorrent } = await import('/node_modules/webtorrent/dist/webtorrent.min.js');
  const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } }, dht: false, lsd: false, utPex: false });
  client.on('error', (e) => console.error('webtorrent client error', String(e?.message ?? e)));
  return client;
}
