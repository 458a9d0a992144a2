#!/usr/bin/env python3
"""Standalone librdkafka mock Kafka cluster, driven over stdin.

Runs librdkafka 2.16's built-in mock cluster (rdkafka_mock.h) through ctypes,
using the librdkafka that the confluent-kafka wheel bundles (or RDKAFKA_LIB).
Needs no Python package itself: any python3 works once
`scripts/peers/install.sh mock` has made .cache/venv.

    mock_cluster.py [--brokers N] [--pid-file PATH] [--rebalance-delay-ms MS]
    mock_cluster.py --check      # load the library, start+stop a cluster, exit

Prints one line `BOOTSTRAP=127.0.0.1:P1,127.0.0.1:P2,...` on stdout (flushed),
then reads commands, one per line, from stdin and answers each with exactly
one line: `ok`, `ok <value>` or `err <reason>`. EOF on stdin, `quit`, SIGTERM
or SIGINT destroy the cluster and exit 0.

Commands (ids are broker ids 1..N; -1 means all brokers where noted;
error codes are numbers or librdkafka names such as NOT_LEADER_OR_FOLLOWER,
_TRANSPORT (disconnect), with or without the RD_KAFKA_RESP_ERR_ prefix):
    ping                                   -> ok
    bootstraps                             -> ok host:port,...
    topic_create NAME PARTITIONS RF
    topic_delete NAME
    topic_set_error NAME CODE              (Metadata/AddPartitionsToTxn)
    broker_down ID|-1                      (disconnects; no leader change)
    broker_up ID|-1
    set_rtt ID|-1 MS
    broker_set_rack ID|-1 RACK
    broker_decommission ID                 (partitions move to other brokers)
    broker_add ID
    partition_leader TOPIC PART BROKER|-1  (-1: leader-less)
    partition_follower TOPIC PART BROKER
    partition_follower_wmarks TOPIC PART LO HI
    push_errors APIKEY CODE [CODE...]      (cluster-wide, next requests of APIKEY)
    clear_errors APIKEY
    broker_push_errors ID APIKEY CODE[:RTT_MS] [...]   (per broker, with delays)
    broker_error_count ID APIKEY           -> ok N (entries left on that stack)
    coordinator group|transaction KEY BROKER
    set_apiversion APIKEY MIN MAX          (-1 -1 disables the API)
    group_initial_rebalance_delay MS
    quit                                   -> ok, then exit
"""
import ctypes
import glob
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(os.path.dirname(os.path.dirname(HERE)), ".cache")


def find_lib():
    env = os.environ.get("RDKAFKA_LIB")
    if env:
        return env
    cands = sorted(glob.glob(os.path.join(
        CACHE, "venv", "lib", "python3*", "site-packages",
        "confluent_kafka.libs", "librdkafka*.so.1")))
    cands.append(os.path.join(CACHE, "rdkafka-lib", "librdkafka.so.1"))
    for c in cands:
        if os.path.exists(c):
            return c
    try:  # running under a python that has confluent-kafka installed
        import confluent_kafka  # noqa: F401
        d = os.path.join(os.path.dirname(os.path.dirname(confluent_kafka.__file__)),
                         "confluent_kafka.libs")
        found = glob.glob(os.path.join(d, "librdkafka*.so.1"))
        if found:
            return found[0]
    except ImportError:
        pass
    raise SystemExit("mock_cluster.py: librdkafka not found; run scripts/peers/install.sh mock "
                     "or set RDKAFKA_LIB")


c_p = ctypes.c_void_p
c_err = ctypes.c_int  # rd_kafka_resp_err_t is a C enum (int)


# Kafka protocol error names that librdkafka spells differently.
KAFKA_ERROR_ALIASES = {
    "CORRUPT_MESSAGE": 2,
    "UNKNOWN_TOPIC_OR_PARTITION": 3,
    "INVALID_FETCH_SIZE": 4,
    "NOT_LEADER_OR_FOLLOWER": 6,
    "MESSAGE_TOO_LARGE": 10,
    "STALE_CONTROLLER_EPOCH": 11,
    "INVALID_TOPIC_EXCEPTION": 17,
    "INVALID_PRODUCER_ID_MAPPING": 49,
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED": 53,
}


class ErrDesc(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("name", ctypes.c_char_p), ("desc", ctypes.c_char_p)]


