#!/usr/bin/env bash
# Creates the Python environment the records cross-check needs
# (tests/records_kafka_python.rs): a venv at .cache/venv with kafka-python and
# the codec packages it needs to write and read every compression type.
# Idempotent: re-running only installs what is missing or at another version.
#
# scripts/peers/requirements.txt pins the same packages for the same venv;
# keep the two in step. xxhash is for kafka-python's magic 0 LZ4 codec (Kafka
# 0.8's broken frame header checksum); scripts/records-vectors.py falls back
# to its own xxHash32 where it is missing.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.cache/venv"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi

"$venv/bin/pip" install --quiet --disable-pip-version-check \
    kafka-python==3.0.12 \
    python-snappy==0.7.3 \
    cramjam==2.14.0 \
    lz4==4.4.5 \
    zstandard==0.25.0 \
    xxhash==4.1.0
