#!/usr/bin/env python3
"""Writes the seed scripts of the fetch_path fuzz target into
fuzz/seeds/fetch_path/: short inputs in the target's script layout (see
fuzz_targets/fetch_path.rs) whose fetch answers are record sets the target
writes with the crate's writers, one seed per kind of data: v2 batches of
every codec, legacy v0 and v1 message sets of every codec, a mixed set, a
small budget against compressed runs, read_committed with an aborted
transaction, and Fetch v17 (topics by id). Rerun after changing the layout.
"""
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fetch_path")

# Record kinds: magic = kind % 3, codec = (None, Gzip, Snappy, Lz4, Zstd)[kind // 3 % 5].
V2 = {"none": 2, "gzip": 5, "snappy": 8, "lz4": 11, "zstd": 14}
V0 = {"none": 0, "gzip": 3, "snappy": 6, "lz4": 9}
V1 = {"none": 1, "gzip": 4, "snappy": 7, "lz4": 10}


def setup(read_committed=False, budget=9, fetch_max=12):
    """setup byte (Earliest, metadata v12, start at 0), budget selector,
    versions byte (Fetch max, ListOffsets max 7); then the answer to the
    ListOffsets of partition a-1: no error, offset 0."""
    flags = 0x08 | (0x04 if read_committed else 0)
    return [flags, budget, 7 * 18 + fetch_max, 3, 200]


def batch(kind, count=4, values=1, flags=0):
    """One batch: kind, placement (contiguous, `count` records), values
    (1: 'v' * 100 * i; 4k+2: zeros), flags for v2 (1: transactional,
    2: control; producer id in bits 2-3)."""
    out = [kind, (count - 1) << 2, values]
    if kind % 3 == 2:
        out.append(flags)
    return out


def partition(batches, hw=64, aborted=()):
    """One partition's answer: no error, a written set of `batches`, its
    high watermark above the fetch offset, aborted transactions
    (producer id, offset byte)."""
    out = [0, 2, len(batches) - 1]
    for b in batches:
        out += b
    out += [hw, len(aborted)]
    for pid, offset in aborted:
        out += [pid, offset]
    return out


ANSWER = 0x00
RELEASE = {"a0": 0x08, "a1": 0x18, "b0": 0x28}
TIME = 0x06


def fetch(*partitions):
    out = [ANSWER]
    for p in partitions:
        out += p
    return out


def releases():
    return [RELEASE["a0"], RELEASE["a1"], RELEASE["b0"]]


def seeds():
    s = {}
    # The first fetch asks for a-0 and b-0 (a-1 waits for its reset), the
    # next ones for all three.
    s["v2-codecs"] = (
        setup()
        + fetch(partition([batch(V2["none"])]), partition([batch(V2["gzip"])]))
        + releases()
        + fetch(
            partition([batch(V2["snappy"])]),
            partition([batch(V2["lz4"])]),
            partition([batch(V2["zstd"])]),
        )
        + releases()
    )
    for name, kinds in (("legacy-v0", V0), ("legacy-v1", V1)):
        s[name] = (
            setup(fetch_max=3)
            + fetch(partition([batch(kinds["none"])]), partition([batch(kinds["gzip"])]))
            + releases()
            + fetch(
                partition([batch(kinds["snappy"])]),
                partition([batch(kinds["lz4"])]),
                partition([batch(kinds["none"], count=2)]),
            )
            + releases()
        )
    s["mixed-set"] = (
        setup()
        + fetch(
            partition([batch(V0["gzip"]), batch(V1["snappy"]), batch(V2["zstd"])]),
            partition([batch(V1["lz4"]), batch(V2["none"], count=8)]),
        )
        + releases()
    )
    # A 1,000-byte budget and 3.5 KB runs of zeros: compressed, tiny on
    # the wire; the fetcher takes one batch, leaves the rest, and fetches
    # again after each release.
    bomb = 14  # 14 % 4 == 2: 14 * 256 zeros per record
    s["budget"] = (
        setup(budget=3)
        + fetch(
            partition([batch(V2["gzip"], count=2, values=bomb), batch(V2["lz4"], count=2, values=bomb)]),
            partition([batch(V1["gzip"], count=2, values=bomb)]),
        )
        + releases()
        + [TIME, 4]
        + fetch(
            partition([batch(V2["zstd"], count=2, values=bomb)]),
            partition([batch(V2["snappy"], count=2, values=bomb)]),
            partition([batch(V0["gzip"], count=2, values=bomb)]),
        )
        + releases()
        + releases()
    )
    # read_committed: producer 1's transactional batch aborted (its abort
    # marker follows), producer 2's kept.
    s["read-committed"] = (
        setup(read_committed=True)
        + fetch(
            partition(
                [
                    batch(V2["none"], count=2, flags=1 | 1 << 2),
                    batch(V2["none"], count=1, flags=2 | 1 << 2),
                    batch(V2["gzip"], count=2, flags=1 | 2 << 2),
                ],
                aborted=[(1, 100)],
            ),
            partition([batch(V2["none"])]),
        )
        + releases()
    )
    s["fetch-v17"] = (
        setup(fetch_max=17)
        + fetch(partition([batch(V2["lz4"])]), partition([batch(V2["gzip"])]))
        + releases()
        + fetch(
            partition([batch(V2["none"])]),
            partition([batch(V2["zstd"])]),
            partition([batch(V2["snappy"])]),
        )
    )
    return s


def main():
    os.makedirs(HERE, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(bytes(data))


if __name__ == "__main__":
    main()
