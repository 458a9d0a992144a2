#!/usr/bin/env python3
"""End-to-end client benchmark: kafkite against librdkafka, the Java client
and rskafka, each on a fresh broker (Apache Kafka 4.4 and tansu).

Run it through scripts/bench-e2e.sh (installs the peers, then calls this with
the venv's python). Per broker and client:

  start a fresh broker -> create the topic (P partitions) -> run the client
  (wall time and rusage of that one process) -> verify what landed -> stop.

A run is timed only if every record landed: the records read back per
partition equal the Fetch high watermarks, their sum is the record count,
every value has the record size and, on brokers whose ListOffsets is right
(Kafka; not tansu, see TEST-PEERS.md), the ListOffsets latest offsets sum to
the record count too. Otherwise the run is reported as failed, with why.

Modes (`--mode`): a mode is a set of per-client commands plus a preparation
and a verification step.

  produce (default): each client produces the records; verified by reading
      the topic back as above.
  consume: each client's fresh broker is loaded first (kcat -P, librdkafka,
      acks=all; on Kafka its ListOffsets latest offsets must sum to the record
      count), then the client reads every partition from the beginning and
      is timed. Verified from what the client reports: exactly --records
      records read and the sum of their value lengths = records x record
      size (Java: ConsumerPerformance's nMsg and its MB figure, rounded to
      4 decimals of MiB).

      scripts/bench-e2e.sh --mode consume                # 1M x 100 B, 3 partitions, both brokers
      scripts/bench-e2e.sh --mode consume --repeat 3 --skip tansu/java

  Consume clients: kafkite (kafkite-bench consume: kafkite_tokio::Fetcher
  from offset 0, no group), librdkafka (kcat -C -o beginning -e: its
  consumer assigned to every partition, -f '%S' prints each value's length),
  Java (kafka-tools ConsumerPerformance, a group consumer that subscribes;
  its group join is in its time) and rskafka (rskafka-bench consume: one
  PartitionClient per partition, fetch_records from offset 0 to the high
  watermark).

Security (`--security`):

  plaintext (default): every client, the topic creation and the
      verification on the broker's PLAINTEXT listener, as always.
  sasl_ssl: only Apache Kafka runs (tansu has no TLS), started with
      KAFKA_SECURE=1 (scripts/peers/kafka.sh). Topic creation, loading
      (consume mode) and verification stay on its PLAINTEXT listener (the
      admin's way in); every timed client connects to its SASL_SSL
      listener with SCRAM-SHA-512 as alice/alice-secret, trusting the
      broker's test CA ($CERTS/ca.pem): kafkite-bench and kcat get the
      same librdkafka properties (-X security.protocol=SASL_SSL -X
      sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=alice -X
      sasl.password=... -X ssl.ca.location=.../ca.pem), the Java tools a
      --command-config file with security.protocol, sasl.mechanism,
      sasl.jaas.config (ScramLoginModule) and a PEM truststore. rskafka is
      not run (its bench connects over PLAINTEXT only).

      scripts/bench-e2e.sh --security sasl_ssl --clients kafkite,librdkafka --repeat 3
"""

import argparse
import ast
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
PEERS = REPO / "scripts" / "peers"
BENCH_DIR = REPO / "benches" / "e2e"
RDKAFKA_LIB = CACHE / "rdkafka-lib"
KAFKA_VERSION = "4.4.0"
KAFKA_LIBS = CACHE / f"kafka-{KAFKA_VERSION}" / "libs"
BASELINE = "librdkafka"


