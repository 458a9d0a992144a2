#!/usr/bin/env bash
# A replicated Apache Kafka 4.4 cluster (KRaft) as a test peer: one
# controller process (node 100) and three broker processes (nodes 1, 2, 3),
# replication factor 3 and min.insync.replicas 2 by default, so a topic
# keeps taking acks=all writes while any one broker is down.
#
#   kafka-cluster.sh start DATA_DIR        start every node not running (brokers
#                                          in parallel); prints BOOTSTRAP=a,b,c,
#                                          CONTROLLER=..., NODE_<id>=host:port,
#                                          PID_<id>=...
#   kafka-cluster.sh stop DATA_DIR         SIGTERM every node (brokers first), SIGKILL after 30 s
#   kafka-cluster.sh kill DATA_DIR NODE    SIGKILL broker NODE (1-3) now: a crash
#   kafka-cluster.sh restart DATA_DIR NODE start broker NODE again (same port, same data)
#   kafka-cluster.sh status DATA_DIR       the lines of start for the nodes running
#
# DATA_DIR holds the cluster id and one folder per node (controller/,
# broker-1/ ...), each with its server.properties, pid, kafka.log and data/.
# Binds only to 127.0.0.1, on ports the OS picked as free.
# Env: KAFKA_START_TIMEOUT (s, default 120), KAFKA_HEAP (brokers, default
#      -Xmx512m), JAVA (default java), PEER_WATCH_PID (stop every node when
#      that PID exits).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,22p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd="$1"
dir="$(abs_dir "$2")"
JAVA="${JAVA:-java}"
VERSION=4.4.0
LIBS="$CACHE/kafka-$VERSION/libs"
BROKERS="1 2 3"
CONTROLLER_ID=100

node_dir() {
    if [ "$1" = "$CONTROLLER_ID" ]; then echo "$dir/controller"; else echo "$dir/broker-$1"; fi
}

# Settings every node shares. The short broker session makes the controller
# fence a killed broker (and move its leaderships) within ~2 s, and lets a
# restarted one register again without DUPLICATE_BROKER_REGISTRATION for
# the default 9 s.
common_config() {
    cat <<EOF
controller.quorum.voters=$CONTROLLER_ID@127.0.0.1:$(cat "$dir/controller_port")
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=2000
EOF
}