class Lib:
    def __init__(self, path):
        lib = ctypes.CDLL(path)
        self.lib = lib

        def fn(name, res, *args):
            f = getattr(lib, name)
            f.restype = res
            f.argtypes = list(args)
            return f

        i32, i16, i64, sz, s = ctypes.c_int32, ctypes.c_int16, ctypes.c_int64, ctypes.c_size_t, ctypes.c_char_p
        self.version_str = fn("rd_kafka_version_str", s)
        self.conf_new = fn("rd_kafka_conf_new", c_p)
        self.conf_set = fn("rd_kafka_conf_set", ctypes.c_int, c_p, s, s, ctypes.c_char_p, sz)
        self.new = fn("rd_kafka_new", c_p, ctypes.c_int, c_p, ctypes.c_char_p, sz)
        self.destroy = fn("rd_kafka_destroy", None, c_p)
        self.err2str = fn("rd_kafka_err2str", s, c_err)
        self.err2name = fn("rd_kafka_err2name", s, c_err)
        self.get_err_descs = fn("rd_kafka_get_err_descs", None,
                                ctypes.POINTER(ctypes.POINTER(ErrDesc)), ctypes.POINTER(sz))
        m = "rd_kafka_mock_"
        self.cluster_new = fn(m + "cluster_new", c_p, c_p, ctypes.c_int)
        self.cluster_destroy = fn(m + "cluster_destroy", None, c_p)
        self.bootstraps = fn(m + "cluster_bootstraps", s, c_p)
        self.topic_create = fn(m + "topic_create", c_err, c_p, s, ctypes.c_int, ctypes.c_int)
        self.topic_delete = fn(m + "topic_delete", c_err, c_p, s)
        self.topic_set_error = fn(m + "topic_set_error", None, c_p, s, c_err)
        self.broker_set_down = fn(m + "broker_set_down", c_err, c_p, i32)
        self.broker_set_up = fn(m + "broker_set_up", c_err, c_p, i32)
        self.broker_set_rtt = fn(m + "broker_set_rtt", c_err, c_p, i32, ctypes.c_int)
        self.broker_set_rack = fn(m + "broker_set_rack", c_err, c_p, i32, s)
        self.broker_decommission = fn(m + "broker_decommission", c_err, c_p, i32)
        self.broker_add = fn(m + "broker_add", c_err, c_p, i32)
        self.partition_set_leader = fn(m + "partition_set_leader", c_err, c_p, s, i32, i32)
        self.partition_set_follower = fn(m + "partition_set_follower", c_err, c_p, s, i32, i32)
        self.partition_set_follower_wmarks = fn(m + "partition_set_follower_wmarks", c_err,
                                                c_p, s, i32, i64, i64)
        self.push_request_errors_array = fn(m + "push_request_errors_array", None,
                                            c_p, i16, sz, ctypes.POINTER(c_err))
        self.clear_request_errors = fn(m + "clear_request_errors", None, c_p, i16)
        # Variadic: (mcluster, broker_id, ApiKey, cnt, err1, rtt1, err2, rtt2, ...);
        # the fixed part is declared, the (int, int) pairs are passed as c_int.
        self.broker_push_request_error_rtts = getattr(lib, m + "broker_push_request_error_rtts")
        self.broker_push_request_error_rtts.restype = c_err
        self.broker_error_stack_cnt = fn(m + "broker_error_stack_cnt", c_err, c_p, i32, i16,
                                         ctypes.POINTER(sz))
        self.coordinator_set = fn(m + "coordinator_set", c_err, c_p, s, s, i32)
        self.set_apiversion = fn(m + "set_apiversion", c_err, c_p, i16, i16, i16)
        self.group_initial_rebalance_delay_ms = fn(m + "group_initial_rebalance_delay_ms",
                                                   None, c_p, i32)

        # error name -> code, from librdkafka's own table
        descs = ctypes.POINTER(ErrDesc)()
        cnt = ctypes.c_size_t()
        self.get_err_descs(ctypes.byref(descs), ctypes.byref(cnt))
        self.err_codes = dict(KAFKA_ERROR_ALIASES)
        for i in range(cnt.value):
            d = descs[i]
            if d.name:
                self.err_codes[d.name.decode().upper()] = d.code


