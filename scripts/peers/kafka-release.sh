#!/usr/bin/env bash
# A given Apache Kafka release as a test peer: ZooKeeper + one broker before
# 4.0, KRaft from 4.0 (4.4.0 is run by kafka.sh itself).
#
#   kafka-release.sh install VERSION         jars -> .cache/kafka-VERSION/libs
#   kafka-release.sh start DATA_DIR VERSION  start; prints BOOTSTRAP=127.0.0.1:PORT,
#                                            PID=..., VERSION=..., (ZOOKEEPER=...)
#   kafka-release.sh stop DATA_DIR           SIGTERM (controlled shutdown), SIGKILL after 30 s
#   kafka-release.sh kill DATA_DIR           SIGKILL now (a crash); data and ports kept
#   kafka-release.sh status DATA_DIR         prints the same lines as start if running
#   kafka-release.sh versions                the releases it knows, oldest first
#
# Releases: 0.8.2.2 (the Dart package's broker), 0.10.2.2 (first
# ApiVersions), 0.11.0.3 (RecordBatch v2, idempotence), 2.8.2, 3.9.1 (the
# last with ZooKeeper), 4.4.0. Jars come from Maven Central through Maven
# (a pom written into the cache; the broker artifact pulls its own
# dependencies, plus the slf4j binding the binary distributions ship in libs/).
#
# Auto-created topics get 2 partitions (4.4.0: 1, as kafka.sh sets).
# DATA_DIR holds the broker's server.properties, log4j.properties, kafka.log,
# pid, version and log dirs (data/), and ZooKeeper's zoo.cfg, pid, log and data in
# DATA_DIR/zookeeper/. A DATA_DIR started before is restarted with the same
# release, ports and data (to bring a killed broker back).
# `kill` takes the broker and ZooKeeper down together, as a machine crash
# would: a broker restarted against a live ZooKeeper waits for its old
# session (zookeeper.session.timeout.ms) to expire before it can register.
# Binds only to 127.0.0.1, on ports the OS picked as free.
#
# KAFKA_SASL_PLAIN=1 (read on a DATA_DIR's first start, remembered in
# DATA_DIR/sasl_plain; ZooKeeper-era releases from 0.10: 0.10.2.2,
# 0.11.0.3, 2.8.2 and 3.9.1 here, all verified with kcat): a second
# listener, SASL_PLAINTEXT with mechanism PLAIN only (users admin/admin-secret,
# alice/alice-secret), next to PLAINTEXT (inter-broker); start and status
# also print LISTENER_SASL_PLAINTEXT=127.0.0.1:PORT. The users are in a JAAS
# file (DATA_DIR/kafka_server_jaas.conf, section KafkaServer, passed with
# -Djava.security.auth.login.config): listener-prefixed sasl.jaas.config
# properties arrived only in Kafka 1.0. Before Kafka 1.0 (KIP-152) such a
# broker speaks SaslHandshake v0 framing: raw SASL tokens after the
# handshake, no SaslAuthenticate. (4.4.0: kafka.sh's KAFKA_SECURE=1.)
# Env: KAFKA_START_TIMEOUT (s, default 90), KAFKA_HEAP (default -Xmx512m),
#      KAFKA_JVM_OPTS (extra JVM flags), JAVA (default java),
#      PEER_WATCH_PID (stop the broker and ZooKeeper when that PID exits).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KNOWN_VERSIONS="0.8.2.2 0.10.2.2 0.11.0.3 2.8.2 3.9.1 4.4.0"
JAVA="${JAVA:-java}"

usage() { sed -n '2,44p' "$0" >&2; exit 2; }

known() {
    local v
    for v in $KNOWN_VERSIONS; do [ "$v" = "$1" ] && return 0; done
    die "unknown Kafka release '$1' (known: $KNOWN_VERSIONS)"
}

# The pom's <dependencies> for a ZooKeeper-era release. The Scala build is
# the newest one each release was published for that still runs the
# release's own scala-library (2.11 up to 0.11, 2.13 from 2.8).
dependencies() {
    local artifact logging
    case "$1" in
    0.8.2.2 | 0.10.2.2 | 0.11.0.3)
        artifact=kafka_2.11
        # Their poms already depend on slf4j-log4j12 and log4j 1.2.
        logging=""
        case "$1" in
        0.10.* | 0.11.*)
            # They base64 with javax.xml.bind.DatatypeConverter, which left
            # the JDK in Java 11 (ClassNotFoundException at start on 17).
            logging="$(dep javax.xml.bind jaxb-api 2.3.1)"
            ;;
        esac
        ;;
    2.8.2)
        artifact=kafka_2.13
        logging="$(dep org.slf4j slf4j-log4j12 1.7.30)$(dep log4j log4j 1.2.17)"
        ;;
    3.9.1)
        artifact=kafka_2.13
        # Kafka 3.x ships reload4j (log4j 1.2's maintained fork).
        logging="$(dep org.slf4j slf4j-reload4j 1.7.36)"
        ;;
    *) die "no ZooKeeper-era jar set for $1" ;;
    esac
    dep org.apache.kafka "$artifact" "$1"
    echo "$logging"
}

