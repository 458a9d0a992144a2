#!/usr/bin/env python3
"""librdkafka's `partitioner=murmur2_random` choice for keys, the second
independent reference for kafkite's partitioner (the first is the Java
client, testkit/java/Murmur2Partitions.java). Output format is the Java
program's, so kafkite-testkit parses both the same way.

    murmur2_librdkafka.py MAX_N [--no-producer-check] < keys

stdin: one key per line in hex (an empty line is the empty key).
stdout: per key, one line of MAX_N space-separated partitions, for
partition counts 1..=MAX_N.

Two ways, both run by default:
(a) every answer comes from calling rd_kafka_msg_partitioner_murmur2_random
    in the librdkafka that the confluent-kafka wheel bundles, through ctypes
    (fast: 640,000 calls in well under a second);
(b) then, to prove (a) is what the confluent-kafka producer really does (and
    not merely what the function does when called by hand), a sample of keys
    is produced with a confluent_kafka.Producer configured
    partitioner=murmur2_random to a librdkafka mock cluster with topics of a
    few partition counts, and the partitions in its delivery reports must
    equal (a). A difference exits 1 and names the key.
The sample is the first SAMPLE_KEYS keys: callers put the cases they care
most about (the empty key, murmur2's 1-3 byte tails) first.
"""
import ctypes
import glob
import os
import sys

import confluent_kafka

SAMPLE_KEYS = 200
SAMPLE_COUNTS = (1, 2, 3, 7, 16, 64)


def find_lib():
    """The librdkafka the confluent_kafka extension itself links
    (confluent_kafka.libs/librdkafka-HASH.so.1 beside the package)."""
    site = os.path.dirname(os.path.dirname(os.path.abspath(confluent_kafka.__file__)))
    found = sorted(glob.glob(os.path.join(site, "confluent_kafka.libs", "librdkafka*.so.1")))
    if not found:
        sys.exit(f"murmur2_librdkafka.py: no librdkafka*.so.1 in {site}/confluent_kafka.libs "
                 "(run scripts/peers/install.sh python)")
    return found[0]


class Rdkafka:
    """The few C functions used here."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        p, s, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t

        def fn(name, res, *args):
            f = getattr(lib, name)
            f.restype, f.argtypes = res, list(args)
            return f

        self.version_str = fn("rd_kafka_version_str", s)
        # (rkt, key, keylen, partition_cnt, rkt_opaque, msg_opaque). rkt is
        # only read for a NULL key (random choice), which we never pass.
        self.murmur2_random = fn("rd_kafka_msg_partitioner_murmur2_random", ctypes.c_int32,
                                 p, p, sz, ctypes.c_int32, p, p)
        self.conf_new = fn("rd_kafka_conf_new", p)
        self.conf_set = fn("rd_kafka_conf_set", ctypes.c_int, p, s, s, ctypes.c_char_p, sz)
        self.new = fn("rd_kafka_new", p, ctypes.c_int, p, ctypes.c_char_p, sz)
        self.destroy = fn("rd_kafka_destroy", None, p)
        self.cluster_new = fn("rd_kafka_mock_cluster_new", p, p, ctypes.c_int)
        self.cluster_destroy = fn("rd_kafka_mock_cluster_destroy", None, p)
        self.bootstraps = fn("rd_kafka_mock_cluster_bootstraps", s, p)
        self.topic_create = fn("rd_kafka_mock_topic_create", ctypes.c_int, p, s, ctypes.c_int,
                               ctypes.c_int)


def by_function(rd, keys, max_n):
    """(a): rows[i][n-1] = murmur2_random(keys[i], n)."""
    rows = []
    for key in keys:
        # A real (non-NULL) pointer even for the empty key: NULL would mean
        # "no key" and a random partition.
        buf = ctypes.create_string_buffer(key, len(key) + 1)
        rows.append([rd.murmur2_random(None, buf, len(key), n, None, None) for n in range(1, max_n + 1)])
    return rows


def by_producer(rd, keys, counts):
    """(b): {(key index, n): partition} from a real Producer's delivery reports."""
    errstr = ctypes.create_string_buffer(512)
    conf = rd.conf_new()
    rd.conf_set(conf, b"log_level", b"3", errstr, len(errstr))
    rk = rd.new(0, conf, errstr, len(errstr))  # RD_KAFKA_PRODUCER: only hosts the mock
    if not rk:
        sys.exit(f"murmur2_librdkafka.py: rd_kafka_new: {errstr.value.decode()}")
    mcluster = rd.cluster_new(rk, 1)
    if not mcluster:
        rd.destroy(rk)
        sys.exit("murmur2_librdkafka.py: rd_kafka_mock_cluster_new failed")
    try:
        topics = {n: f"murmur2-check-{n}" for n in counts}
        for n, topic in topics.items():
            err = rd.topic_create(mcluster, topic.encode(), n, 1)
            if err:
                sys.exit(f"murmur2_librdkafka.py: mock topic_create {topic} {n}: error {err}")
        producer = confluent_kafka.Producer({
            "bootstrap.servers": rd.bootstraps(mcluster).decode(),
            "partitioner": "murmur2_random",
            "linger.ms": 5,
        })
        seen, failures = {}, []

        def report(err, msg, where):
            if err is not None:
                failures.append(f"{where}: {err}")
            else:
                seen[where] = msg.partition()

        for n, topic in topics.items():
            for i, key in enumerate(keys):
                producer.produce(topic, value=b"v", key=key,
                                 on_delivery=lambda err, msg, w=(i, n): report(err, msg, w))
        left = producer.flush(30)
        # Destroy the producer before the cluster it talks to, or it logs
        # the disconnect.
        del producer
        if left or failures:
            sys.exit(f"murmur2_librdkafka.py: producer check: {left} undelivered, "
                     f"failures: {failures[:5]}")
        return seen
    finally:
        rd.cluster_destroy(mcluster)
        rd.destroy(rk)


