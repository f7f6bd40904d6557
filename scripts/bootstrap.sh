#!/usr/bin/env bash
# Installs everything tabswarm needs on a fresh Debian machine that has rustup's Rust and
# Node.js. Idempotent: every step checks first, so a warm run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/env.sh
WASM_PACK_VERSION=0.15.1
# Must equal the wasm-bindgen version pinned in Cargo.toml: wasm-pack then uses this binary
# instead of trying to download one (downloads other than package registries fail here).
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)

say() { printf '[bootstrap] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
for comp in clippy rustfmt; do
  if ! rustup component list --installed | grep -q "^$comp"; then
    say "adding rustup component $comp"
    rustup component add "$comp"
  fi
done

if ! wasm-pack --version 2>/dev/null | grep -qF "$WASM_PACK_VERSION"; then
  say "installing wasm-pack $WASM_PACK_VERSION (cargo install, a few minutes)"
  cargo install --locked wasm-pack --version "$WASM_PACK_VERSION"
fi
if ! wasm-bindgen --version 2>/dev/null | grep -qF "$WASM_BINDGEN_VERSION"; then
  # Not --locked: its lock file pins a yanked webpki-roots that the registry no longer serves.
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (cargo install, a few minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# cargo-fuzz (scripts/fuzz.sh) needs a nightly toolchain; without one fuzzing is skipped.
if rustup toolchain list 2>/dev/null | grep -q '^nightly' && ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz (cargo install, a few minutes)"
  cargo +nightly install cargo-fuzz --locked
fi

# Browsers from Debian: Chromium with its driver, Firefox ESR (driven by geckodriver for
# wasm-pack, and over WebDriver BiDi by puppeteer-core for the end-to-end tests).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! "$GECKODRIVER" --version 2>/dev/null | grep -qF "$GECKODRIVER_VERSION"; then
  say "installing geckodriver $GECKODRIVER_VERSION (cargo install, a few minutes)"
  cargo install --locked geckodriver --version "$GECKODRIVER_VERSION"
fi

# libtorrent 2.1 (native BitTorrent with WebTorrent support) for tests/native, in a
# virtualenv at $TABSWARM_VENV (scripts/env.sh).
if ! "$TABSWARM_VENV/bin/python" -c "import libtorrent as lt; assert lt.__version__.startswith('$LIBTORRENT_VERSION')" 2>/dev/null; then
  say "making a Python virtualenv with libtorrent $LIBTORRENT_VERSION at $TABSWARM_VENV"
  rm -rf "$TABSWARM_VENV"
  python3 -m venv "$TABSWARM_VENV"
  "$TABSWARM_VENV/bin/pip" install -q --disable-pip-version-check "libtorrent==$LIBTORRENT_VERSION"
fi

# npm ci only when package-lock.json changed since the last install.
if [ ! -f node_modules/.tabswarm-lock ] || ! cmp -s package-lock.json node_modules/.tabswarm-lock; then
  say "npm ci"
  npm ci --ignore-scripts --no-audit --no-fund
  cp package-lock.json node_modules/.tabswarm-lock
fi
