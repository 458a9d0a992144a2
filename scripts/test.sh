#!/usr/bin/env bash
# Every test kafkite has, from a fresh machine: installs the real Kafka peers
# the tests run against (Apache Kafka 4.4 jars, tansu, noida-db, librdkafka's
# mock cluster, kafka-python, confluent-kafka, kcat) into .cache/, checks
# formatting, lints and docs, packages the published crates, runs the whole
# workspace's tests, and fuzzes every decoder for a short bounded time.
#
#   scripts/test.sh            everything (what CI runs)
#   FUZZ_SECONDS=0 scripts/test.sh   skip the fuzz smoke run
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

step "install peers"
scripts/peers/install.sh all

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Public items are documented (#![warn(missing_docs)] in each crate) and
# every intra-doc link resolves.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "package every published crate (a dry run, each built from its tarball)"
# cargo verifies each tarball against the others through a local registry
# under target/package, and extracts those crates into
# $CARGO_HOME/registry/src/-<hash of that path>/ -- reusing an extraction
# that is already there. An earlier run in a checkout at the same path
# would have the driver built against that run's kafkite, not this one's.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/kafkite*-0.1.0
cargo package --quiet --allow-dirty -p kafkite -p kafkite-driver -p kafkite-tokio \
  -p kafkite-smol -p kafkite-async-std -p kafkite-sim -p kafkite-cli

step "tests"
cargo test --workspace --all-targets 2>&1 | tee .cache/test.log
# --all-targets leaves doctests out: every crate's, and the README's code
# blocks (compiled through kafkite-examples), run here.
cargo test --workspace --doc 2>&1 | tee -a .cache/test.log
# cargo test stops at the first failing test binary with a non-zero exit;
# set -o pipefail carries it here.

step "quickstart (the README's first command, on the simulated cluster)"
env -u KAFKA_BOOTSTRAP cargo run --quiet --example quickstart

fuzz_seconds="${FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" != "0" ]; then
  step "fuzz smoke (${fuzz_seconds}s per target)"
  fuzz/run.sh "$fuzz_seconds"
fi

step "done"
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' .cache/test.log | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' .cache/test.log | awk '{s+=$1} END {print s+0}')
echo "${passed} passed, ${failed} failed"