class Cluster:
    def __init__(self, lib, brokers):
        self.lib = lib
        conf = lib.conf_new()
        errstr = ctypes.create_string_buffer(512)
        for k, v in (("log_level", "3"), ("client.id", "kafkite-mock-cluster")):
            if lib.conf_set(conf, k.encode(), v.encode(), errstr, 512) != 0:
                raise SystemExit("conf %s: %s" % (k, errstr.value.decode()))
        # The handle only owns the cluster; it has no bootstrap servers and
        # never connects anywhere.
        self.rk = lib.new(0, conf, errstr, 512)  # RD_KAFKA_PRODUCER
        if not self.rk:
            raise SystemExit("rd_kafka_new: " + errstr.value.decode())
        self.mc = lib.cluster_new(self.rk, brokers)
        if not self.mc:
            lib.destroy(self.rk)
            raise SystemExit("rd_kafka_mock_cluster_new failed")

    def bootstraps(self):
        return self.lib.bootstraps(self.mc).decode()

    def close(self):
        if self.mc:
            self.lib.cluster_destroy(self.mc)
            self.mc = None
        if self.rk:
            self.lib.destroy(self.rk)
            self.rk = None


class CmdError(Exception):
    pass


def to_int(s, what):
    try:
        return int(s, 0)
    except ValueError:
        raise CmdError("bad %s %r" % (what, s))


class Server:
    def __init__(self, cluster):
        self.c = cluster
        self.lib = cluster.lib
        self.mc = cluster.mc

    def code(self, s):
        try:
            return int(s, 0)
        except ValueError:
            pass
        k = s.upper()
        if k.startswith("RD_KAFKA_RESP_ERR_"):
            k = k[len("RD_KAFKA_RESP_ERR_"):]
        if k in self.lib.err_codes:
            return self.lib.err_codes[k]
        raise CmdError("unknown error code %r" % s)

    def check(self, err):
        if err != 0:
            raise CmdError("%s: %s" % (self.lib.err2name(err).decode(), self.lib.err2str(err).decode()))
        return None

    def run(self, line):
        parts = line.split()
        if not parts:
            raise CmdError("empty command")
        cmd, a = parts[0], parts[1:]
        h = getattr(self, "cmd_" + cmd, None)
        if h is None:
            raise CmdError("unknown command %r" % cmd)
        nargs = h.__code__.co_argcount - 1
        variadic = bool(h.__code__.co_flags & 0x04)
        if len(a) < nargs or (not variadic and len(a) > nargs):
            raise CmdError("usage: %s %s" % (cmd, " ".join(h.__code__.co_varnames[1:nargs + 1]) +
                                             (" ..." if variadic else "")))
        return h(*a)

    def cmd_ping(self):
        return None

    def cmd_bootstraps(self):
        return self.c.bootstraps()

    def cmd_topic_create(self, name, partitions, rf):
        return self.check(self.lib.topic_create(self.mc, name.encode(), to_int(partitions, "partitions"),
                                                to_int(rf, "replication factor")))

    def cmd_topic_delete(self, name):
        return self.check(self.lib.topic_delete(self.mc, name.encode()))

    def cmd_topic_set_error(self, name, code):
        self.lib.topic_set_error(self.mc, name.encode(), self.code(code))

    def cmd_broker_down(self, broker):
        return self.check(self.lib.broker_set_down(self.mc, to_int(broker, "broker")))

    def cmd_broker_up(self, broker):
        return self.check(self.lib.broker_set_up(self.mc, to_int(broker, "broker")))

    def cmd_set_rtt(self, broker, ms):
        return self.check(self.lib.broker_set_rtt(self.mc, to_int(broker, "broker"), to_int(ms, "ms")))

    def cmd_broker_set_rack(self, broker, rack):
        return self.check(self.lib.broker_set_rack(self.mc, to_int(broker, "broker"), rack.encode()))

    def cmd_broker_decommission(self, broker):
        return self.check(self.lib.broker_decommission(self.mc, to_int(broker, "broker")))

    def cmd_broker_add(self, broker):
        return self.check(self.lib.broker_add(self.mc, to_int(broker, "broker")))

    def cmd_partition_leader(self, topic, part, broker):
        return self.check(self.lib.partition_set_leader(self.mc, topic.encode(), to_int(part, "partition"),
                                                        to_int(broker, "broker")))

    def cmd_partition_follower(self, topic, part, broker):
        return self.check(self.lib.partition_set_follower(self.mc, topic.encode(), to_int(part, "partition"),
                                                          to_int(broker, "broker")))

    def cmd_partition_follower_wmarks(self, topic, part, lo, hi):
        return self.check(self.lib.partition_set_follower_wmarks(
            self.mc, topic.encode(), to_int(part, "partition"), to_int(lo, "lo"), to_int(hi, "hi")))

    def cmd_push_errors(self, apikey, code, *codes):
        errs = [self.code(x) for x in (code,) + codes]
        arr = (c_err * len(errs))(*errs)
        self.lib.push_request_errors_array(self.mc, to_int(apikey, "apikey"), len(errs), arr)

    def cmd_clear_errors(self, apikey):
        self.lib.clear_request_errors(self.mc, to_int(apikey, "apikey"))

    def cmd_broker_push_errors(self, broker, apikey, entry, *entries):
        args = []
        for e in (entry,) + entries:
            code, _, rtt = e.partition(":")
            args += [ctypes.c_int(self.code(code)), ctypes.c_int(to_int(rtt or "0", "rtt"))]
        n = len(args) // 2
        return self.check(self.lib.broker_push_request_error_rtts(
            c_p(self.mc), ctypes.c_int32(to_int(broker, "broker")), ctypes.c_int16(to_int(apikey, "apikey")),
            ctypes.c_size_t(n), *args))

    def cmd_broker_error_count(self, broker, apikey):
        cnt = ctypes.c_size_t()
        self.check(self.lib.broker_error_stack_cnt(self.mc, to_int(broker, "broker"),
                                                   to_int(apikey, "apikey"), ctypes.byref(cnt)))
        return cnt.value

    def cmd_coordinator(self, key_type, key, broker):
        if key_type not in ("group", "transaction"):
            raise CmdError("key type must be group or transaction")
        return self.check(self.lib.coordinator_set(self.mc, key_type.encode(), key.encode(),
                                                   to_int(broker, "broker")))

    def cmd_set_apiversion(self, apikey, minv, maxv):
        return self.check(self.lib.set_apiversion(self.mc, to_int(apikey, "apikey"), to_int(minv, "min"),
                                                  to_int(maxv, "max")))

    def cmd_group_initial_rebalance_delay(self, ms):
        self.lib.group_initial_rebalance_delay_ms(self.mc, to_int(ms, "ms"))