dep() {
    printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>\n' "$1" "$2" "$3"
}

install_release() {
    local version="$1"
    known "$version"
    if [ "$version" = 4.4.0 ]; then
        "$PEERS_DIR/install.sh" kafka 4.4.0 >&2
        return 0
    fi
    local dest="$CACHE/kafka-$version" pom stamp
    pom="$(
        cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/peers/kafka-release.sh: the jar set of the Apache
     Kafka $version test peer. Nothing is built from it. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkite.peers</groupId>
  <artifactId>kafka-$version-peer</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$(dependencies "$version")
  </dependencies>
</project>
EOF
    )"
    stamp="$(printf '%s' "$pom" | sha256sum | cut -c1-16)"
    if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$stamp" ]; then
        log "kafka $version: already in $dest/libs"
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (Maven is needed for the Kafka jars)"
    mkdir -p "$dest"
    # One download per release at a time (parallel test binaries may ask).
    exec 8>"$dest/.install.lock"
    flock 8
    if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$stamp" ]; then
        return 0
    fi
    local t0 tmp
    t0=$(now_ms)
    tmp="$dest/libs.tmp.$$"
    rm -rf "$tmp" "$dest/pom"
    mkdir -p "$tmp" "$dest/pom"
    printf '%s\n' "$pom" >"$dest/pom/pom.xml"
    log "kafka $version: resolving jars with Maven"
    (cd "$dest/pom" && mvn -q -B dependency:copy-dependencies \
        -DoutputDirectory="$tmp" -DincludeScope=runtime) >&2
    [ -n "$(ls "$tmp"/*.jar 2>/dev/null)" ] || die "kafka $version: Maven copied no jars"
    rm -rf "$dest/libs"
    mv "$tmp" "$dest/libs"
    echo "$stamp" >"$dest/.complete"
    log "kafka $version: $(ls "$dest/libs" | wc -l) jars in $dest/libs ($(($(now_ms) - t0)) ms)"
}

# ---- ZooKeeper-era start/stop ----

print_info() {
    echo "BOOTSTRAP=127.0.0.1:$(cat "$dir/port")"
    echo "ZOOKEEPER=127.0.0.1:$(cat "$zkdir/port")"
    echo "VERSION=$(cat "$dir/version")"
    echo "PID=$1"
    echo "PIDFILE=$dir/pid"
    echo "LOG=$dir/kafka.log"
    if [ -f "$dir/sasl_plain" ]; then
        echo "LISTENER_SASL_PLAINTEXT=127.0.0.1:$(cat "$dir/sasl_port")"
    fi
}

# sasl_plain_supported VERSION: whether KAFKA_SASL_PLAIN=1 can be honoured.
sasl_plain_supported() {
    case "$1" in
    # SASL PLAIN and SaslHandshake came with 0.10.0 (KIP-43); 0.9 had Kerberos only.
    0.8.* | 0.9.*) return 1 ;;
    *) return 0 ;;
    esac
}

# The KafkaServer JAAS section: the broker's own PLAIN login (unused, the
# inter-broker listener is PLAINTEXT, but the module wants it) and the users.
write_jaas() {
    cat >"$dir/kafka_server_jaas.conf" <<'EOF'
// Written by scripts/peers/kafka-release.sh (KAFKA_SASL_PLAIN=1)
KafkaServer {
    org.apache.kafka.common.security.plain.PlainLoginModule required
    username="admin"
    password="admin-secret"
    user_admin="admin-secret"
    user_alice="alice-secret";
};
EOF
}

write_log_config() {
    cat >"$1" <<'EOF'
# Written by scripts/peers/kafka-release.sh
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.zookeeper=WARN
log4j.logger.org.I0Itec.zkclient=WARN
log4j.logger.kafka.request.logger=WARN
EOF
}

write_zk_config() {
    cat >"$zkdir/zoo.cfg" <<EOF
# Written by scripts/peers/kafka-release.sh
tickTime=500
dataDir=$zkdir/data
clientPort=$1
clientPortAddress=127.0.0.1
maxClientCnxns=0
# ZooKeeper 3.5+ would open an HTTP admin server on 8080.
admin.enableServer=false
EOF
}

