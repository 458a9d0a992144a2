#!/usr/bin/env python3
"""Cross-checks kafkite's record formats against kafka-python's `kafka.record`.

kafka-python is an independent implementation of Kafka's record formats
(message sets v0/v1, record batches v2) and of Kafka's compression framings,
so agreeing with it in both directions catches mistakes a round trip through
our own code cannot.

    records-vectors.py generate OUT_DIR
        Writes one .bin file per vector, made with kafka-python's builders
        (magic 0, 1 and 2 with every codec kafka-python can write), and
        OUT_DIR/vectors.json describing what each decodes to. The committed
        copy lives in tests/vectors/records/ and is decoded by
        tests/records_kafka_python.rs.

    records-vectors.py check DIR
        Decodes every file that DIR/vectors.json lists with kafka-python and
        compares it with the description there. kafkite's test writes DIR.

Both commands describe decoded data the same way (see `describe`): one dict
per batch (`batches`), one per record (`records`), and whether the data
ended in a truncated batch (`truncated`). Bytes are hex strings, null is
null, and values over 1 KiB are given as their length and CRC-32. Timestamps of magic 0 records, which have none, are -1.

Run it with the venv that scripts/setup-python.sh creates.
"""

import json
import os
import struct
import sys
import zlib

try:
    import kafka
    import kafka.codec
    from kafka.record.default_records import DefaultRecordBatch
    from kafka.record.legacy_records import LegacyRecordBatch
    from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder
    for codec_module in ("snappy", "lz4.frame", "zstandard"):
        __import__(codec_module)
except ImportError as error:  # pragma: no cover - environment problem
    sys.exit(f"records-vectors.py: {error}; run scripts/setup-python.sh and use .cache/venv/bin/python")


def xxh32(data, seed=0):
    """xxHash32, written from its specification. LZ4 frame headers need it;
    so does kafka-python's magic 0 LZ4 codec, which imports the `xxhash`
    package (scripts/setup-python.sh installs it). Where that package is
    missing, kafka-python gets this instead (see `_XxHashShim`)."""
    p1, p2, p3, p4, p5, mask = 2654435761, 2246822519, 3266489917, 668265263, 374761393, 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & mask

    def word(at):
        return int.from_bytes(data[at:at + 4], "little")

    n, i = len(data), 0
    if n >= 16:
        lanes = [(seed + p1 + p2) & mask, (seed + p2) & mask, seed & mask, (seed - p1) & mask]
        while i + 16 <= n:
            for k in range(4):
                lanes[k] = rotl((lanes[k] + word(i) * p2) & mask, 13) * p1 & mask
                i += 4
        h = (rotl(lanes[0], 1) + rotl(lanes[1], 7) + rotl(lanes[2], 12) + rotl(lanes[3], 18)) & mask
    else:
        h = (seed + p5) & mask
    h = (h + n) & mask
    while i + 4 <= n:
        h = rotl((h + word(i) * p3) & mask, 17) * p4 & mask
        i += 4
    while i < n:
        h = rotl((h + data[i] * p5) & mask, 11) * p1 & mask
        i += 1
    h ^= h >> 15
    h = h * p2 & mask
    h ^= h >> 13
    h = h * p3 & mask
    return h ^ (h >> 16)


class _XxHashShim:
    """The part of the `xxhash` package kafka-python's codec uses."""

    class xxh32:  # noqa: N801 - mirrors xxhash.xxh32
        def __init__(self, data):
            self._hash = xxh32(bytes(data))

        def intdigest(self):
            return self._hash

        def digest(self):
            return self._hash.to_bytes(4, "big")


if getattr(kafka.codec, "xxhash", None) is None:
    kafka.codec.xxhash = _XxHashShim

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
CODEC_NAMES = {v: k for k, v in CODECS.items()}
TIMESTAMP_TYPES = {None: "NoTimestamp", 0: "CreateTime", 1: "LogAppendTime"}

# A value larger than one xerial snappy block (32 KiB) and one LZ4 block
# (64 KiB), and compressible, so framing across blocks is exercised.
BIG = bytes(range(256)) * 274

# (timestamp, key, value, headers); headers are dropped for magic 0 and 1.
RECORDS = [
    (1_700_000_000_000, b"key-0", b"value-0", [("h1", b"v1"), ("h2", None)]),
    (1_700_000_000_005, None, b"value with a null key", []),
    # Earlier than the first: a negative timestamp delta. A tombstone.
    (1_699_999_999_990, b"key-2", None, [("", b"empty header key")]),
    (1_700_000_000_010, b"", b"", [("utf8-\u00e9\u6f22", b"")]),
    # Lengths that need two-byte varints.
    (1_700_000_000_011, b"k" * 300, b"x" * 1000, []),
    (1_700_000_000_020, b"big", BIG, [("n", None)]),
]