def main(argv):
    brokers, pid_file, delay, check = 3, None, None, False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--brokers", "-n") and i + 1 < len(argv):
            brokers = int(argv[i + 1]); i += 1
        elif a == "--pid-file" and i + 1 < len(argv):
            pid_file = argv[i + 1]; i += 1
        elif a == "--rebalance-delay-ms" and i + 1 < len(argv):
            delay = int(argv[i + 1]); i += 1
        elif a == "--check":
            check = True
        elif a in ("-h", "--help"):
            print(__doc__); return 0
        elif a.isdigit():
            brokers = int(a)
        else:
            print("mock_cluster.py: unknown argument %r" % a, file=sys.stderr); return 2
        i += 1

    path = find_lib()
    lib = Lib(path)
    ver = lib.version_str().decode()
    cluster = Cluster(lib, brokers)
    if check:
        bs = cluster.bootstraps()
        cluster.close()
        print("mock_cluster.py: librdkafka %s at %s: %d-broker cluster started and stopped (%s)"
              % (ver, path, brokers, bs))
        return 0

    def on_signal(signum, frame):
        cluster.close()
        os._exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    if pid_file:
        with open(pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    if delay is not None:
        lib.group_initial_rebalance_delay_ms(cluster.mc, delay)
    print("mock_cluster.py: librdkafka %s, %d brokers" % (ver, brokers), file=sys.stderr)
    sys.stdout.write("BOOTSTRAP=%s\n" % cluster.bootstraps())
    sys.stdout.flush()

    srv = Server(cluster)
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line == "quit":
                sys.stdout.write("ok\n"); sys.stdout.flush()
                break
            try:
                res = srv.run(line)
                out = "ok" if res is None else "ok %s" % res
            except CmdError as e:
                out = "err %s" % e
            except Exception as e:  # never die on a bad command
                out = "err %s: %s" % (type(e).__name__, e)
            sys.stdout.write(out.replace("\n", " ") + "\n")
            sys.stdout.flush()
    except BrokenPipeError:
        pass
    finally:
        cluster.close()
        if pid_file:
            try:
                os.unlink(pid_file)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
