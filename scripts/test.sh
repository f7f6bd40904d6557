#!/usr/bin/env bash
# Runs every test: formatting and lints (native and wasm32), native unit and integration
# tests, wasm-bindgen browser tests in headless Chromium, and end-to-end tests of the page and
# peers in real headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export CHROMEDRIVER=/usr/bin/chromedriver
step() { printf '\n== %s ==\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy (native)"
cargo clippy --quiet --workspace --all-targets -- -D warnings
step "cargo clippy (wasm32)"
cargo clippy --quiet -p tabswarm -p tabswarm-core --target wasm32-unknown-unknown --all-targets -- -D warnings
step "native tests"
cargo test --quiet --workspace
step "browser tests (wasm-bindgen-test, headless Chromium)"
wasm-pack test --headless --chrome .
step "build"
bash scripts/build.sh
step "end-to-end tests (headless Chromium)"
node --test --test-concurrency=1 tests/e2e/
