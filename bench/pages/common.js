// Helpers shared by the benchmark pages (served by our tracker from the repository root).

/** Deterministic pseudo-random bytes (xorshift32), the same generator as tests/e2e/harness.mjs. */
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

export async function sha256Hex(data) {
  const buf = data instanceof Blob ? await data.arrayBuffer() : data;
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Wall-clock milliseconds comparable across pages of one machine. */
export const nowMs = () => performance.timeOrigin + performance.now();

/** Page memory: JS heap (Chromium's performance.memory) plus the wasm memories we know of. */
export function memorySample(wasmMemory) {
  const heap = performance.memory ? performance.memory.usedJSHeapSize : 0;
  const wasm = wasmMemory ? wasmMemory.buffer.byteLength : 0;
  return { heap, wasm, total: heap + wasm };
}
