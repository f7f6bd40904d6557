#!/usr/bin/env bash
# Runs crates/core's unit tests on wasm32-unknown-unknown, in Node, through
# wasm-bindgen-test-runner: `usize` is 32 bits there, so overflows that 64-bit native tests
# cannot see panic (debug build). Each test module imports `wasm_bindgen_test as test` on wasm32.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
cargo test -p tabswarm-core --lib --target wasm32-unknown-unknown "$@"
