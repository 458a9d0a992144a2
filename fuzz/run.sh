#!/usr/bin/env bash
# Builds every fuzz target and runs each for a bounded time.
#   fuzz/run.sh                 20 seconds per target (what the test command runs)
#   fuzz/run.sh 600             ten minutes per target
#   FUZZ_RUNS=1000000 fuzz/run.sh   a fixed number of executions per target
#   FUZZ_PROFILE=release fuzz/run.sh 600   optimised build (default: the dev
#       profile, which is quicker to build). Both profiles are
#       built with --debug-assertions, which also turns on overflow checks,
#       so integer overflow panics in either.
# Uses a nightly toolchain with AddressSanitizer when one is installed, and
# stable with RUSTC_BOOTSTRAP=1 and no sanitizer otherwise.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
seconds="${1:-20}"
runs="${FUZZ_RUNS:-}"
profile="${FUZZ_PROFILE:-dev}"

if ! cargo fuzz --help >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --quiet
fi

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
  sanitizer=(--sanitizer address)
  export -n RUSTC_BOOTSTRAP 2>/dev/null || true
else
  toolchain=()
  sanitizer=(--sanitizer none)
  export RUSTC_BOOTSTRAP=1
fi

targets=$(cd "$here" && cargo "${toolchain[@]}" fuzz list)

# Seeds: valid frames of every API and version, the consumer protocol's
# subscriptions and assignments, and the record vectors.
seeds="$here/corpus"
mkdir -p "$seeds"
(cd "$root" && KAFKITE_FUZZ_SEED_DIR="$seeds" cargo test -q --lib write_fuzz_seed_corpora -- --ignored >/dev/null)
if [ -d "$root/tests/vectors/records" ]; then
  mkdir -p "$seeds/records_decoder"
  cp "$root"/tests/vectors/records/*.bin "$seeds/records_decoder/" 2>/dev/null || true
fi
# Committed seeds (fuzz/seeds/<target>/, e.g. fetch_path's scripts).
for dir in "$here"/seeds/*/; do
  [ -d "$dir" ] || continue
  mkdir -p "$seeds/$(basename "$dir")"
  cp "$dir"* "$seeds/$(basename "$dir")/" 2>/dev/null || true
done

status=0
for target in $targets; do
  mkdir -p "$seeds/$target"
  limit=(-max_total_time="$seconds")
  label="$seconds s"
  if [ -n "$runs" ]; then
    limit=(-runs="$runs")
    label="$runs runs"
  fi
  # libFuzzer cuts every input, seeds included, to -max_len: keep it at least
  # as large as the largest seed (the uncompressed record vectors are ~70 KB,
  # and v2-none.bin cut to 64 KiB would be one truncated batch, no records).
  # consumer_protocol's inputs are one member's metadata, whole_client's a
  # schedule of up to 3,000 steps: a few KB is plenty, and longer ones only
  # run slower.
  case "$target" in
    consumer_protocol | whole_client) max_len=4096 ;;
    *) max_len=65536 ;;
  esac
  largest=$(find "$seeds/$target" -type f -printf '%s\n' | sort -n | tail -1)
  [ "${largest:-0}" -gt "$max_len" ] && max_len="$largest"
  log="$here/artifacts/$target.log"
  mkdir -p "$here/artifacts"
  flags=("${sanitizer[@]}" "--$profile" --debug-assertions)
  # Build first, so that a build failure (for instance a half-edited file
  # elsewhere in the crate) is not reported as a fuzzing finding.
  if ! (cd "$here" && cargo "${toolchain[@]}" fuzz build "${flags[@]}" "$target" >"$log" 2>&1); then
    tail -40 "$log" >&2
    echo "fuzz: $target DOES NOT BUILD (not a finding; see $log)" >&2
    exit 2
  fi
  echo "fuzz: $target ($label)" >&2
  started=$(date +%s)
  if ! (cd "$here" && cargo "${toolchain[@]}" fuzz run "${flags[@]}" "$target" "$seeds/$target" -- \
        "${limit[@]}" -max_len="$max_len" -rss_limit_mb=2048 -malloc_limit_mb=256 -print_final_stats=1 >>"$log" 2>&1); then
    tail -40 "$log" >&2
    echo "fuzz: $target FOUND A FAILURE (see fuzz/artifacts/$target and $log)" >&2
    status=1
    continue
  fi
  elapsed=$(( $(date +%s) - started ))
  execs=$(grep -E 'stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
  rate=$(grep -E 'stat::average_exec_per_sec' "$log" | awk '{print $2}' | tail -1)
  echo "fuzz: $target ok, ${execs:-?} executions in ${elapsed} s (${rate:-?} exec/s)" >&2
done
exit "$status"