write_broker_config() {
    local version="$1" port="$2" zkport="$3"
    {
        echo "# Written by scripts/peers/kafka-release.sh for Apache Kafka $version"
        echo "broker.id=0"
        case "$version" in
        0.8.*)
            # Before 0.9 there are no listeners: host.name + port.
            echo "host.name=127.0.0.1"
            echo "port=$port"
            echo "advertised.host.name=127.0.0.1"
            echo "advertised.port=$port"
            ;;
        *)
            if [ -f "$dir/sasl_plain" ]; then
                local sport
                sport="$(cat "$dir/sasl_port")"
                echo "listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sport"
                echo "advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sport"
                echo "security.inter.broker.protocol=PLAINTEXT"
                echo "sasl.enabled.mechanisms=PLAIN"
            else
                echo "listeners=PLAINTEXT://127.0.0.1:$port"
                echo "advertised.listeners=PLAINTEXT://127.0.0.1:$port"
            fi
            ;;
        esac
        cat <<EOF
zookeeper.connect=127.0.0.1:$zkport
zookeeper.connection.timeout.ms=30000
# Short: a restarted broker re-registers once its old session expired.
zookeeper.session.timeout.ms=6000
log.dirs=$dir/data
# Two, so that the Dart package's producer example (partitions 0 and 1)
# runs on 0.8.2, which creates topics only by auto-creation.
num.partitions=2
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
EOF
        case "$version" in
        0.8.* | 0.10.*) ;;
        *)
            # 0.11+: the transaction log and the initial rebalance delay.
            cat <<EOF
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
EOF
            ;;
        esac
    } >"$dir/server.properties"
}

