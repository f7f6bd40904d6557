#!/usr/bin/env bash
# Runs the benchmark suite (bench/), each comparing within one run; writes bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
for b in bench/*.bench.sh; do
  [ -e "$b" ] || continue
  printf '\n== %s ==\n' "$b" >&2
  bash "$b"
done
