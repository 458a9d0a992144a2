#!/usr/bin/env bash
# End-to-end producer and consumer benchmark: kafkite against librdkafka
# (kcat), the Java client (ProducerPerformance / ConsumerPerformance) and
# rskafka, each on a fresh Kafka 4.4 and a fresh tansu broker. See
# benches/e2e/README.md.
#
#   scripts/bench-e2e.sh                      # 1,000,000 x 100 B, 3 partitions, acks=1
#   scripts/bench-e2e.sh --mode consume       # read 1,000,000 x 100 B loaded beforehand
#   scripts/bench-e2e.sh --records 100000     # quick
#   scripts/bench-e2e.sh --brokers tansu --clients kafkite,librdkafka --repeat 3
#   scripts/bench-e2e.sh --security sasl_ssl  # clients over SASL_SSL/SCRAM-SHA-512 (Kafka only)
#   scripts/bench-e2e.sh --help               # every option
#
# Installs the peers it needs (Kafka jars, tansu, the venv, kcat), builds the
# Rust bench clients in benches/e2e (release; CARGO_TARGET_DIR if set, else
# benches/e2e/target), prints a table per broker and writes JSON to
# .cache/bench-e2e/<timestamp>.json.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case " $* " in
*" -h "* | *" --help "*) ;;
*) "$REPO/scripts/peers/install.sh" kafka tansu python kcat >&2 ;;
esac
exec "$REPO/.cache/venv/bin/python" "$REPO/scripts/bench_e2e.py" "$@"
