#!/usr/bin/env python3
"""Produces COUNT records to TOPIC with confluent-kafka (librdkafka 2.16;
idempotent, acks=all), then consumes them in consumer group GROUP from the
earliest offset and commits, against any cluster (kafkite-sim's loopback
cluster in its tests).

    sim_group_round_trip.py BOOTSTRAP TOPIC GROUP COUNT TIMEOUT_MS

Output, one line each (the values are ASCII, "<prefix>-<n>"):
    P <partition> <offset> <value>      a delivery report
    C <partition> <offset> <value>      a record consumed by the group member
    COMMITTED <partition> <offset>      what the group committed at the end
Exits 1 with the reason on stderr if the records do not all arrive within
TIMEOUT_MS.
"""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: sim_group_round_trip.py BOOTSTRAP TOPIC GROUP COUNT TIMEOUT_MS")
    bootstrap, topic, group, count, timeout_ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    deadline = time.monotonic() + timeout_ms / 1000.0
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
    })
    delivered = []

    def report(err, msg):
        if err is not None:
            sys.exit(f"sim_group_round_trip.py: delivery failed: {err}")
        delivered.append((msg.partition(), msg.offset(), msg.value().decode()))

    for i in range(count):
        producer.produce(topic, key=f"k{i}".encode(), value=f"py-{i}".encode(), on_delivery=report)
        producer.poll(0)
    left = producer.flush(max(0.1, deadline - time.monotonic()))
    if left:
        sys.exit(f"sim_group_round_trip.py: {left} records not delivered in time")
    for p, o, v in delivered:
        print(f"P {p} {o} {v}")

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 10000,
    })
    consumer.subscribe([topic])
    seen = set()
    while len(seen) < count and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            print(f"consumer error: {msg.error()}", file=sys.stderr)
            continue
        value = msg.value().decode()
        seen.add(value)
        print(f"C {msg.partition()} {msg.offset()} {value}")
        consumer.commit(message=msg, asynchronous=False)
    if len(seen) < count:
        sys.exit(f"sim_group_round_trip.py: consumed {len(seen)} of {count} before the timeout")
    assignment = consumer.assignment()
    try:
        for tp in consumer.committed(assignment, timeout=10):
            print(f"COMMITTED {tp.partition} {tp.offset}")
    except KafkaException as e:
        sys.exit(f"sim_group_round_trip.py: committed() failed: {e}")
    consumer.close()


if __name__ == "__main__":
    main()
