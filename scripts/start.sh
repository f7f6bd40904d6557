#!/usr/bin/env bash
# Builds everything, then runs the tracker, which also serves the page, on 127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
LISTEN=${TABSWARM_LISTEN:-127.0.0.1:8080}
echo "tabswarm: open http://$LISTEN/ (tracker at ws://$LISTEN/announce); Ctrl-C stops it" >&2
exec target/release/tabswarm-tracker --listen "$LISTEN" --static-dir .
