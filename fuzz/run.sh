#!/usr/bin/env bash
# Builds every fuzz target and runs each for a bounded time.
#   fuzz/run.sh                 20 seconds per target (what the test command runs)
#   fuzz/run.sh 600             ten minutes per target
#   FUZZ_RUNS=1000000 fuzz/run.sh   a fixed number of executions per target
#   FUZZ_PROFILE=release fuzz/run.sh 600   optimised build (default: the dev
#       profile, which builds in a fraction of the time and also checks
#       integer overflow, which a release build would let wrap silently)
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

# Seeds: valid frames of every API and version, and the record vectors.
seeds="$here/corpus"
mkdir -p "$seeds"
(cd "$root" && KAFKITE_FUZZ_SEED_DIR="$seeds" cargo test -q --lib write_fuzz_seed_corpora -- --ignored >/dev/null)
if [ -d "$root/tests/vectors/records" ]; then
  mkdir -p "$seeds/records_decoder"
  cp "$root"/tests/vectors/records/*.bin "$seeds/records_decoder/" 2>/dev/null || true
fi

for target in $targets; do
  mkdir -p "$seeds/$target"
  limit=(-max_total_time="$seconds")
  [ -n "$runs" ] && limit=(-runs="$runs")
  echo "fuzz: $target (${runs:+$runs runs}${runs:-$seconds s})" >&2
  log="$here/artifacts/$target.log"
  mkdir -p "$here/artifacts"
  if ! (cd "$here" && cargo "${toolchain[@]}" fuzz run "${sanitizer[@]}" "--$profile" --debug-assertions "$target" "$seeds/$target" -- \
        "${limit[@]}" -max_len=65536 -rss_limit_mb=2048 -malloc_limit_mb=256 -print_final_stats=1 >"$log" 2>&1); then
    tail -40 "$log" >&2
    echo "fuzz: $target FOUND A FAILURE (see fuzz/artifacts/$target)" >&2
    exit 1
  fi
  execs=$(grep -E 'stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
  echo "fuzz: $target ok, ${execs:-?} executions" >&2
done