PRODUCER = {"producer_id": 4242, "producer_epoch": 3, "base_sequence": 77}


def hexify(data):
    """Bytes as JSON: null, a hex string, or for anything over 1 KiB its
    length and CRC-32 (IEEE), which keeps vectors.json small."""
    if data is None:
        return None
    data = bytes(data)
    if len(data) > 1024:
        return {"len": len(data), "crc32": zlib.crc32(data)}
    return data.hex()


def lz4_header_checksum_kind(frame):
    """Which HC byte an LZ4 frame carries: Kafka 0.8's (over magic and
    descriptor, KAFKA-3160) or the standard one (over the descriptor)."""
    flg = frame[4]
    hc_at = 6 + (8 if flg & 0x08 else 0) + (4 if flg & 0x01 else 0)
    hc = frame[hc_at]
    if hc == (xxh32(bytes(frame[4:hc_at])) >> 8) & 0xFF:
        return "standard"
    if hc == (xxh32(bytes(frame[0:hc_at])) >> 8) & 0xFF:
        return "kafka-0.8"
    return "invalid"


def legacy_value(entry, magic):
    """The value field of a top-level legacy message (a wrapper's payload)."""
    pos = 12 + 4 + 1 + 1 + (8 if magic == 1 else 0)
    (key_len,) = struct.unpack_from(">i", entry, pos)
    pos += 4 + max(key_len, 0)
    (value_len,) = struct.unpack_from(">i", entry, pos)
    return entry[pos + 4:pos + 4 + value_len]


def describe(data):
    """What kafka-python decodes `data` (a `records` field) to."""
    records = MemoryRecords(bytes(data))
    batches, out = [], []
    pos = 0
    while records.has_next():
        batch = records.next_batch()
        entry = bytes(data[pos:pos + batch.size_in_bytes])
        pos += batch.size_in_bytes
        codec = CODEC_NAMES[batch.compression_type]
        info = {"magic": batch.magic, "compression": codec}
        if isinstance(batch, DefaultRecordBatch):
            info.update(
                crc_ok=batch.validate_crc(),
                base_offset=batch.base_offset,
                last_offset=batch.last_offset,
                producer_id=batch.producer_id,
                producer_epoch=batch.producer_epoch,
                base_sequence=batch.base_sequence,
                transactional=batch.is_transactional,
                control=batch.is_control_batch,
                timestamp_type=TIMESTAMP_TYPES[batch.timestamp_type],
                base_timestamp=batch.first_timestamp,
                max_timestamp=batch.max_timestamp,
                record_count=batch.records_count,
            )
            if codec == "lz4":
                info["lz4_header_checksum"] = lz4_header_checksum_kind(entry[61:])
        else:
            assert isinstance(batch, LegacyRecordBatch)
            info["crc_ok"] = batch.validate_crc()
            if codec == "lz4":
                info["lz4_header_checksum"] = lz4_header_checksum_kind(legacy_value(entry, batch.magic))
        for record in batch:
            if isinstance(batch, LegacyRecordBatch) and not record.validate_crc():
                info["crc_ok"] = False
            timestamp = -1 if record.timestamp is None else record.timestamp
            out.append({
                "offset": record.offset,
                "timestamp": timestamp,
                "timestamp_type": TIMESTAMP_TYPES[record.timestamp_type],
                "key": hexify(record.key),
                "value": hexify(record.value),
                "headers": [[key, hexify(value)] for key, value in record.headers],
            })
        batches.append(info)
    return {"batches": batches, "records": out, "truncated": records.valid_bytes() < len(data)}


def build(magic, codec, base_offset, records, producer=None, transactional=False):
    """One batch (or legacy message set) built by kafka-python."""
    kwargs = {}
    if producer:
        kwargs.update(producer, transactional=transactional)
    builder = MemoryRecordsBuilder(magic, CODECS[codec], batch_size=1 << 30, offset=base_offset, **kwargs)
    for timestamp, key, value, headers in records:
        metadata = builder.append(timestamp, key, value, headers if magic == 2 else None)
        assert metadata is not None, "batch_size too small"
    builder.close()
    return bytes(builder.buffer())


def expected_records(magic, base_offset, records):
    """The records as the spec says they decode: what we fed the builder."""
    return [{
        "offset": base_offset + i,
        "timestamp": timestamp if magic > 0 else -1,
        "timestamp_type": "CreateTime" if magic > 0 else "NoTimestamp",
        "key": hexify(key),
        "value": hexify(value),
        "headers": [[k, hexify(v)] for k, v in headers] if magic == 2 else [],
    } for i, (timestamp, key, value, headers) in enumerate(records)]


