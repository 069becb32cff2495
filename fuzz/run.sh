#!/usr/bin/env bash
# Fuzzes every jwtgate-core target for a bounded time and prints a summary.
#
#   fuzz/run.sh [seconds]      seconds per target (default: $FUZZ_SECONDS, else 300)
#   FUZZ_TARGETS="token jwks"  restrict to some targets
#
# Needs the nightly toolchain; installs cargo-fuzz if missing. libFuzzer grows the
# corpus in fuzz/run/corpus/<target>/ (seeded from the committed fuzz/corpus/<target>/,
# ignored by git), so the committed seeds stay small. Crash reproducers land in
# fuzz/artifacts/<target>/; replay one from the repository root with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>`.
# Exits non-zero if any target crashed (panic, sanitizer report, OOM, timeout).
set -uo pipefail

FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
cd "$FUZZ_DIR/.."
SECONDS_PER_TARGET="${1:-${FUZZ_SECONDS:-300}}"
TARGETS="${FUZZ_TARGETS:-token jwks config request}"
WORK="$FUZZ_DIR/run"

if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [ "$SECONDS_PER_TARGET" -lt 1 ]; then
  echo "usage: fuzz/run.sh [seconds]  (a positive number of seconds per target)" >&2
  exit 2
fi

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "installing the nightly toolchain (cargo-fuzz needs it)" >&2
  rustup toolchain install nightly --profile minimal || exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked || cargo install cargo-fuzz || exit 1
fi

echo "building fuzz targets (nightly, sanitizer=address)" >&2
cargo +nightly fuzz build --fuzz-dir "$FUZZ_DIR" || exit 1

mkdir -p "$WORK/logs"
declare -A EXECS CRASHED
failed=0
for t in $TARGETS; do
  corpus="$WORK/corpus/$t"
  mkdir -p "$corpus"
  # Seeds are (re)copied into the working corpus; what libFuzzer adds stays there.
  if [ -d "$FUZZ_DIR/corpus/$t" ]; then cp -n "$FUZZ_DIR/corpus/$t"/* "$corpus"/ 2>/dev/null || true; fi
  log="$WORK/logs/$t.log"
  echo "fuzzing $t for ${SECONDS_PER_TARGET}s (log: $log)" >&2
  cargo +nightly fuzz run --fuzz-dir "$FUZZ_DIR" "$t" "$corpus" -- \
    -max_total_time="$SECONDS_PER_TARGET" \
    -rss_limit_mb=1024 -malloc_limit_mb=256 -timeout=10 \
    -max_len=16384 -print_final_stats=1 >"$log" 2>&1
  rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n1)"
  [ -n "$execs" ] || execs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n1)"
  [ -n "$execs" ] || execs="$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n1)"
  EXECS[$t]="${execs:-0}"
  if [ "$rc" -ne 0 ]; then
    CRASHED[$t]=1
    failed=1
    echo "---- $t failed (exit $rc); tail of $log:" >&2
    tail -n 40 "$log" >&2
  else
    CRASHED[$t]=0
  fi
done

echo
echo "fuzz summary (${SECONDS_PER_TARGET}s per target):"
for t in $TARGETS; do
  if [ "${CRASHED[$t]}" = 1 ]; then
    echo "fuzz $t: ${EXECS[$t]} execs, CRASHED (reproducer in $FUZZ_DIR/artifacts/$t/)"
  else
    echo "fuzz $t: ${EXECS[$t]} execs, 0 crashes"
  fi
done
exit "$failed"