write_configs() {
    local ports i=0 id port
    read -r -a ports <<<"$(free_ports 4)"
    echo "${ports[0]}" >"$dir/controller_port"
    mkdir -p "$(node_dir $CONTROLLER_ID)"
    {
        echo "# Written by scripts/peers/kafka-cluster.sh"
        echo "process.roles=controller"
        echo "node.id=$CONTROLLER_ID"
        echo "listeners=CONTROLLER://127.0.0.1:${ports[0]}"
        echo "log.dirs=$(node_dir $CONTROLLER_ID)/data"
        common_config
    } >"$(node_dir $CONTROLLER_ID)/server.properties"
    for id in $BROKERS; do
        i=$((i + 1))
        port="${ports[$i]}"
        mkdir -p "$(node_dir "$id")"
        echo "$port" >"$(node_dir "$id")/port"
        cat >"$(node_dir "$id")/server.properties" <<EOF
# Written by scripts/peers/kafka-cluster.sh
process.roles=broker
node.id=$id
listeners=PLAINTEXT://127.0.0.1:$port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
log.dirs=$(node_dir "$id")/data
$(common_config)
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
unclean.leader.election.enable=false
auto.create.topics.enable=true
EOF
    done
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

jvm_opts=()
set_jvm_opts() {
    jvm_opts=(-Dlog4j2.configurationFile="$dir/log4j2.properties" -Djava.net.preferIPv4Stack=true)
}

format_all() {
    local cid id
    # A Kafka Uuid as `StorageTool random-uuid` prints it, without a JVM start.
    cid="$("$PY" -c 'import base64,uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    if not s.startswith("-"): break
print(s)')"
    echo "$cid" >"$dir/cluster_id"
    # One short-lived JVM per node, in parallel (C1 only and serial GC start
    # a tool ~30% faster). Static voters (controller.quorum.voters): no
    # --standalone needed.
    local pids=() failed=0 p
    for id in $CONTROLLER_ID $BROKERS; do
        local nd
        nd="$(node_dir "$id")"
        "$JAVA" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$LIBS/*" "${jvm_opts[@]}" \
            kafka.tools.StorageTool format -t "$cid" -c "$nd/server.properties" \
            >"$nd/format.log" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    if [ "$failed" = 1 ]; then
        cat "$dir"/*/format.log >&2
        die "StorageTool format failed"
    fi
    touch "$dir/meta.ok"
}

# start_node ID: starts the node unless running and waits for it to log that
# it started (this run's lines only: a restarted node keeps its old log).
start_node() {
    local id="$1" nd pid from heap port
    nd="$(node_dir "$id")"
    if pid="$(running_pid "$nd")"; then
        return 0
    fi
    if [ "$id" = "$CONTROLLER_ID" ]; then
        heap=-Xmx256m
        port="$(cat "$dir/controller_port")"
    else
        heap="${KAFKA_HEAP:--Xmx512m}"
        port="$(cat "$nd/port")"
    fi
    echo "=== start $(date -Is)" >>"$nd/kafka.log"
    from=$(($(wc -l <"$nd/kafka.log")))
    pid="$(spawn "$nd" "$nd/kafka.log" "$JAVA" "$heap" "${jvm_opts[@]}" \
        -cp "$LIBS/*" kafka.Kafka "$nd/server.properties")"
    watchdog "$nd" "$pid"
    local deadline=$(($(now_ms) + ${KAFKA_START_TIMEOUT:-120} * 1000))
    while :; do
        kill -0 "$pid" 2>/dev/null || start_failed "$nd" "$nd/kafka.log"
        if port_open "$port" &&
            tail -n "+$from" "$nd/kafka.log" | grep -q 'Kafka Server started'; then
            break
        fi
        [ "$(now_ms)" -lt "$deadline" ] || start_failed "$nd" "$nd/kafka.log"
        sleep 0.1
    done
}

print_info() {
    local id nd pid boot=""
    for id in $BROKERS; do
        boot="${boot:+$boot,}127.0.0.1:$(cat "$(node_dir "$id")/port")"
    done
    echo "BOOTSTRAP=$boot"
    echo "CONTROLLER=127.0.0.1:$(cat "$dir/controller_port")"
    for id in $CONTROLLER_ID $BROKERS; do
        nd="$(node_dir "$id")"
        [ "$id" = "$CONTROLLER_ID" ] || echo "NODE_$id=127.0.0.1:$(cat "$nd/port")"
        if pid="$(running_pid "$nd")"; then echo "PID_$id=$pid"; fi
    done
    echo "LOG_DIR=$dir"
}

start_cluster() {
    local t0 id
    t0=$(now_ms)
    [ -f "$LIBS/../.complete" ] || "$PEERS_DIR/install.sh" kafka "$VERSION" >&2
    set_jvm_opts
    if [ ! -f "$dir/meta.ok" ]; then
        write_configs
        format_all
        log "formatted 4 nodes (cluster id $(cat "$dir/cluster_id")) in $(($(now_ms) - t0)) ms"
    fi
    start_node "$CONTROLLER_ID"
    local pids=() failed=0
    for id in $BROKERS; do
        start_node "$id" &
        pids+=($!)
    done
    for id in "${pids[@]}"; do wait "$id" || failed=1; done
    if [ "$failed" = 1 ]; then
        stop_cluster >/dev/null 2>&1 || true
        die "a broker failed to start (its log tail is above)"
    fi
    log "cluster ready in $(($(now_ms) - t0)) ms"
    print_info
}

stop_cluster() {
    local id
    for id in $BROKERS; do stop_dir "$(node_dir "$id")" 30 & done
    wait
    stop_dir "$(node_dir "$CONTROLLER_ID")" 30
}

broker_arg() {
    case "${1:-}" in
    1 | 2 | 3) echo "$1" ;;
    *) die "NODE must be a broker id (1, 2 or 3), not '${1:-}'" ;;
    esac
}

case "$cmd" in
start) start_cluster ;;
stop) stop_cluster ;;
kill)
    node="$(broker_arg "${3:-}")"
    stop_dir "$(node_dir "$node")" 5 KILL
    ;;
restart)
    node="$(broker_arg "${3:-}")"
    [ -f "$dir/meta.ok" ] || die "$dir holds no cluster (start it first)"
    set_jvm_opts
    t0=$(now_ms)
    start_node "$node"
    log "broker $node ready in $(($(now_ms) - t0)) ms"
    print_info
    ;;
status)
    if running_pid "$(node_dir "$CONTROLLER_ID")" >/dev/null; then print_info; else
        log "not running"
        exit 1
    fi
    ;;
*) usage ;;
esac
