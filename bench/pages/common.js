// Timing and memory helpers of the benchmark pages (served by our tracker from the repository
// root); data and hashing come from /tests/e2e/shared.js, shared with the tests.

/** Wall-clock milliseconds comparable across pages of one machine. */
export const nowMs = () => performance.timeOrigin + performance.now();

/** Page memory: JS heap (Chromium's performance.memory) plus the wasm memories we know of. */
export function memorySample(wasmMemory) {
  const heap = performance.memory ? performance.memory.usedJSHeapSize : 0;
  const wasm = wasmMemory ? wasmMemory.buffer.byteLength : 0;
  return { heap, wasm, total: heap + wasm };
}