def log(msg):
    print(f"[bench-e2e] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- settings

class Settings:
    """What every client is asked to do, the same for all of them."""

    def __init__(self, a):
        self.mode = a.mode
        self.records = a.records
        self.record_size = a.record_size
        self.partitions = a.partitions
        self.acks = a.acks
        self.linger_ms = a.linger_ms
        self.batch_size = a.batch_size
        self.delivery_timeout_ms = a.delivery_timeout_ms
        self.topic = "bench-e2e"
        self.security = a.security

    def as_dict(self):
        return {k: v for k, v in vars(self).items()}


class Security:
    """How the timed clients connect: plaintext (as before), or SASL_SSL with
    SCRAM-SHA-512 on a Kafka broker started with KAFKA_SECURE=1. Admin work
    (topic creation, loading, verification) always uses PLAINTEXT."""

    MECHANISM = "SCRAM-SHA-512"
    USERNAME = "alice"
    PASSWORD = "alice-secret"

    def __init__(self, name):
        self.name = name
        self.plaintext = name == "plaintext"

    def broker_env(self):
        return {} if self.plaintext else {"KAFKA_SECURE": "1"}

    def client_bootstrap(self, info):
        """The timed clients' listener, from kafka.sh's start lines."""
        return info["BOOTSTRAP"] if self.plaintext else info["LISTENER_SASL_SSL"]

    def rdkafka_props(self, info):
        """librdkafka's names (kcat -X, and kafkite-bench -X through
        kafkite::properties), or None for plaintext."""
        if self.plaintext:
            return None
        return {"security.protocol": "SASL_SSL", "sasl.mechanisms": self.MECHANISM,
                "sasl.username": self.USERNAME, "sasl.password": self.PASSWORD,
                "ssl.ca.location": str(Path(info["CERTS"]) / "ca.pem")}

    def label(self):
        return "PLAINTEXT" if self.plaintext else \
            f"SASL_SSL, {self.MECHANISM} as {self.USERNAME}, TLS trusting the test CA (ca.pem)"

    def as_dict(self):
        if self.plaintext:
            return {"protocol": "PLAINTEXT", "admin_listener": "PLAINTEXT"}
        return {"protocol": "SASL_SSL", "sasl_mechanism": self.MECHANISM,
                "username": self.USERNAME, "password": "<test user's, see scripts/peers>",
                "trust": "$CERTS/ca.pem of the broker (scripts/peers/certs.sh)",
                "broker": "scripts/peers/kafka.sh with KAFKA_SECURE=1, listener SASL_SSL",
                "admin_listener": "PLAINTEXT (topic creation, loading, verification)"}


def rdkafka_security_setting(security):
    """What a client given librdkafka's property names gets, for the notes."""
    shown = {k: ("<redacted>" if "password" in k else
                 ("$CERTS/ca.pem" if k == "ssl.ca.location" else v))
             for k, v in security.rdkafka_props({"CERTS": "$CERTS"}).items()}
    return " ".join(f"-X {k}={v}" for k, v in shown.items())


def payload(size):
    """The value of every record (same bytes as benches/e2e/src/lib.rs)."""
    return bytes(ord("a") + i % 26 for i in range(size))


# ----------------------------------------------------------------- brokers

class Broker:
    def __init__(self, name, script, label, list_offsets_ok):
        self.name = name
        self.script = PEERS / script
        self.label = label
        # tansu 0.6.0 answers ListOffsets latest with the last batch's base
        # offset + 1 (TEST-PEERS.md), so only the Fetch high watermark and
        # the read-back count are trusted there.
        self.list_offsets_ok = list_offsets_ok

    def start(self, data_dir, env_add=None):
        """Starts the broker; returns its start lines (BOOTSTRAP, PID, and
        with KAFKA_SECURE=1 the LISTENER_* and CERTS ones) as a dict."""
        env = dict(os.environ, PEER_WATCH_PID=str(os.getpid()), **(env_add or {}))
        out = subprocess.run([str(self.script), "start", str(data_dir)], env=env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{self.name} did not start: {out.stderr.strip()[-2000:]}")
        return dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)

    def stop(self, data_dir):
        subprocess.run([str(self.script), "stop", str(data_dir)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)


BROKERS = {
    "kafka": Broker("kafka", "kafka.sh", f"Apache Kafka {KAFKA_VERSION} (KRaft, 1 node)", True),
    "tansu": Broker("tansu", "tansu.sh", "tansu 0.6.0 (memory storage)", False),
}


def proc_cpu_s(pid):
    """user+sys CPU seconds of a running process (for the broker)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# ----------------------------------------------------------------- clients

class Client:
    """One benchmarked client: how to build it, what to run, what it says."""

    name = ""
    label = ""
    mode = "produce"  # set by command(), read by parse()

    def build(self, ctx):
        """Returns None when ready, else why it cannot run."""
        return None

    def version(self, ctx):
        return ""

    def command(self, ctx, s, bootstrap, run_dir, security=None):
        """(argv, env-additions, stdin path or None) for mode s.mode.
        security: None (plaintext), else the librdkafka properties of the
        secured listener (Security.rdkafka_props)."""
        raise NotImplementedError

    def settings(self, ctx, s):
        return {}

    def unsupported(self, s):
        """Why this client does not run with these settings, or None."""
        return None

    def security_setting(self, security):
        """How this client is told to connect securely (for the notes)."""
        return rdkafka_security_setting(security)

    def parse(self, stdout, stderr):
        """What the client reports about itself (not used for the figures)."""
        return {}


def cargo_build(ctx, bin_name, features_args):
    if ctx.no_build:
        return None if (ctx.bin_dir / bin_name).exists() else f"{bin_name} not built (--no-build)"
    cmd = ["cargo", "build", "--release", "--manifest-path", str(BENCH_DIR / "Cargo.toml"),
           "--bin", bin_name] + features_args
    env = dict(os.environ, CARGO_TARGET_DIR=str(ctx.target_dir))
    log(f"building {bin_name}: {' '.join(cmd)}")
    t0 = time.monotonic()
    out = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if out.returncode != 0:
        errors = [l for l in out.stderr.splitlines() if l.startswith("error")]
        return f"{bin_name} does not build: " + ("; ".join(errors[:3]) or out.stderr[-500:])
    log(f"built {bin_name} in {time.monotonic() - t0:.1f} s")
    return None


def parse_result_line(stdout):
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {}


class RustClient(Client):
    features = []

    def bin_path(self, ctx):
        return ctx.bin_dir / self.bin

    def runtime(self, ctx):
        """The bench binary's --runtime."""
        return ctx.tokio_runtime

    def build(self, ctx):
        return cargo_build(ctx, self.bin, self.features)

    def command(self, ctx, s, bootstrap, run_dir, security=None):
        self.mode = s.mode
        argv = [str(self.bin_path(ctx)), s.mode, "--bootstrap", bootstrap,
                "--topic", s.topic, "--records", str(s.records),
                "--record-size", str(s.record_size), "--partitions", str(s.partitions),
                "--linger-ms", str(s.linger_ms), "--batch-size", str(s.batch_size),
                "--acks", s.acks, "--delivery-timeout-ms", str(s.delivery_timeout_ms),
                "--runtime", self.runtime(ctx)]
        # kafkite-bench applies these with kafkite::properties::Properties,
        # the same names and values kcat gets.
        for k, v in (security or {}).items():
            argv += ["-X", f"{k}={v}"]
        return argv, {}, None

    def parse(self, stdout, stderr):
        return parse_result_line(stdout)


class Kafkite(RustClient):
    name = "kafkite"
    label = "kafkite (kafkite-tokio Producer / Fetcher)"
    bin = "kafkite-bench"

    def version(self, ctx):
        out = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                             capture_output=True, text=True)
        return f"kafkite @ {out.stdout.strip()}"

    def runtime(self, ctx):
        return ctx.kafkite_runtime

    def runtime_setting(self, ctx):
        if ctx.kafkite_runtime == "io-thread":
            return ("io-thread: the driver's tasks on a kafkite_tokio::IoThread (a current-thread "
                    "runtime on a thread of its own), the bench's loop on a current-thread "
                    "runtime on the main thread")
        return f"{ctx.kafkite_runtime}: the driver's tasks and the bench's loop on one runtime"

    def settings(self, ctx, s):
        if s.mode == "consume":
            return {"api": "kafkite_tokio::Fetcher, explicit offset 0 per partition, no group",
                    "fetch": "FetchConfig::default(): 1 MiB per partition, 50 MiB per "
                             "response, max wait 500 ms, min bytes 1",
                    "stop": "after --records records", "runtime": self.runtime_setting(ctx)}
        return {"acks": s.acks, "linger_ms": s.linger_ms, "batch_size": s.batch_size,
                "idempotence": False, "compression": "none", "partitioner": "sticky (no key)",
                "runtime": self.runtime_setting(ctx)}


class KafkiteBatch(Kafkite):
    """kafkite's batch APIs: producing, `Producer::send_batch`, the same
    producer with records handed over 1,000 per call (one answer per call)
    instead of one `send` each; consuming, `Fetcher::fetch_chunks`, the same
    fetcher read a fetched chunk at a time instead of a record per poll."""
    name = "kafkite-batch"
    label = ("kafkite (kafkite-tokio Producer::send_batch, 1,000 per call / "
             "Fetcher::fetch_chunks)")
    send_batch = 1000

    def command(self, ctx, s, bootstrap, run_dir, security=None):
        argv, env, stdin = super().command(ctx, s, bootstrap, run_dir, security)
        if s.mode == "consume":
            return argv + ["--chunks"], env, stdin
        return argv + ["--send-batch", str(self.send_batch)], env, stdin

    def settings(self, ctx, s):
        settings = super().settings(ctx, s)
        if s.mode == "consume":
            settings["api"] = "kafkite_tokio::Fetcher::fetch_chunks, explicit offset 0, no group"
        else:
            settings["api"] = f"Producer::send_batch, {self.send_batch} records per call"
        return settings


class KafkitePacked(KafkiteBatch):
    """kafkite's cheapest producing hand-over: `Producer::send_packed`,
    1,000 records per call packed into one buffer (`PackedRecords`).
    Consuming, the same as kafkite-batch."""
    name = "kafkite-packed"
    label = ("kafkite (kafkite-tokio Producer::send_packed, 1,000 per call / "
             "Fetcher::fetch_chunks)")

    def command(self, ctx, s, bootstrap, run_dir, security=None):
        argv, env, stdin = super().command(ctx, s, bootstrap, run_dir, security)
        if s.mode == "consume":
            return argv, env, stdin
        return argv + ["--packed"], env, stdin

    def settings(self, ctx, s):
        settings = super().settings(ctx, s)
        if s.mode != "consume":
            settings["api"] = (f"Producer::send_packed, {self.send_batch} records per call "
                               "packed into one PackedRecords")
        return settings


class Rskafka(RustClient):
    name = "rskafka"
    label = "rskafka (BatchProducer / fetch_records, per partition)"
    bin = "rskafka-bench"
    features = ["--no-default-features"]

    def unsupported(self, s):
        if s.security != "plaintext":
            return ("rskafka-bench connects over PLAINTEXT only (rskafka 0.6 has SCRAM-SHA-512 "
                    "and, behind its transport-tls feature, rustls; not wired into this bench)")
        return None

    def version(self, ctx):
        lock = (BENCH_DIR / "Cargo.lock").read_text()
        m = re.search(r'name = "rskafka"\nversion = "([^"]+)"', lock)
        return f"rskafka {m.group(1) if m else '?'}"

    def settings(self, ctx, s):
        if s.mode == "consume":
            return {"api": "PartitionClient::fetch_records per partition, from offset 0",
                    "fetch": "bytes 1..1 MiB, max wait 500 ms, one request at a time "
                             "per partition",
                    "stop": "per partition at the fetch high watermark",
                    "tokio_runtime": ctx.tokio_runtime}
        return {"acks": "-1 (fixed by rskafka; = 1 with one replica)", "linger_ms": s.linger_ms,
                "aggregator_max_bytes": s.batch_size, "compression": "none",
                "partitioner": "even split by hand", "tokio_runtime": ctx.tokio_runtime}


class Librdkafka(Client):
    name = "librdkafka"
    label = "librdkafka 2.16 (kcat)"

    def env(self):
        return {"LD_LIBRARY_PATH": str(RDKAFKA_LIB)}

    def build(self, ctx):
        if not shutil.which("kcat"):
            return "kcat not installed (scripts/peers/install.sh kcat)"
        v = self.version(ctx)
        if "2.16" not in v:
            return f"kcat does not run on librdkafka 2.16 ({v!r})"
        return None

    def version(self, ctx):
        out = subprocess.run(["kcat", "-V"], env=dict(os.environ, **self.env()),
                             capture_output=True, text=True)
        m = re.search(r"Version (\S+).*?librdkafka (\S+)", out.stdout, re.S)
        return f"kcat {m.group(1)}, librdkafka {m.group(2)}" if m else out.stdout.strip()

    def conf(self, s):
        return {"acks": s.acks, "linger.ms": s.linger_ms, "batch.size": s.batch_size,
                "message.timeout.ms": s.delivery_timeout_ms}

    def parse(self, stdout, stderr):
        if self.mode != "consume":
            return {}
        n = total = bad = 0
        for line in stdout.splitlines():
            try:
                size = int(line)
            except ValueError:
                bad += 1
                continue
            n += 1
            total += max(size, 0)
        return {"consumed": n, "value_bytes": total, "unparsed_lines": bad}

    def command(self, ctx, s, bootstrap, run_dir, security=None):
        self.mode = s.mode
        secured = []
        for k, v in (security or {}).items():
            secured += ["-X", f"{k}={v}"]
        if s.mode == "consume":
            # Simple (assigned) consumer on every partition, from the
            # beginning, exits at the end of all of them; one line per
            # record: its value length.
            argv = ["kcat", "-C", "-b", bootstrap, "-t", s.topic, "-o", "beginning", "-e",
                    "-q", "-f", "%S\\n"] + secured
            return argv, self.env(), None
        argv = ["kcat", "-P", "-b", bootstrap, "-t", s.topic, "-q"]
        for k, v in self.conf(s).items():
            argv += ["-X", f"{k}={v}"]
        return argv + secured, self.env(), ctx.input_file(s)

    def settings(self, ctx, s):
        if s.mode == "consume":
            return {"command": "kcat -C -o beginning -e -f '%S\\n' (assigned to every "
                               "partition, no group)",
                    "fetch": "librdkafka defaults: fetch.max.bytes 50 MiB, "
                             "max.partition.fetch.bytes 1 MiB, fetch.wait.max.ms 500, "
                             "queued.min.messages 100000",
                    "stop": "end of every partition (-e)"}
        d = self.conf(s)
        d.update({"input": "stdin, one record per line", "partitioner": "default (no key)",
                  "compression": "none (default)"})
        return d


class Java(Client):
    name = "java"
    label = f"Java kafka-clients {KAFKA_VERSION} (ProducerPerformance / ConsumerPerformance)"
    # What kafka-producer-perf-test.sh / kafka-run-class.sh pass.
    jvm = ["-Xmx512M", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
           "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
           "-Djava.awt.headless=true"]

    def build(self, ctx):
        if not (KAFKA_LIBS / f"kafka-tools-{KAFKA_VERSION}.jar").exists():
            return f"kafka-tools {KAFKA_VERSION} missing (scripts/peers/install.sh kafka)"
        if not shutil.which("java"):
            return "java not found"
        return None

    def version(self, ctx):
        out = subprocess.run(["java", "-version"], capture_output=True, text=True)
        first = (out.stderr.splitlines() or ["?"])[0]
        return f"kafka-clients/kafka-tools {KAFKA_VERSION} on {first}"

    def props(self, s, bootstrap):
        d = {"bootstrap.servers": bootstrap, "acks": s.acks, "linger.ms": s.linger_ms,
             "batch.size": s.batch_size, "delivery.timeout.ms": s.delivery_timeout_ms}
        # The client refuses delivery.timeout.ms < linger.ms + request.timeout.ms
        # (default 30000).
        if s.delivery_timeout_ms < s.linger_ms + 30000:
            d["request.timeout.ms"] = max(1000, s.delivery_timeout_ms - s.linger_ms)
        return d

    @staticmethod
    def java_security(security):
        """The Java client's names for librdkafka's SASL_SSL properties."""
        return {
            "security.protocol": security["security.protocol"],
            "sasl.mechanism": security["sasl.mechanisms"],
            "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule "
                                f'required username="{security["sasl.username"]}" '
                                f'password="{security["sasl.password"]}";',
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": security["ssl.ca.location"],
        }

    def security_setting(self, security):
        d = self.java_security(security.rdkafka_props({"CERTS": "$CERTS"}))
        d["sasl.jaas.config"] = d["sasl.jaas.config"].replace(security.PASSWORD, "<redacted>")
        return "--command-config FILE: " + "; ".join(f"{k}={v}" for k, v in d.items())

    def command(self, ctx, s, bootstrap, run_dir, security=None):
        self.mode = s.mode
        secured = []
        if security:
            # A file, not --producer-props: the JAAS line holds '=' and spaces.
            conf = run_dir / "client-security.properties"
            conf.write_text("".join(f"{k}={v}\n"
                                    for k, v in self.java_security(security).items()))
            secured = ["--command-config", str(conf)]
        log4j = run_dir / "log4j2.properties"
        log4j.write_text("status = error\nappender.err.type = Console\nappender.err.name = ERR\n"
                         "appender.err.target = SYSTEM_ERR\nappender.err.layout.type = PatternLayout\n"
                         "appender.err.layout.pattern = %d %p %m (%c)%n\n"
                         "rootLogger.level = WARN\nrootLogger.appenderRef.err.ref = ERR\n")
        if s.mode == "consume":
            argv = ["java"] + self.jvm + [
                f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{KAFKA_LIBS}/*",
                "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", bootstrap,
                "--topic", s.topic, "--num-records", str(s.records),
                "--group", "bench-e2e-java", "--timeout", "30000"] + secured
            return argv, {}, None
        argv = (["java"] + self.jvm + [f"-Dlog4j2.configurationFile={log4j}",
                                       "-cp", f"{KAFKA_LIBS}/*",
                                       "org.apache.kafka.tools.ProducerPerformance",
                                       "--topic", s.topic, "--num-records", str(s.records),
                                       "--record-size", str(s.record_size), "--throughput", "-1"]
                + secured + ["--producer-props"]
                + [f"{k}={v}" for k, v in self.props(s, bootstrap).items()])
        return argv, {}, None

    def settings(self, ctx, s):
        if s.mode == "consume":
            return {"jvm": " ".join(self.jvm),
                    "command": "ConsumerPerformance --num-records N --group bench-e2e-java "
                               "--timeout 30000 (subscribes; earliest; auto-commit default)",
                    "fetch": "client defaults: fetch.max.bytes 50 MiB, "
                             "max.partition.fetch.bytes 1 MiB (--fetch-size), "
                             "fetch.max.wait.ms 500, max.poll.records 500",
                    "stop": "after N records"}
        d = self.props(s, "-")
        del d["bootstrap.servers"]
        d.update({"jvm": " ".join(self.jvm), "partitioner": "default (no key)",
                  "compression": "none (default)",
                  "idempotence": "off (acks=1 turns the default off)"})
        return d

    def parse(self, stdout, stderr):
        if self.mode == "consume":
            # header "start.time, end.time, data.consumed.in.MB, MB.sec,
            # data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms,
            # fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec", then one line.
            rows = [l.split(",") for l in stdout.splitlines() if l.count(",") >= 9]
            rows = [r for r in rows if not r[0].strip().startswith("start.time")]
            if not rows:
                return {}
            r = [x.strip() for x in rows[-1]]
            mib = float(r[2])
            return {"consumed": int(r[4]), "value_mib": mib,
                    "value_bytes_approx": mib * 1024 * 1024,
                    "self_reported_records_per_s": float(r[5]),
                    "rebalance_ms": float(r[6]), "fetch_ms": float(r[7]),
                    "self_reported_fetch_records_per_s": float(r[9])}
        # "1000000 records sent, 512032.8 records/sec (48.83 MB/sec), ..."
        m = None
        for m in re.finditer(r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)",
                             stdout, re.M):
            pass
        if not m:
            return {}
        return {"records_sent": int(m.group(1)), "self_reported_records_per_s": float(m.group(2)),
                "self_reported_mib_per_s": float(m.group(3))}


class Baseline:
    """The same kafkite client built from another commit (--baseline REV):
    before and after a change, side by side in one run."""

    def version(self, ctx):
        return f"kafkite @ {ctx.baseline}"

    def bin_path(self, ctx):
        return ctx.baseline_dir / "target" / "release" / self.bin

    def build(self, ctx):
        if not ctx.baseline:
            return "no --baseline REV given"
        if ctx.no_build:
            return None if self.bin_path(ctx).exists() else "baseline not built (--no-build)"
        src = ctx.baseline_dir / "src"
        if not src.exists():
            src.mkdir(parents=True)
            archive = subprocess.run(["git", "-C", str(REPO), "archive", ctx.baseline],
                                     capture_output=True)
            if archive.returncode != 0:
                return f"git archive {ctx.baseline} failed: {archive.stderr[-300:]!r}"
            subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
        cmd = ["cargo", "build", "--release", "--manifest-path",
               str(src / "benches" / "e2e" / "Cargo.toml"), "--bin", self.bin] + self.features
        env = dict(os.environ, CARGO_TARGET_DIR=str(ctx.baseline_dir / "target"))
        log(f"building {self.bin} at {ctx.baseline}: {' '.join(cmd)}")
        out = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if out.returncode != 0:
            return f"{self.bin} at {ctx.baseline} does not build: {out.stderr[-500:]}"
        return None


class KafkiteBase(Baseline, Kafkite):
    name = "kafkite-base"
    label = "kafkite at --baseline (kafkite-tokio Producer / Fetcher)"


class KafkitePackedBase(Baseline, KafkitePacked):
    name = "kafkite-packed-base"
    label = "kafkite at --baseline (Producer::send_packed / Fetcher::fetch_chunks)"


CLIENTS = {c.name: c for c in (Kafkite(), KafkiteBatch(), KafkitePacked(), KafkiteBase(),
                                KafkitePackedBase(), Librdkafka(), Java(), Rskafka())}


# ------------------------------------------------------------ run one client

# The client is started by a small launcher, not forked from this process:
# a forked child's peak resident size starts at its parent's (Linux copies
# the counters at fork, and exec keeps the larger), so once this script had
# held a few hundred MB every client reported at least that much. The
# launcher is a fresh interpreter with nothing loaded (about 10 MB): it
# forks the client, waits for exactly it, and writes what wait4 says.
LAUNCHER = r"""
import os, sys, time
out = sys.argv[1]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(out, "w") as f:
    f.write(repr((wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss, status)))
"""


def run_measured(argv, env_add, stdin_path, run_dir, timeout_s):
    """Runs argv to exit; returns wall time, rusage and output of that child.

    Peak resident size is the client's own (see LAUNCHER), with the
    launcher's about 10 MB as a floor."""
    env = dict(os.environ, **env_add)
    out_path, err_path = run_dir / "client.stdout", run_dir / "client.stderr"
    usage_path = run_dir / "client.rusage"
    usage_path.unlink(missing_ok=True)
    launched = [sys.executable, "-S", "-c", LAUNCHER, str(usage_path)] + list(argv)
    with open(out_path, "wb") as out, open(err_path, "wb") as err, \
            open(stdin_path or os.devnull, "rb") as stdin:
        proc = subprocess.Popen(launched, env=env, stdin=stdin, stdout=out, stderr=err,
                                start_new_session=True)
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            try:
                # The launcher and the client share the new session's group.
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
    try:
        wall, user, sys_s, max_rss_kb, status = ast.literal_eval(usage_path.read_text())
        exit_code = os.waitstatus_to_exitcode(status)
    except (OSError, ValueError, SyntaxError):
        # Killed before the launcher could write (the timeout).
        wall, user, sys_s, max_rss_kb, exit_code = float(timeout_s), 0.0, 0.0, 0, -9
    return {
        "wall_s": wall,
        "user_s": user,
        "sys_s": sys_s,
        "cpu_s": user + sys_s,
        "max_rss_mb": max_rss_kb / 1024,
        "exit_code": exit_code,
        "timed_out": timed_out.is_set(),
        "stdout": out_path.read_text(errors="replace"),
        "stderr": err_path.read_text(errors="replace"),
    }


def helper(ctx, *args, timeout=300):
    """Runs a helper of this file (in the venv python) and returns its JSON."""
    out = subprocess.run([ctx.python, __file__] + list(args), stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"helper {args[0]} failed: {out.stderr.strip()[-1500:]}")
    return json.loads(out.stdout)


def prepare_consume(ctx, broker, s, bootstrap, run_dir):
    """Loads the topic for a consume run: kcat -P (librdkafka) with acks=all
    from the same input file as the producer mode. Returns None or why not."""
    argv = ["kcat", "-P", "-b", bootstrap, "-t", s.topic, "-q", "-X", "acks=all",
            "-X", "linger.ms=20", "-X", "message.timeout.ms=60000"]
    with open(ctx.input_file(s), "rb") as stdin:
        out = subprocess.run(argv, env=dict(os.environ, LD_LIBRARY_PATH=str(RDKAFKA_LIB)),
                             stdin=stdin, capture_output=True, text=True,
                             timeout=ctx.client_timeout(s))
    if out.returncode != 0:
        return f"kcat -P exit {out.returncode}: {out.stderr.strip()[-500:]}"
    if broker.list_offsets_ok:
        try:
            latest = helper(ctx, "_latest", bootstrap, s.topic, str(s.partitions), timeout=120)
        except Exception as e:  # noqa: BLE001
            return f"ListOffsets after loading: {e}"
        if sum(latest) != s.records:
            return f"ListOffsets latest {latest} sum to {sum(latest)}, not {s.records}"
    return None


def verify_consumed(s, report):
    """A consume run counts if the client read exactly the records loaded and
    their values add up to records x record size."""
    problems = []
    want_bytes = s.records * s.record_size
    n = report.get("consumed")
    if n is None:
        problems.append(f"the client reported no count ({report})")
    elif n != s.records:
        problems.append(f"read {n} records, not {s.records}")
    if "value_bytes" in report:
        if report["value_bytes"] != want_bytes:
            problems.append(f"values sum to {report['value_bytes']} bytes, not {want_bytes}")
    elif "value_mib" in report:
        # ConsumerPerformance prints MiB with 4 decimals.
        if abs(report["value_mib"] - want_bytes / 1048576) > 0.00011:
            problems.append(f"{report['value_mib']} MiB of values, not "
                            f"{want_bytes / 1048576:.4f}")
    if report.get("first_error"):
        problems.append(f"client error: {report['first_error']}")
    return {"ok": not problems, "problems": problems, "consumed": n,
            "value_bytes": report.get("value_bytes", report.get("value_bytes_approx"))}


def run_one(ctx, broker, client, s, attempt):
    run_dir = Path(tempfile.mkdtemp(prefix=f"{broker.name}-{client.name}-", dir=ctx.work_dir))
    data_dir = run_dir / "broker"
    result = {"broker": broker.name, "client": client.name, "attempt": attempt,
              "status": "failed", "reason": None}
    t_start = time.monotonic()
    try:
        try:
            info = broker.start(data_dir, ctx.security.broker_env())
            # bootstrap: the PLAINTEXT listener, for admin work (topic,
            # loading, verification); client_bootstrap: where the timed
            # client connects (the same one unless --security says not).
            bootstrap, broker_pid = info["BOOTSTRAP"], int(info["PID"])
            client_bootstrap = ctx.security.client_bootstrap(info)
            security = ctx.security.rdkafka_props(info)
        except Exception as e:  # noqa: BLE001 - reported, not raised
            result["reason"] = str(e)
            return result
        result["broker_start_s"] = round(time.monotonic() - t_start, 2)
        try:
            helper(ctx, "_create-topic", bootstrap, s.topic, str(s.partitions), timeout=120)
        except Exception as e:  # noqa: BLE001
            result["reason"] = f"topic creation: {e}"
            return result
        if s.mode == "consume":
            t_prep = time.monotonic()
            why = prepare_consume(ctx, broker, s, bootstrap, run_dir)
            result["prepare_s"] = round(time.monotonic() - t_prep, 2)
            if why:
                result["reason"] = f"preparation: {why}"
                return result
        if security is None:
            argv, env_add, stdin_path = client.command(ctx, s, bootstrap, run_dir)
        else:
            argv, env_add, stdin_path = client.command(ctx, s, client_bootstrap, run_dir,
                                                       security)
            result["client_bootstrap"] = client_bootstrap
        result["command"] = " ".join(argv)
        load_before = os.getloadavg()[0]
        broker_cpu0 = proc_cpu_s(broker_pid)
        m = run_measured(argv, env_add, stdin_path, run_dir, ctx.client_timeout(s))
        broker_cpu1 = proc_cpu_s(broker_pid)
        result.update({k: v for k, v in m.items() if k not in ("stdout", "stderr")})
        result["load_avg_1m_before"] = load_before
        if broker_cpu0 is not None and broker_cpu1 is not None:
            result["broker_cpu_s"] = round(broker_cpu1 - broker_cpu0, 3)
        try:
            result["client_report"] = client.parse(m["stdout"], m["stderr"])
        except Exception as e:  # noqa: BLE001
            result["client_report"] = {"parse_error": str(e)}
        result["stderr_tail"] = m["stderr"][-1500:]
        if s.mode == "consume":
            v = verify_consumed(s, result["client_report"])
        else:
            try:
                v = helper(ctx, "_verify", bootstrap, s.topic, str(s.partitions),
                           str(s.records), str(s.record_size),
                           "1" if broker.list_offsets_ok else "0", timeout=300)
            except Exception as e:  # noqa: BLE001
                v = {"ok": False, "problems": [f"verification did not run: {e}"]}
        result["verify"] = v
        problems = list(v.get("problems", []))
        if m["timed_out"]:
            problems.insert(0, f"killed after {ctx.client_timeout(s):g} s")
        elif m["exit_code"] != 0:
            problems.insert(0, f"exit code {m['exit_code']}")
        if problems:
            result["reason"] = "; ".join(problems)
            return result
        n = s.records
        result.update({
            "status": "ok",
            "records_per_s": n / m["wall_s"],
            "mb_per_s": n * s.record_size / m["wall_s"] / 1e6,
            "cpu_s_per_million": m["cpu_s"] * 1e6 / n,
        })
        return result
    finally:
        broker.stop(data_dir)
        result["run_s"] = round(time.monotonic() - t_start, 2)
        if ctx.keep:
            result["run_dir"] = str(run_dir)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


# ------------------------------------------------------------------- report

def summarize(runs):
    """The median attempt by records/s (the upper one of an even count) among
    the successful ones, else the last failure."""
    ok = [r for r in runs if r["status"] == "ok"]
    if not ok:
        return runs[-1]
    ok.sort(key=lambda r: r["records_per_s"])
    return ok[len(ok) // 2]


def add_ratios(rows):
    base = rows.get(BASELINE)
    for row in rows.values():
        if row["status"] == "ok" and base and base["status"] == "ok":
            row["throughput_vs_librdkafka"] = row["records_per_s"] / base["records_per_s"]
            row["cpu_vs_librdkafka"] = row["cpu_s_per_million"] / base["cpu_s_per_million"]


def print_table(broker, s, rows, order, out=sys.stdout):
    label = broker.label
    if s.security != "plaintext":
        label = f"{label}, {Security(s.security).label()}"
    if s.mode == "consume":
        print(f"\n== consume, {label}: {s.records:,} records x {s.record_size} B "
              f"in {s.partitions} partitions, read from the beginning; a fresh broker, "
              f"loaded beforehand, per client", file=out)
    else:
        print(f"\n== {label}: {s.records:,} records x {s.record_size} B, "
              f"{s.partitions} partitions, acks={s.acks}, linger.ms={s.linger_ms}, "
              f"batch.size={s.batch_size}; a fresh broker per client", file=out)
    hdr = (f"{'client':<12} {'records/s':>11} {'MB/s':>7} {'CPU-s/1M':>9} "
           f"{'thr/rdkafka':>11} {'CPU/rdkafka':>11} {'wall s':>7} {'user s':>7} "
           f"{'sys s':>6} {'RSS MB':>7} {'broker CPU-s':>12}")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for name in order:
        r = rows.get(name)
        if r is None:
            continue
        if r["status"] == "skipped":
            why = r.get("reason")
            print(f"{name:<12} skipped" + (f": {why}" if why and why != "skipped (--skip)"
                                           else ""), file=out)
            continue
        if r["status"] != "ok":
            print(f"{name:<12} FAILED: {r.get('reason')}", file=out)
            continue
        thr = r.get("throughput_vs_librdkafka")
        cpu = r.get("cpu_vs_librdkafka")
        print(f"{name:<12} {r['records_per_s']:>11,.0f} {r['mb_per_s']:>7.1f} "
              f"{r['cpu_s_per_million']:>9.3f} "
              f"{(f'{thr:.2f}x' if thr else '-'):>11} {(f'{cpu:.2f}x' if cpu else '-'):>11} "
              f"{r['wall_s']:>7.2f} {r['user_s']:>7.2f} {r['sys_s']:>6.2f} "
              f"{r['max_rss_mb']:>7.0f} {r.get('broker_cpu_s', float('nan')):>12.2f}"
              + (f"  ({r['attempts_ok']}/{r['attempts']} runs ok)"
                 if r.get("attempts_ok", 1) < r.get("attempts", 1) else ""), file=out)


def print_notes(ctx, s, out=sys.stdout):
    print("\nrecords/s and MB/s (10^6 bytes of record values) use the wall time from "
          "starting the client process to its exit after every acknowledgement "
          "(consume: after reading every record); CPU-s is "
          "user+sys of that process (rusage), scaled to 1M records. Process start-up is "
          "included for every client: for the Java client that is JVM start-up and JIT "
          "warm-up, reported as is.", file=out)
    if not ctx.security.plaintext:
        print(f"Security: every timed client on the broker's SASL_SSL listener "
              f"({ctx.security.label()}); topic creation"
              + (", loading" if s.mode == "consume" else "")
              + " and verification on its PLAINTEXT listener.", file=out)
    print("Settings per client:", file=out)
    for name in ctx.client_order:
        c = CLIENTS[name]
        print(f"  {name:<11} {c.label}; {ctx.versions.get(name, '')}", file=out)
        print(f"  {'':<11} {json.dumps(client_settings(ctx, s, c))}", file=out)


def client_settings(ctx, s, c):
    """The client's settings, plus how it connects when secured."""
    d = c.settings(ctx, s)
    if not ctx.security.plaintext:
        d = dict(d)
        why = c.unsupported(s)
        d["security"] = f"not run: {why}" if why else c.security_setting(ctx.security)
    return d


# --------------------------------------------------------------------- main

class Ctx:
    pass


def main(argv):
    p = argparse.ArgumentParser(
        description="End-to-end producer / consumer benchmark: kafkite vs librdkafka, Java, "
                    "rskafka.")
    p.add_argument("--mode", choices=["produce", "consume"], default="produce",
                   help="what to benchmark: produce, or consume a topic loaded beforehand "
                        "(see the docstring)")
    p.add_argument("--brokers", default="kafka,tansu", help="comma list of: " + ",".join(BROKERS))
    p.add_argument("--security", choices=["plaintext", "sasl_ssl"], default="plaintext",
                   help="how the timed clients connect: plaintext, or sasl_ssl (SCRAM-SHA-512 "
                        "as alice over TLS trusting the test CA, on Kafka started with "
                        "KAFKA_SECURE=1; tansu has no TLS, so only Kafka runs; topic creation "
                        "and verification stay on PLAINTEXT)")
    p.add_argument("--clients", default="kafkite,librdkafka,java,rskafka",
                   help="comma list, run in this order, of: " + ",".join(CLIENTS))
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--record-size", type=int, default=100)
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--acks", default="1", choices=["0", "1", "all"])
    p.add_argument("--linger-ms", type=int, default=5,
                   help="linger.ms for every client (5 = Java 4.x, librdkafka and kafkite default)")
    p.add_argument("--batch-size", type=int, default=65536,
                   help="batch.size in bytes for every client (65536 = kafkite's default)")
    p.add_argument("--delivery-timeout-ms", type=int, default=30000,
                   help="delivery.timeout.ms / message.timeout.ms for every client that has one")
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per client and broker (each on a fresh broker); the median is shown")
    p.add_argument("--tokio-runtime", choices=["multi", "current"], default="multi",
                   help="rskafka's tokio runtime (and kafkite's with --kafkite-runtime same)")
    p.add_argument("--kafkite-runtime", choices=["io-thread", "same", "multi", "current"],
                   default="io-thread",
                   help="where kafkite's driver runs: io-thread (a kafkite_tokio::IoThread, "
                        "the bench's loop on a current-thread runtime), or a tokio runtime "
                        "shared with the bench's loop (same: --tokio-runtime's)")
    p.add_argument("--skip", default="",
                   help="comma list of BROKER/CLIENT pairs not to run (reported as skipped), "
                        "e.g. tansu/java, which fails there after ~2 min (see README)")
    p.add_argument("--client-timeout", type=float, default=0,
                   help="seconds before a client is killed and its run failed "
                        "(default 60 + 1 s per 5,000 records)")
    p.add_argument("--baseline", default=None, metavar="REV",
                   help="a commit to build kafkite-bench at too, for the clients kafkite-base "
                        "and kafkite-packed-base (before and after a change in one run)")
    p.add_argument("--no-build", action="store_true", help="use the bench binaries as built")
    p.add_argument("--keep", action="store_true", help="keep broker data and client logs")
    p.add_argument("--out", help="JSON results file (default .cache/bench-e2e/<timestamp>.json)")
    a = p.parse_args(argv)

    t_all = time.monotonic()
    s = Settings(a)
    ctx = Ctx()
    ctx.python = sys.executable
    ctx.no_build = a.no_build
    ctx.keep = a.keep
    ctx.security = Security(a.security)
    ctx.tokio_runtime = a.tokio_runtime
    ctx.kafkite_runtime = a.tokio_runtime if a.kafkite_runtime == "same" else a.kafkite_runtime
    ctx.target_dir = Path(os.environ.get("CARGO_TARGET_DIR") or BENCH_DIR / "target")
    ctx.bin_dir = ctx.target_dir / "release"
    ctx.baseline = a.baseline
    ctx.baseline_dir = REPO / ".cache" / "bench-baseline" / (a.baseline or "none")
    ctx.work_dir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    ctx.client_timeout = (lambda st: a.client_timeout) if a.client_timeout else \
        (lambda st: 60 + st.records / 5000)
    inputs = {}

    def input_file(st):
        key = (st.records, st.record_size)
        if key not in inputs:
            path = ctx.work_dir / f"input-{st.records}x{st.record_size}.txt"
            line = payload(st.record_size) + b"\n"
            with open(path, "wb") as f:
                chunk = line * 10000
                for _ in range(st.records // 10000):
                    f.write(chunk)
                f.write(line * (st.records % 10000))
            inputs[key] = path
        return inputs[key]

    ctx.input_file = input_file

    brokers = [BROKERS[b] for b in a.brokers.split(",") if b]
    not_run_brokers = {}
    if not ctx.security.plaintext:
        for b in brokers:
            if b.name != "kafka":
                not_run_brokers[b.name] = (f"{b.name} has no TLS: with --security {a.security} "
                                           "only the Kafka broker runs")
                log(f"{b.name}: not run: {not_run_brokers[b.name]}")
                print(f"{b.name}: not run: {not_run_brokers[b.name]}", flush=True)
        brokers = [b for b in brokers if b.name == "kafka"]
        if not brokers:
            p.error(f"--security {a.security} needs the kafka broker (--brokers kafka)")
    skip = {x.strip() for x in a.skip.split(",") if x.strip()}
    ctx.client_order = [c for c in a.clients.split(",") if c]
    for name in ctx.client_order:
        if name not in CLIENTS:
            p.error(f"unknown client {name}")
    unavailable = {}
    ctx.versions = {}
    for name in ctx.client_order:
        if CLIENTS[name].unsupported(s):
            continue  # reported as skipped, with why, and not built
        why = CLIENTS[name].build(ctx)
        if why:
            log(f"{name}: not run: {why}")
            unavailable[name] = why
        else:
            ctx.versions[name] = CLIENTS[name].version(ctx)

    started = datetime.datetime.now(datetime.timezone.utc)
    all_runs = []
    tables = {}
    try:
        for broker in brokers:
            rows = {}
            runs = {}
            # Attempts round-robin over the clients (A B C D A B C D ...), so
            # that a change in machine load spreads over all of them.
            for attempt in range(1, a.repeat + 1):
                for name in ctx.client_order:
                    if f"{broker.name}/{name}" in skip:
                        rows[name] = {"broker": broker.name, "client": name,
                                      "status": "skipped", "reason": "skipped (--skip)"}
                        if attempt == 1:
                            all_runs.append(rows[name])
                        continue
                    if name in unavailable:
                        rows[name] = {"broker": broker.name, "client": name, "status": "failed",
                                      "reason": f"not run: {unavailable[name]}"}
                        if attempt == 1:
                            all_runs.append(rows[name])
                        continue
                    why_not = CLIENTS[name].unsupported(s)
                    if why_not:
                        rows[name] = {"broker": broker.name, "client": name,
                                      "status": "skipped", "reason": why_not}
                        if attempt == 1:
                            log(f"{broker.name} / {name}: not run: {why_not}")
                            all_runs.append(rows[name])
                        continue
                    log(f"{broker.name} / {name} (run {attempt}/{a.repeat}): starting")
                    r = run_one(ctx, broker, CLIENTS[name], s, attempt)
                    if r["status"] == "ok":
                        log(f"{broker.name} / {name}: {r['records_per_s']:,.0f} records/s, "
                            f"{r['cpu_s_per_million']:.3f} CPU-s/1M, wall {r['wall_s']:.2f} s "
                            f"(run took {r['run_s']} s)")
                    else:
                        log(f"{broker.name} / {name}: FAILED: {r['reason']}")
                    runs.setdefault(name, []).append(r)
                    all_runs.append(r)
            for name, rs in runs.items():
                rows[name] = dict(summarize(rs))
                rows[name]["attempts"] = len(rs)
                rows[name]["attempts_ok"] = sum(1 for r in rs if r["status"] == "ok")
            add_ratios(rows)
            tables[broker.name] = rows
            print_table(broker, s, rows, ctx.client_order)
    finally:
        if not ctx.keep:
            shutil.rmtree(ctx.work_dir, ignore_errors=True)
    print_notes(ctx, s)
    total = time.monotonic() - t_all
    print(f"\nwhole run: {total:.0f} s", flush=True)

    out = Path(a.out) if a.out else CACHE / "bench-e2e" / (started.strftime("%Y%m%dT%H%M%SZ") + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "started": started.isoformat(),
        "total_s": round(total, 1),
        "machine": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg(),
                    "uname": " ".join(os.uname())},
        "settings": s.as_dict(),
        "tokio_runtime": ctx.tokio_runtime,
        "kafkite_runtime": ctx.kafkite_runtime,
        "security": ctx.security.as_dict(),
        "brokers": {b.name: b.label for b in brokers},
        "clients": {n: {"label": CLIENTS[n].label, "version": ctx.versions.get(n),
                        "settings": client_settings(ctx, s, CLIENTS[n])}
                    for n in ctx.client_order},
        "baseline": BASELINE,
        "summary": {b: {n: {k: v for k, v in r.items() if k != "stderr_tail"}
                        for n, r in rows.items()} for b, rows in tables.items()},
        "runs": all_runs,
    }
    if not_run_brokers:
        doc["brokers_not_run"] = not_run_brokers
    out.write_text(json.dumps(doc, indent=1, default=str))
    print(f"results: {out}")
    failed = [f"{r['broker']}/{r['client']}" for rows in tables.values() for r in rows.values()
              if r["status"] == "failed"]
    return 1 if failed else 0


# ------------------------------------------------------- helpers (own process)

def _create_topic(bootstrap, topic, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic
    partitions = int(partitions)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=30).values():
        f.result(timeout=60)
    deadline = time.monotonic() + 60
    while True:
        md = admin.list_topics(topic, timeout=10)
        t = md.topics.get(topic)
        if t and not t.error and len(t.partitions) == partitions and \
                all(p.leader >= 0 for p in t.partitions.values()):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic} not ready: {t and t.error}")
        time.sleep(0.1)
    print(json.dumps({"topic": topic, "partitions": partitions}))


def _verify(bootstrap, topic, partitions, records, record_size, list_offsets_ok):
    """Reads the topic back: per partition the record count, value sizes, the
    Fetch high watermark (cached from Fetch responses) and ListOffsets."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition, OFFSET_BEGINNING
    partitions, records, size = int(partitions), int(records), int(record_size)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-e2e-verify",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "auto.offset.reset": "earliest"})
    tps = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)]
    c.assign(tps)
    counts = [0] * partitions
    wrong_size = 0
    errors = []
    eof = set()
    deadline = time.monotonic() + 240
    while len(eof) < partitions and time.monotonic() < deadline:
        for m in c.consume(num_messages=20000, timeout=1.0):
            err = m.error()
            if err is None:
                counts[m.partition()] += 1
                v = m.value()
                if v is None or len(v) != size:
                    wrong_size += 1
            elif err.code() == KafkaError._PARTITION_EOF:
                eof.add(m.partition())
            else:
                errors.append(str(err))
                if len(errors) > 5:
                    break
        if len(errors) > 5:
            break
    fetch_hwm, list_offsets = [], []
    for p in range(partitions):
        tp = TopicPartition(topic, p)
        fetch_hwm.append(c.get_watermark_offsets(tp, cached=True)[1])
        try:
            list_offsets.append(c.get_watermark_offsets(tp, timeout=10, cached=False)[1])
        except Exception as e:  # noqa: BLE001
            list_offsets.append(f"error: {e}")
    c.close()
    problems = []
    if len(eof) < partitions:
        problems.append(f"read-back did not reach the end of partitions "
                        f"{sorted(set(range(partitions)) - eof)}")
    if sum(counts) != records:
        problems.append(f"read back {sum(counts)} records, not {records} (per partition {counts})")
    if wrong_size:
        problems.append(f"{wrong_size} records without a {size}-byte value")
    if fetch_hwm != counts:
        problems.append(f"Fetch high watermarks {fetch_hwm} differ from records read {counts}")
    lo_sum = sum(x for x in list_offsets if isinstance(x, int))
    if list_offsets_ok == "1" and (lo_sum != records or
                                   any(not isinstance(x, int) for x in list_offsets)):
        problems.append(f"ListOffsets latest {list_offsets} sum to {lo_sum}, not {records}")
    if errors:
        problems.append("consumer errors: " + "; ".join(errors[:3]))
    print(json.dumps({"ok": not problems, "problems": problems, "per_partition": counts,
                      "fetch_high_watermarks": fetch_hwm, "list_offsets_latest": list_offsets,
                      "list_offsets_trusted": list_offsets_ok == "1"}))


def _latest(bootstrap, topic, partitions):
    """ListOffsets latest per partition (trusted on Kafka only)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-e2e-prepare"})
    out = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=30, cached=False)[1]
           for p in range(int(partitions))]
    c.close()
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_create-topic":
        _create_topic(*sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "_latest":
        _latest(*sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "_verify":
        _verify(*sys.argv[2:])
    else:
        sys.exit(main(sys.argv[1:]))
