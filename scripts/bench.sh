#!/usr/bin/env bash
# Runs the benchmark suite (bench/). Each benchmark compares within one run (this machine's
# absolute speed drifts), prints a table and writes JSON under bench/results/.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh || exit 1
failed=()
run() {
  printf '\n== bench: %s ==\n' "$*" >&2
  "$@" || failed+=("$*")
}
run node bench/bundle-size.mjs
run node bench/throughput.mjs
run node bench/seeding.mjs
run node bench/big-download.mjs
run node bench/swarm.mjs
run node bench/hostile-memory.mjs
run cargo run --quiet --release -p tabswarm-sim -- report --out bench/results
run bash bench/tracker.sh
if [ ${#failed[@]} -gt 0 ]; then
  printf '\nbenchmarks that failed to run:\n' >&2
  printf ' - %s\n' "${failed[@]}" >&2
  exit 1
fi
