#!/usr/bin/env bash
# Apache Kafka (KRaft, one combined broker+controller process) as a test peer.
#
#   kafka.sh start DATA_DIR [VERSION]   start (default version 4.4.0); prints
#                                       BOOTSTRAP=127.0.0.1:PORT, PID=..., ...
#   kafka.sh stop DATA_DIR              SIGTERM (controlled shutdown), SIGKILL after 30 s
#   kafka.sh kill DATA_DIR              SIGKILL now (a crash); data and ports kept
#   kafka.sh status DATA_DIR            prints the same lines as start if running
#
# DATA_DIR is created if needed and holds server.properties, log4j2.properties,
# kafka.log, pid, bootstrap and the log dirs (data/). A DATA_DIR that was
# started before is restarted with the same ports and data (to bring a killed
# broker back); give each test a fresh DATA_DIR for a fresh cluster.
# Binds only to 127.0.0.1, on ports the OS picked as free.
# Env: KAFKA_START_TIMEOUT (s, default 90), KAFKA_HEAP (default -Xmx512m),
#      KAFKA_JVM_OPTS (extra JVM flags, e.g. -XX:TieredStopAtLevel=1),
#      JAVA (default java), PEER_WATCH_PID (stop the broker when that PID exits).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,18p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd="$1"
dir="$(abs_dir "$2")"
JAVA="${JAVA:-java}"

print_info() {
    echo "BOOTSTRAP=127.0.0.1:$(cat "$dir/port")"
    echo "CONTROLLER=127.0.0.1:$(cat "$dir/controller_port")"
    echo "PID=$1"
    echo "PIDFILE=$dir/pid"
    echo "LOG=$dir/kafka.log"
}

write_config() {
    local port="$1" cport="$2"
    cat >"$dir/server.properties" <<EOF
# Written by scripts/peers/kafka.sh
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Faster restart after a kill -9: a restarted broker is refused
# (DUPLICATE_BROKER_REGISTRATION) until its old session expires (default 9 s).
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=2000
auto.create.topics.enable=true
EOF
    # The jars carry no logging config: without one log4j2 prints only errors.
    cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = org.apache.kafka
logger.kafka.level = INFO
EOF
}

start() {
    local version="${1:-4.4.0}" pid
    case "$version" in
    4.*) ;;
    *) die "kafka.sh launches KRaft 4.x only so far; $version needs the ZooKeeper launcher (not written yet)" ;;
    esac
    local libs="$CACHE/kafka-$version/libs"
    [ -f "$CACHE/kafka-$version/.complete" ] || ensure_component kafka "$CACHE/kafka-$version/.complete" "$version"
    if pid="$(running_pid "$dir")"; then
        log "already running"
        print_info "$pid"
        return 0
    fi
    local t0 jvm_opts
    t0=$(now_ms)
    jvm_opts=(-Dlog4j2.configurationFile="$dir/log4j2.properties" -Djava.net.preferIPv4Stack=true)
    if [ ! -f "$dir/meta.ok" ]; then
        local ports
        ports="$(free_ports 2)"
        echo "${ports%% *}" >"$dir/port"
        echo "${ports##* }" >"$dir/controller_port"
        write_config "$(cat "$dir/port")" "$(cat "$dir/controller_port")"
        rm -rf "$dir/data"
        local cid
        # What `StorageTool random-uuid` prints (a Kafka Uuid: 16 random bytes,
        # URL-safe base64 without padding, not starting with '-'), without
        # paying a second JVM start (~1 s).
        cid="$("$PY" -c 'import base64,uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    if not s.startswith("-"): break
print(s)')"
        echo "$cid" >"$dir/cluster_id"
        # A short-lived tool: C1 only and serial GC start it ~30% faster.
        if ! "$JAVA" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$libs/*" "${jvm_opts[@]}" \
            kafka.tools.StorageTool format --standalone \
            -t "$cid" -c "$dir/server.properties" >"$dir/format.log" 2>&1; then
            cat "$dir/format.log" >&2
            die "StorageTool format failed"
        fi
        touch "$dir/meta.ok"
        log "formatted $dir/data (cluster id $cid) in $(($(now_ms) - t0)) ms"
    fi
    echo "=== start $(date -Is)" >>"$dir/kafka.log"
    local from
    from=$(($(wc -l <"$dir/kafka.log")))
    # shellcheck disable=SC2086 # KAFKA_HEAP / KAFKA_JVM_OPTS are word lists
    pid="$(spawn "$dir" "$dir/kafka.log" "$JAVA" ${KAFKA_HEAP:--Xmx512m} ${KAFKA_JVM_OPTS:-} "${jvm_opts[@]}" \
        -cp "$libs/*" kafka.Kafka "$dir/server.properties")"
    watchdog "$dir" "$pid"
    # Ready = the port accepts and the broker logged that it started (this
    # run's lines only: a restarted DATA_DIR keeps the old log).
    local deadline=$(($(now_ms) + ${KAFKA_START_TIMEOUT:-90} * 1000))
    while :; do
        kill -0 "$pid" 2>/dev/null || start_failed "$dir" "$dir/kafka.log"
        if port_open "$(cat "$dir/port")" &&
            tail -n "+$from" "$dir/kafka.log" | grep -q 'Kafka Server started'; then
            break
        fi
        [ "$(now_ms)" -lt "$deadline" ] || start_failed "$dir" "$dir/kafka.log"
        sleep 0.1
    done
    echo "127.0.0.1:$(cat "$dir/port")" >"$dir/bootstrap"
    log "kafka $version ready in $(($(now_ms) - t0)) ms"
    print_info "$pid"
}

case "$cmd" in
start) start "${3:-}" ;;
stop) stop_dir "$dir" 30 ;;
kill) stop_dir "$dir" 5 KILL ;;
status)
    if pid="$(running_pid "$dir")"; then print_info "$pid"; else log "not running"; exit 1; fi
    ;;
*) usage ;;
esac