def main():
    args = [a for a in sys.argv[1:] if a != "--no-producer-check"]
    if len(args) != 1:
        sys.exit("usage: murmur2_librdkafka.py MAX_N [--no-producer-check] < hex keys")
    max_n = int(args[0])
    if max_n < 1:
        sys.exit(f"murmur2_librdkafka.py: MAX_N must be at least 1, got {max_n}")
    keys = []
    for no, line in enumerate(sys.stdin, 1):
        try:
            keys.append(bytes.fromhex(line.strip()))
        except ValueError:
            sys.exit(f"murmur2_librdkafka.py: line {no}: not hex: {line.strip()!r}")

    rd = Rdkafka(find_lib())
    rows = by_function(rd, keys, max_n)

    if "--no-producer-check" not in sys.argv[1:]:
        sample = keys[:SAMPLE_KEYS]
        counts = [n for n in SAMPLE_COUNTS if n <= max_n] or [max_n]
        seen = by_producer(rd, sample, counts)
        bad = [(i, n, rows[i][n - 1], seen.get((i, n)))
               for n in counts for i in range(len(sample))
               if seen.get((i, n)) != rows[i][n - 1]]
        if bad:
            lines = [f"  key {sample[i].hex() or '(empty)'} n={n}: function {f}, producer {p}"
                     for i, n, f, p in bad[:10]]
            sys.exit("murmur2_librdkafka.py: the confluent-kafka producer (partitioner="
                     f"murmur2_random, librdkafka {rd.version_str().decode()}) disagrees with "
                     f"rd_kafka_msg_partitioner_murmur2_random on {len(bad)} of "
                     f"{len(sample) * len(counts)} (key, n):\n" + "\n".join(lines))
        print(f"murmur2_librdkafka.py: producer check passed: {len(sample)} keys x "
              f"partition counts {counts} (librdkafka {rd.version_str().decode()})",
              file=sys.stderr)

    out = sys.stdout
    for row in rows:
        out.write(" ".join(map(str, row)))
        out.write("\n")
    out.flush()


if __name__ == "__main__":
    main()
