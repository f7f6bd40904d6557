// The page only wires the DOM to the Client API of the wasm package.
import init, { version, sha1Hex } from '/pkg/tabswarm.js';

const status = document.getElementById('status');
try {
  await init();
  const ok = sha1Hex(new TextEncoder().encode('abc')) === 'a9993e364706816aba3e25717850c26c9cd0d89d';
  status.textContent = `tabswarm ${version()}: wasm module loaded${ok ? '' : ' (self-check failed)'}`;
  status.dataset.wasm = ok ? 'loaded' : 'broken';
} catch (e) {
  status.textContent = `Could not load the wasm module: ${e}`;
  status.dataset.wasm = 'error';
}