def vectors():
    """(name, description, bytes, codecs of the batches, expected records)
    for every vector; uncompressed legacy sets have one batch per record."""
    for magic in (0, 1, 2):
        for codec in CODECS:
            if codec == "zstd" and magic < 2:
                continue  # Kafka has zstd in magic 2 only; so does kafka-python
            producer = PRODUCER if magic == 2 else None
            data = build(magic, codec, 0, RECORDS, producer)
            yield (f"v{magic}-{codec}", f"magic {magic}, {codec}", data, [codec],
                   expected_records(magic, 0, RECORDS))
    data = build(2, "none", 500, RECORDS[:2], PRODUCER, transactional=True)
    yield ("v2-transactional", "magic 2, transactional, base offset 500", data, ["none"],
           expected_records(2, 500, RECORDS[:2]))
    # Several batches of every format one after another, as a fetch from a
    # topic whose message format was upgraded returns them.
    parts = [(0, "gzip", 10, RECORDS[:2]), (1, "snappy", 12, RECORDS[2:4]),
             (2, "lz4", 14, RECORDS[4:]), (2, "zstd", 16, RECORDS[4:5])]
    data, expected = b"", []
    for magic, codec, base, records in parts:
        data += build(magic, codec, base, records)
        expected += expected_records(magic, base, records)
    yield ("mixed", "magic 0 gzip, 1 snappy, 2 lz4, 2 zstd in one set", data,
           [codec for _, codec, _, _ in parts], expected)
    # A broker cuts the last batch at max_bytes: a complete batch, then the
    # first 100 bytes of another.
    first = build(2, "none", 0, RECORDS[:3])
    second = build(2, "gzip", 3, RECORDS[3:])
    yield ("v2-truncated", "a complete batch, then a truncated one", first + second[:100], ["none"],
           expected_records(2, 0, RECORDS[:3]))


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    described = []
    for name, description, data, codecs, expected in vectors():
        decoded = describe(data)
        actual_codecs = [batch["compression"] for batch in decoded["batches"]]
        assert sorted(set(actual_codecs), key=actual_codecs.index) == codecs, (name, actual_codecs)
        # kafka-python must decode its own output to what it was given, and
        # compress what it was asked to (its v2 builder silently sends a
        # batch uncompressed when compression does not shrink it).
        assert decoded["records"] == expected, name
        assert all(batch["crc_ok"] for batch in decoded["batches"]), name
        for batch in decoded["batches"]:
            if batch.get("compression") == "lz4":
                wanted = "kafka-0.8" if batch["magic"] == 0 else "standard"
                assert batch["lz4_header_checksum"] == wanted, (name, batch)
        file = f"{name}.bin"
        with open(os.path.join(out_dir, file), "wb") as f:
            f.write(data)
        described.append({"name": name, "description": description, "file": file, **decoded})
    manifest = {
        "generator": f"kafka-python {kafka.__version__} (scripts/records-vectors.py generate)",
        "vectors": described,
    }
    with open(os.path.join(out_dir, "vectors.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(described)} vectors to {out_dir}")


def differences(expected, actual, path=""):
    """Where `actual` differs from `expected`; batch dicts in `expected`
    may name only the fields they care about."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}: missing, expected {value!r}")
            else:
                out += differences(value, actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        out = []
        if len(expected) != len(actual):
            out.append(f"{path}: {len(actual)} items, expected {len(expected)}")
        for i, (e, a) in enumerate(zip(expected, actual)):
            out += differences(e, a, f"{path}[{i}]")
        return out
    if expected != actual:
        return [f"{path}: {actual!r}, expected {expected!r}"]
    return []


def check(directory):
    with open(os.path.join(directory, "vectors.json")) as f:
        manifest = json.load(f)
    failures = 0
    for vector in manifest["vectors"]:
        with open(os.path.join(directory, vector["file"]), "rb") as f:
            data = f.read()
        try:
            actual = describe(data)
        except Exception as error:  # kafka-python raises many kinds
            problems = [f"kafka-python cannot decode it: {type(error).__name__}: {error}"]
        else:
            expected = {k: vector[k] for k in ("batches", "records", "truncated") if k in vector}
            problems = differences(expected, actual)
        status = "ok" if not problems else "FAILED"
        print(f"{vector['file']}: {status}")
        for problem in problems[:20]:
            print(f"    {problem}")
        failures += bool(problems)
    total = len(manifest["vectors"])
    print(f"{total - failures} passed, {failures} failed")
    return 1 if failures else 0


def main(argv):
    if len(argv) != 3 or argv[1] not in ("generate", "check"):
        sys.exit(__doc__)
    if argv[1] == "generate":
        generate(argv[2])
        return 0
    return check(argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