start_zk_era() {
    local version="$1" pid zkpid t0 from
    local libs="$CACHE/kafka-$version/libs"
    local jvm_opts=(-Dlog4j.configuration="file:$dir/log4j.properties" -Djava.net.preferIPv4Stack=true)
    t0=$(now_ms)
    if pid="$(running_pid "$dir")"; then
        log "already running"
        print_info "$pid"
        return 0
    fi
    if [ ! -f "$dir/configured" ]; then
        local ports=()
        if [ "${KAFKA_SASL_PLAIN:-0}" = 1 ]; then
            sasl_plain_supported "$version" ||
                die "KAFKA_SASL_PLAIN=1: Kafka $version has no SASL PLAIN (0.10 and later have)"
            touch "$dir/sasl_plain"
        fi
        read -r -a ports <<<"$(free_ports 3)"
        echo "${ports[0]}" >"$dir/port"
        echo "${ports[1]}" >"$zkdir/port"
        if [ -f "$dir/sasl_plain" ]; then
            echo "${ports[2]}" >"$dir/sasl_port"
            write_jaas
        fi
        echo "$version" >"$dir/version"
        write_log_config "$dir/log4j.properties"
        write_zk_config "$(cat "$zkdir/port")"
        write_broker_config "$version" "$(cat "$dir/port")" "$(cat "$zkdir/port")"
        touch "$dir/configured"
    fi
    if ! zkpid="$(running_pid "$zkdir")"; then
        echo "=== start $(date -Is)" >>"$zkdir/zookeeper.log"
        zkpid="$(spawn "$zkdir" "$zkdir/zookeeper.log" "$JAVA" -Xmx128m "${jvm_opts[@]}" \
            -cp "$libs/*" org.apache.zookeeper.server.ZooKeeperServerMain "$zkdir/zoo.cfg")"
        watchdog "$zkdir" "$zkpid"
        wait_ready "$zkdir" "$zkpid" "$(cat "$zkdir/port")" 60 || start_failed "$zkdir" "$zkdir/zookeeper.log"
        log "zookeeper ready in $(($(now_ms) - t0)) ms"
    fi
    # A broker killed with its ZooKeeper comes back to a ZooKeeper that
    # restored the old session from its log, ephemeral /brokers/ids/0
    # included, until that session expires (zookeeper.session.timeout.ms):
    # the broker exits with "already registered"; start it again.
    local attempt
    for attempt in 1 2 3 4 5 6; do
        spawn_broker "$version" "$libs"
        case "$(wait_broker)" in
        ready) break ;;
        registered)
            [ "$attempt" -lt 6 ] || zk_era_failed
            log "broker $version: old ZooKeeper session still holds /brokers/ids/0; retrying in 2 s"
            sleep 2
            ;;
        *) zk_era_failed ;;
        esac
    done
    echo "127.0.0.1:$(cat "$dir/port")" >"$dir/bootstrap"
    log "kafka $version ready in $(($(now_ms) - t0)) ms"
    print_info "$pid"
}

# spawn_broker VERSION LIBS: starts kafka.Kafka; sets pid and from (the
# first log line of this run: a restarted DATA_DIR keeps the old log).
spawn_broker() {
    echo "=== start $(date -Is)" >>"$dir/kafka.log"
    from=$(($(wc -l <"$dir/kafka.log")))
    local sasl_opts=()
    if [ -f "$dir/sasl_plain" ]; then
        # No SASL towards ZooKeeper: the JAAS file has no Client section.
        sasl_opts=(-Djava.security.auth.login.config="$dir/kafka_server_jaas.conf"
            -Dzookeeper.sasl.client=false)
    fi
    # shellcheck disable=SC2086 # KAFKA_HEAP / KAFKA_JVM_OPTS are word lists
    pid="$(spawn "$dir" "$dir/kafka.log" "$JAVA" ${KAFKA_HEAP:--Xmx512m} ${KAFKA_JVM_OPTS:-} "${jvm_opts[@]}" \
        ${sasl_opts[@]+"${sasl_opts[@]}"} -cp "$2/*" kafka.Kafka "$dir/server.properties")"
    watchdog "$dir" "$pid"
}

# wait_broker: prints ready once the port accepts and the broker logged
# "[Kafka Server 0], started" (0.8) or "[KafkaServer id=0] started";
# registered if it exited because its broker id was still registered;
# failed if it exited otherwise or the start timeout passed.
wait_broker() {
    local deadline=$(($(now_ms) + ${KAFKA_START_TIMEOUT:-90} * 1000))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            if tail -n "+$from" "$dir/kafka.log" | grep -q 'already registered'; then
                echo registered
            else
                echo failed
            fi
            return 0
        fi
        if port_open "$(cat "$dir/port")" &&
            { [ ! -f "$dir/sasl_plain" ] || port_open "$(cat "$dir/sasl_port")"; } &&
            tail -n "+$from" "$dir/kafka.log" | grep -Eq 'Kafka ?Server.*started'; then
            echo ready
            return 0
        fi
        [ "$(now_ms)" -lt "$deadline" ] || { echo failed; return 0; }
        sleep 0.1
    done
}

# The broker failed to start: its log tail, then stop ZooKeeper too.
zk_era_failed() {
    stop_dir "$zkdir" 5 >/dev/null 2>&1 || true
    start_failed "$dir" "$dir/kafka.log"
}

# ---- main ----

[ $# -ge 1 ] || usage
cmd="$1"
case "$cmd" in
versions)
    echo "$KNOWN_VERSIONS"
    exit 0
    ;;
install)
    [ $# -ge 2 ] || usage
    install_release "$2"
    exit 0
    ;;
esac
[ $# -ge 2 ] || usage
dir="$(abs_dir "$2")"
zkdir="$dir/zookeeper"

# Which release a DATA_DIR runs: given on start, remembered for the rest.
version="${3:-}"
if [ -z "$version" ] && [ -f "$dir/version" ]; then version="$(cat "$dir/version")"; fi
case "$cmd" in
start)
    [ -n "$version" ] || usage
    known "$version"
    if [ -f "$dir/version" ] && [ "$(cat "$dir/version")" != "$version" ]; then
        die "$dir ran Kafka $(cat "$dir/version"), not $version: use a fresh DATA_DIR"
    fi
    ;;
esac

if [ "$version" = 4.4.0 ]; then
    if [ "$cmd" = start ] && [ "${KAFKA_SASL_PLAIN:-0}" = 1 ]; then
        die "KAFKA_SASL_PLAIN=1 is for the ZooKeeper-era releases; for 4.4.0 use kafka.sh with KAFKA_SECURE=1"
    fi
    # KRaft: kafka.sh knows it (its DATA_DIR layout, its version argument).
    echo 4.4.0 >"$dir/version"
    if [ "$cmd" = start ]; then
        "$PEERS_DIR/kafka.sh" start "$dir" 4.4.0
        echo "VERSION=4.4.0"
        exit 0
    fi
    exec "$PEERS_DIR/kafka.sh" "$cmd" "$dir"
fi

mkdir -p "$zkdir"
case "$cmd" in
start)
    # Cheap when installed: compares the stamp of the pom it would write.
    install_release "$version"
    start_zk_era "$version"
    ;;
stop)
    stop_dir "$dir" 30
    stop_dir "$zkdir" 10
    ;;
kill)
    stop_dir "$dir" 5 KILL
    stop_dir "$zkdir" 5 KILL
    ;;
status)
    if pid="$(running_pid "$dir")" && [ -f "$dir/configured" ]; then
        print_info "$pid"
    else
        log "not running"
        exit 1
    fi
    ;;
*) usage ;;
esac
