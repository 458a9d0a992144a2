#!/usr/bin/env python3
"""Reads a topic back with confluent-kafka (librdkafka 2.16), the second
independent client kafkite's tests compare against (the first is
testkit/java/ReadBack.java, kafka-clients 4.4). Same arguments, output and
exit rules as ReadBack.java, so kafkite-testkit parses both the same way.

    read_back.py BOOTSTRAP TOPIC COUNT TIMEOUT_MS [KEY=VALUE]...

Each KEY=VALUE is one more librdkafka property (split at the first '='), set
after the defaults so it may override them: how a test reaches a secured
listener (security.protocol, sasl.mechanism, sasl.username, ssl.ca.location...).

No group membership: every partition of the topic is assigned at
OFFSET_BEGINNING, nothing is committed. Stops once COUNT records arrived
(exit 0); TIMEOUT_MS after the assignment without them, prints what it got,
says how many on stderr, exits 1. Finding the topic may take up to
max(TIMEOUT_MS, 30 s) before that (a loaded machine's first metadata answer
should not eat the time given for records).
One JSON object per record on stdout:
    {"partition":0,"offset":0,"timestamp":1700000000000,
     "key":"BASE64"|null,"value":"BASE64"|null,"headers":[["k","BASE64"|null],...]}
"""
import base64
import json
import sys
import time

TOPIC_LOOKUP_MIN_S = 30.0

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition


def b64(data):
    return None if data is None else base64.b64encode(data).decode("ascii")


def partitions(consumer, topic, bootstrap, deadline):
    """The topic's partition ids; a just-created topic may take a moment to show."""
    last = None
    while time.monotonic() < deadline:
        try:
            md = consumer.list_topics(topic, timeout=max(0.1, min(2.0, deadline - time.monotonic())))
            t = md.topics.get(topic)
            if t is not None and t.error is None and t.partitions:
                return sorted(t.partitions)
            last = t.error if t is not None else "not in metadata"
        except KafkaException as e:
            last = e
        time.sleep(0.1)
    sys.exit(f"read_back.py: topic {topic} not found at {bootstrap} before the timeout (last: {last})")


def main():
    if len(sys.argv) < 5:
        sys.exit("usage: read_back.py BOOTSTRAP TOPIC COUNT TIMEOUT_MS [KEY=VALUE]...")
    bootstrap, topic, expected, timeout_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    extra = {}
    for i, arg in enumerate(sys.argv[5:], 1):
        key, eq, value = arg.partition("=")
        if not key or not eq:
            sys.exit(f"read_back.py: property {i} is not KEY=VALUE")
        extra[key] = value
    config = {
        "bootstrap.servers": bootstrap,
        "client.id": "kafkite-testkit-readback",
        # librdkafka wants a group.id for a consumer; with assign() and no
        # commits the group is never joined.
        "group.id": "kafkite-testkit-readback",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "allow.auto.create.topics": False,
    }
    config.update(extra)
    consumer = Consumer(config)
    got = 0
    last_error = None
    out = sys.stdout
    try:
        lookup_deadline = time.monotonic() + max(timeout_ms / 1000.0, TOPIC_LOOKUP_MIN_S)
        parts = partitions(consumer, topic, bootstrap, lookup_deadline)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        deadline = time.monotonic() + timeout_ms / 1000.0
        while got < expected and time.monotonic() < deadline:
            msg = consumer.poll(max(0.001, min(0.5, deadline - time.monotonic())))
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    last_error = msg.error()
                continue
            out.write(json.dumps({
                "partition": msg.partition(),
                "offset": msg.offset(),
                "timestamp": msg.timestamp()[1],
                "key": b64(msg.key()),
                "value": b64(msg.value()),
                "headers": [[k, b64(v)] for k, v in (msg.headers() or [])],
            }, separators=(",", ":")))
            out.write("\n")
            got += 1
    finally:
        out.flush()
        consumer.close()
    if got < expected:
        extra = f" (last error: {last_error})" if last_error is not None else ""
        sys.exit(f"read_back.py: got {got} of {expected} records from {topic} at {bootstrap} "
                 f"before the timeout{extra}")


if __name__ == "__main__":
    main()
