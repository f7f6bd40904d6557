#!/usr/bin/env bash
# Tracker benchmark: our tabswarm-tracker against npm bittorrent-tracker 11.2.3 under the same
# load from tabswarm-loadgen, at 1 000 and 10 000 connections (loopback only, bounded in time).
# Builds the release binaries, then bench/tracker.mjs runs everything, prints a table and
# writes bench/results/tracker.json. Settings: see the top of bench/tracker.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p tabswarm-tracker --bins
exec node bench/tracker.mjs "$@"
