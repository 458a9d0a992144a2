#!/usr/bin/env python3
"""A consumer group member of confluent-kafka (librdkafka 2.16) that stays
in its group until told to leave: kafkite's group interop tests put it in
one group with kafkite members and watch how the partitions are shared.
The same tool as testkit/java/GroupMemberPeer.java (kafka-clients 4.4),
with the same arguments, settings and line protocol, so
kafkite-testkit (testkit/src/group_interop.rs) drives both alike.

    group_member_peer.py BOOTSTRAP GROUP TOPIC [TOPIC...]

The member uses the classic group protocol with the range assignor only, a
10 s session (heartbeats every 500 ms) and a 20 s max.poll.interval.ms,
starts at the group's committed offsets (earliest where none) and never
commits by itself.

stdout, one JSON object per line, flushed at once:
    {"event":"assigned","partitions":[["TOPIC",0],...]}
    {"event":"revoked","partitions":[...]}
    {"event":"lost","partitions":[...]}
    {"event":"record","topic":"TOPIC","partition":0,"offset":5}
    {"event":"committed","offsets":[["TOPIC",0,5],...]}
    {"event":"closed"}
stdin, one command per line:
    commit METADATA TOPIC PARTITION OFFSET [TOPIC PARTITION OFFSET...]
        a synchronous commit of exactly these offsets, each with METADATA
    leave
        close the consumer (LeaveGroup) and exit 0; so does the end of stdin
Anything unexpected (a failed commit, a bad command, a fatal error) is
written to stderr and the tool exits non-zero.
"""
import json
import queue
import sys
import threading

from confluent_kafka import Consumer, KafkaException, TopicPartition

LEAVE = "leave"


def emit(event):
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def partitions_event(name, partitions):
    return {"event": name, "partitions": sorted([tp.topic, tp.partition] for tp in partitions)}


def read_commands(commands):
    for line in sys.stdin:
        line = line.strip()
        if line:
            commands.put(line)
    commands.put(LEAVE)


def commit(consumer, command):
    words = command.split()
    if len(words) < 5 or (len(words) - 2) % 3 != 0:
        sys.exit(f"group_member_peer.py: bad commit command {command!r}")
    metadata = words[1]
    offsets = [
        TopicPartition(words[i], int(words[i + 1]), int(words[i + 2]), metadata=metadata)
        for i in range(2, len(words), 3)
    ]
    try:
        results = consumer.commit(offsets=offsets, asynchronous=False)
    except KafkaException as e:
        sys.exit(f"group_member_peer.py: commit {command!r} failed: {e}")
    failed = [tp for tp in results if tp.error is not None]
    if failed:
        sys.exit(f"group_member_peer.py: commit {command!r} failed for {failed}")
    emit({"event": "committed", "offsets": [[tp.topic, tp.partition, tp.offset] for tp in offsets]})


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: group_member_peer.py BOOTSTRAP GROUP TOPIC [TOPIC...]")
    bootstrap, group, topics = sys.argv[1], sys.argv[2], sys.argv[3:]
    commands = queue.Queue()
    threading.Thread(target=read_commands, args=(commands,), daemon=True).start()

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": "kafkite-interop-confluent",
        "group.protocol": "classic",
        "partition.assignment.strategy": "range",
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 500,
        "max.poll.interval.ms": 20000,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 100,
    })
    consumer.subscribe(
        topics,
        on_assign=lambda _c, parts: emit(partitions_event("assigned", parts)),
        on_revoke=lambda _c, parts: emit(partitions_event("revoked", parts)),
        on_lost=lambda _c, parts: emit(partitions_event("lost", parts)),
    )
    leaving = False
    while not leaving:
        msg = consumer.poll(0.1)
        if msg is not None:
            err = msg.error()
            if err is None:
                emit({"event": "record", "topic": msg.topic(), "partition": msg.partition(),
                      "offset": msg.offset()})
            elif err.fatal():
                sys.exit(f"group_member_peer.py: fatal consumer error: {err}")
            else:
                print(f"group_member_peer.py: consumer error: {err}", file=sys.stderr, flush=True)
        while not leaving:
            try:
                command = commands.get_nowait()
            except queue.Empty:
                break
            if command == LEAVE:
                leaving = True
            elif command.startswith("commit "):
                commit(consumer, command)
            else:
                sys.exit(f"group_member_peer.py: unknown command {command!r}")
    # Leaves the group; on_revoke hears the revocation first.
    consumer.close()
    emit({"event": "closed"})


if __name__ == "__main__":
    main()
