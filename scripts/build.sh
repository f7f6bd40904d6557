#!/usr/bin/env bash
# Builds everything: the wasm package (pkg/, release, optimised with binaryen's wasm-opt from
# npm, with its npm package.json) and the tracker binary (target/release/tabswarm-tracker).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

echo "[build] wasm package (wasm-pack, profile wasm-release, --target web)" >&2
# wasm-release (Cargo.toml) optimises for size: the module is what every page downloads.
wasm-pack --quiet build --profile wasm-release --target web --out-dir pkg --no-pack . >&2
# wasm-pack's own wasm-opt is disabled in Cargo.toml (its download fails on this network);
# run binaryen from node_modules instead, for size too (-Oz). The feature flags are those rustc
# enables by default for wasm32-unknown-unknown, which every current browser supports.
node_modules/.bin/wasm-opt -Oz \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/tabswarm_bg.wasm -o pkg/tabswarm_bg.wasm
# pkg/ as a publishable npm package: package.json (from Cargo.toml) and a short README.
node scripts/pkg/package.mjs

echo "[build] tracker (cargo build --release)" >&2
cargo build --quiet --release -p tabswarm-tracker
