#!/usr/bin/env bash
# Runs every test: formatting and lints (native and wasm32), native unit and integration
# tests, core's unit tests on wasm32 (Node), wasm-bindgen browser tests in headless Chromium
# and Firefox, end-to-end tests of the page and peers in both browsers and across them, and
# interop with libtorrent 2.1 native peers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source scripts/env.sh
# Each step's start is stamped with the seconds since the run began (SECONDS), so a slow
# step shows in the log.
step() { printf '\n== [%4ds] %s ==\n' "$SECONDS" "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check
step "core's module graph has no cycle"
python3 scripts/mod_graph.py crates/core/src >/dev/null || python3 scripts/mod_graph.py crates/core/src
step "cargo clippy (native)"
cargo clippy --quiet --workspace --all-targets -- -D warnings
step "cargo clippy (wasm32)"
cargo clippy --quiet -p tabswarm -p tabswarm-core --target wasm32-unknown-unknown --all-targets -- -D warnings
step "native tests"
cargo test --quiet --workspace
step "core unit tests on wasm32 (32-bit usize, in Node)"
bash scripts/test-core-wasm.sh
step "fuzzing, 20 s per target (npm run fuzz -- SECONDS for longer)"
bash scripts/fuzz.sh 20
step "build"
bash scripts/build.sh
step "browser tests (wasm-bindgen-test, headless Chromium and Firefox, against our tracker)"
# The tracker-client tests need a running tracker: ours, on a free loopback port.
log=$(mktemp)
target/release/tabswarm-tracker --listen 127.0.0.1:0 --static-dir . >"$log" 2>&1 &
tracker_pid=$!
trap 'kill $tracker_pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
[ -n "$port" ] || { cat "$log"; echo "tracker did not start" >&2; exit 1; }
# The default per-test limit (20 s) is too tight for the 24 MiB transfer tests on a loaded
# 2-core machine.
export WASM_BINDGEN_TEST_TIMEOUT=180 TABSWARM_TRACKER_URL="ws://127.0.0.1:$port/announce"
wasm-pack test --headless --chrome .
# Firefox's preferences are in webdriver.json; without --geckodriver wasm-pack downloads one.
wasm-pack test --headless --firefox --geckodriver "$GECKODRIVER" .
kill $tracker_pid
step "unit tests of the page's modules (node)"
node --test tests/unit/
step "end-to-end tests (headless Chromium; cross-browser swarms with Firefox)"
node --test --test-concurrency=1 tests/e2e/
step "end-to-end tests of the peer in Firefox"
# The tests that drive peers through the JS API alone; the page's tests use Playwright's page
# API and run in Chromium.
E2E_BROWSER=firefox node --test --test-concurrency=1 \
  tests/e2e/peer-swarm.test.mjs tests/e2e/peer-webtorrent.test.mjs tests/e2e/peer-hostile.test.mjs \
  tests/e2e/api-events.test.mjs
step "interop with libtorrent $LIBTORRENT_VERSION (native peers over WebRTC)"
node --test --test-concurrency=1 tests/native/
step "all tests passed"
