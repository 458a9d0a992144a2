#!/usr/bin/env bash
# Creates the Python environment the cross-check tests use: a venv at
# .cache/venv with kafka-python and the codecs it needs to write and read
# every compression type (xxhash: kafka-python's magic 0 LZ4, which
# reproduces Kafka 0.8's broken frame header checksum). Idempotent: re-running only installs what changed.
# Other peers may add packages below; keep every version pinned.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.cache/venv"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi

"$venv/bin/pip" install --quiet --disable-pip-version-check \
    kafka-python==3.0.12 \
    python-snappy==0.7.3 \
    lz4==4.4.5 \
    zstandard==0.25.0 \
    xxhash==4.1.0
