#!/usr/bin/env bash
# Fuzzes tabswarm-core with cargo-fuzz (fuzz/): scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Each target first replays its committed seeds and regressions (fuzz/corpus/<target>), then
# mutates for SECONDS (default 60) from a working corpus in fuzz/target/corpus/<target> that
# persists between runs. A crash fails the run and leaves its input in fuzz/artifacts/<target>/;
# copy it into fuzz/corpus/<target>/ once fixed, so it is replayed from then on.
# Needs a nightly toolchain; without one it says so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
cd fuzz

secs="${1:-60}"
shift || true
all=(bencode metainfo magnet wire ext tracker engine)
targets=("${@:-${all[@]}}")

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz: SKIPPED, no nightly toolchain (rustup toolchain install nightly to enable)"
  exit 0
fi

# `cargo fuzz build` takes one target or none (all of them).
one=()
((${#targets[@]} == 1)) && one=("${targets[0]}")
cargo +nightly fuzz build -O "${one[@]}" 2>&1 | grep -Ev '^\s*(Compiling|Finished)' || true
# FUZZ_LOGS: where the logs go (a long run beside `npm test` needs its own).
logs="${FUZZ_LOGS:-target/logs}"
mkdir -p "$logs"
failed=()
for t in "${targets[@]}"; do
  work="target/corpus/$t"
  mkdir -p "$work" "corpus/$t"
  log="$logs/$t.log"
  extra=()
  # The engine target's input is a script of peer actions: longer scripts reach deeper states,
  # so it starts at its full length instead of growing slowly from a few bytes.
  [ "$t" = engine ] && extra=(-max_len=2048 -len_control=0)
  # -rss_limit_mb: a target whose memory grows without bound fails instead of paging.
  if cargo +nightly fuzz run -O "$t" "$work" "corpus/$t" -- \
      -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=1536 -timeout=20 "${extra[@]}" >"$log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || echo 'cov: ?')
    echo "fuzz $t: ok, ${secs}s, $execs execs, $cov, corpus $(ls "$work" | wc -l)"
  else
    echo "fuzz $t: FAILED (log: fuzz/$log)"
    grep -E -A6 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -20
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in ${failed[*]}; inputs in fuzz/artifacts/"
  exit 1
fi
