#!/usr/bin/env bash
# Apache Kafka (KRaft, one combined broker+controller process) as a test peer.
#
#   kafka.sh start DATA_DIR [VERSION]   start (default version 4.4.0); prints
#                                       BOOTSTRAP=127.0.0.1:PORT, PID=..., ...
#   kafka.sh stop DATA_DIR              SIGTERM (controlled shutdown), SIGKILL after 30 s
#   kafka.sh kill DATA_DIR              SIGKILL now (a crash); data and ports kept
#   kafka.sh status DATA_DIR            prints the same lines as start if running
#
# KAFKA_SECURE=1 (read on a DATA_DIR's first start; remembered in DATA_DIR/secure)
# adds secured listeners next to CONTROLLER and PLAINTEXT (which stays the
# inter-broker listener), each advertised as 127.0.0.1:PORT; start and status
# then also print LISTENER_<NAME>=127.0.0.1:PORT per listener and CERTS=DIR:
#   SSL             TLS, server auth only (certs.sh's broker.pem)
#   MTLS            TLS, ssl.client.auth=required (client certs signed by ca.pem)
#   SASL_PLAINTEXT  SASL PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER
#   SASL_SSL        the same four over TLS (server auth only)
#   REAUTH          as SASL_PLAINTEXT, with connections.max.reauth.ms =
#                   KAFKA_REAUTH_MS (default 3000) on this listener only;
#                   advertised at KAFKA_REAUTH_ADVERTISED (HOST:PORT) if set
#   SCRAMONLY       SASL_PLAINTEXT with SCRAM-SHA-256 only
#   EXPIRED         TLS with expired.pem (valid in 2015 only)
#   WRONGHOST       TLS with wronghost.pem (SAN DNS:wrong.example.invalid only)
# KAFKA_PROXIED_ADVERTISED=HOST:PORT[,HOST:PORT...] (read on a DATA_DIR's first
# start, without KAFKA_SECURE; remembered in DATA_DIR/proxied) adds one
# PLAINTEXT listener per address, PROXIED1, PROXIED2, ..., bound at a free
# 127.0.0.1 port and advertised at that address: a proxy's, which forwards
# to the bound port. A client bootstrapped at the proxy is sent back to it by
# the metadata, so every connection it makes passes the proxy, while
# PLAINTEXT (BOOTSTRAP=) stays direct. start and status then also print
# LISTENER_PROXIED<N>=127.0.0.1:PORT (the bound port) per address.
# Users: PLAIN admin/admin-secret, alice/alice-secret; the same two for
# SCRAM-SHA-256 and -512 (made at format time). OAUTHBEARER: unsecured JWS
# (alg none), principal from the `sub` claim, no scope required. No
# authorizer: every authenticated principal may do everything.
# Certificates: made once per machine by scripts/peers/certs.sh into
# .cache/test-certs (RSA key generation takes ~2.5 s), copied into
# DATA_DIR/certs; KAFKA_FRESH_CERTS=1 makes a new set in DATA_DIR/certs.
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

usage() { sed -n '2,47p' "$0" >&2; exit 2; }
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
    if [ -f "$dir/secure" ]; then
        local name port
        while IFS== read -r name port; do
            echo "LISTENER_$name=127.0.0.1:$port"
        done <"$dir/listeners"
        echo "CERTS=$dir/certs"
    fi
    if [ -f "$dir/proxied" ]; then
        local name lport addr
        while read -r name lport addr; do
            echo "LISTENER_$name=127.0.0.1:$lport"
        done <"$dir/proxied"
    fi
}

# ---- KAFKA_SECURE=1: the secured listeners ----

# NAME:SECURITY_PROTOCOL:SASL_MECHANISMS (comma-separated; empty for TLS).
SASL_ALL=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
SECURE_LISTENERS=(
    "SSL:SSL:"
    "MTLS:SSL:"
    "SASL_PLAINTEXT:SASL_PLAINTEXT:$SASL_ALL"
    "SASL_SSL:SASL_SSL:$SASL_ALL"
    "REAUTH:SASL_PLAINTEXT:$SASL_ALL"
    "SCRAMONLY:SASL_PLAINTEXT:SCRAM-SHA-256"
    "EXPIRED:SSL:"
    "WRONGHOST:SSL:"
)
# The users of every password mechanism (PLAIN: the JAAS lines below; SCRAM:
# StorageTool format --add-scram).
SECURE_USERS=(admin:admin-secret alice:alice-secret)

lower() { tr '[:upper:]' '[:lower:]' <<<"$1"; }

# secure_config CERTS: the listener and security lines of server.properties
# (ports from DATA_DIR/listeners).
secure_config() {
    local certs="$1" entry name proto mechs port mech u plain_users=""
    local listeners="" advertised="" map=""
    for u in "${SECURE_USERS[@]}"; do plain_users+=" user_${u%%:*}=\"${u#*:}\""; done
    for entry in "${SECURE_LISTENERS[@]}"; do
        IFS=: read -r name proto mechs <<<"$entry"
        port="$(grep "^$name=" "$dir/listeners" | cut -d= -f2)"
        [ -n "$port" ] || die "no port for listener $name in $dir/listeners"
        listeners+=",$name://127.0.0.1:$port"
        if [ "$name" = REAUTH ] && [ -n "${KAFKA_REAUTH_ADVERTISED:-}" ]; then
            advertised+=",$name://$KAFKA_REAUTH_ADVERTISED"
        else
            advertised+=",$name://127.0.0.1:$port"
        fi
        map+=",$name:$proto"
    done
    echo "listeners=PLAINTEXT://127.0.0.1:$(cat "$dir/port"),CONTROLLER://127.0.0.1:$(cat "$dir/controller_port")$listeners"
    # Advertised as bound: a client that follows the metadata stays on the
    # listener (and the IP SAN) it started with. REAUTH may be advertised
    # at a proxy's address instead (KAFKA_REAUTH_ADVERTISED=HOST:PORT), so
    # that every connection a client makes to it passes the proxy.
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$(cat "$dir/port")$advertised"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT$map"
    cat <<EOF
# TLS: PEM stores (Kafka >= 2.7). A keystore file holds the unencrypted
# PKCS#8 key, then the certificate chain; no ssl.key.password.
ssl.keystore.type=PEM
ssl.keystore.location=$certs/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$certs/ca.pem
listener.name.mtls.ssl.client.auth=required
listener.name.expired.ssl.keystore.location=$certs/expired-keystore.pem
listener.name.wronghost.ssl.keystore.location=$certs/wronghost-keystore.pem
# SASL. OAUTHBEARER has no sasl.server.callback.handler.class, so Kafka
# validates with its unsecured-JWS handler (principal claim sub, no required
# scope, no clock skew allowed).
sasl.enabled.mechanisms=$SASL_ALL
listener.name.scramonly.sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.reauth.connections.max.reauth.ms=${KAFKA_REAUTH_MS:-3000}
EOF
    for entry in "${SECURE_LISTENERS[@]}"; do
        IFS=: read -r name proto mechs <<<"$entry"
        for mech in ${mechs//,/ }; do
            printf 'listener.name.%s.%s.sasl.jaas.config=' "$(lower "$name")" "$(lower "$mech")"
            case "$mech" in
            PLAIN) echo "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\"$plain_users;" ;;
            SCRAM-*) echo "org.apache.kafka.common.security.scram.ScramLoginModule required;" ;;
            # The broker logs in with a token of its own too (unused: the
            # inter-broker listener is PLAINTEXT), which needs a subject.
            OAUTHBEARER) echo "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"admin\";" ;;
            esac
        done
    done
}

# scram_format_args: StorageTool format's --add-scram for every SCRAM user,
# one argument a line.
scram_format_args() {
    local mech u
    for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
        for u in "${SECURE_USERS[@]}"; do
            echo "--add-scram"
            echo "$mech=[name=${u%%:*},password=${u#*:}]"
        done
    done
}

# secure_ports_open: every secured listener accepts (true without them).
secure_ports_open() {
    [ -f "$dir/secure" ] || return 0
    local name port
    while IFS== read -r name port; do
        port_open "$port" || return 1
    done <"$dir/listeners"
}

# ---- KAFKA_PROXIED_ADVERTISED: listeners advertised at proxies ----

# proxied_setup: writes DATA_DIR/proxied (NAME PORT ADVERTISED a line) for
# the addresses in KAFKA_PROXIED_ADVERTISED, each with a free port.
proxied_setup() {
    local addrs=() ports=() i
    IFS=, read -r -a addrs <<<"$KAFKA_PROXIED_ADVERTISED"
    [ ${#addrs[@]} -gt 0 ] || die "KAFKA_PROXIED_ADVERTISED is empty"
    for i in "${!addrs[@]}"; do
        [[ "${addrs[$i]}" =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] ||
            die "KAFKA_PROXIED_ADVERTISED: '${addrs[$i]}' is not HOST:PORT"
    done
    read -r -a ports <<<"$(free_ports ${#addrs[@]})"
    : >"$dir/proxied"
    for i in "${!addrs[@]}"; do
        echo "PROXIED$((i + 1)) ${ports[$i]} ${addrs[$i]}" >>"$dir/proxied"
    done
}

# proxied_ports_open: every proxied listener accepts (true without them).
proxied_ports_open() {
    [ -f "$dir/proxied" ] || return 0
    local name lport addr
    while read -r name lport addr; do
        port_open "$lport" || return 1
    done <"$dir/proxied"
}

write_config() {
    local port="$1" cport="$2"
    {
        echo "# Written by scripts/peers/kafka.sh"
        if [ -f "$dir/secure" ]; then
            secure_config "$dir/certs"
        else
            local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
            local advertised="PLAINTEXT://127.0.0.1:$port"
            local map="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT" name lport addr
            if [ -f "$dir/proxied" ]; then
                while read -r name lport addr; do
                    listeners+=",$name://127.0.0.1:$lport"
                    advertised+=",$name://$addr"
                    map+=",$name:PLAINTEXT"
                done <"$dir/proxied"
            fi
            echo "listeners=$listeners"
            echo "advertised.listeners=$advertised"
            echo "listener.security.protocol.map=$map"
        fi
        cat <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
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
    } >"$dir/server.properties"
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
        local ports=() format_extra=() i
        if [ "${KAFKA_SECURE:-0}" = 1 ]; then touch "$dir/secure"; fi
        rm -f "$dir/proxied"
        if [ -n "${KAFKA_PROXIED_ADVERTISED:-}" ]; then
            [ ! -f "$dir/secure" ] || die "KAFKA_PROXIED_ADVERTISED works without KAFKA_SECURE only"
            proxied_setup
        fi
        if [ -f "$dir/secure" ]; then
            if [ "${KAFKA_FRESH_CERTS:-0}" = 1 ]; then
                "$PEERS_DIR/certs.sh" "$dir/certs" >&2
            else
                "$PEERS_DIR/certs.sh" "$CACHE/test-certs" >&2
                rm -rf "$dir/certs"
                mkdir -p "$dir/certs"
                cp "$CACHE/test-certs"/*.pem "$CACHE/test-certs"/*.key "$dir/certs/"
            fi
            read -r -a ports <<<"$(free_ports $((2 + ${#SECURE_LISTENERS[@]})))"
            : >"$dir/listeners"
            for i in "${!SECURE_LISTENERS[@]}"; do
                echo "${SECURE_LISTENERS[$i]%%:*}=${ports[$((i + 2))]}" >>"$dir/listeners"
            done
            mapfile -t format_extra < <(scram_format_args)
        else
            read -r -a ports <<<"$(free_ports 2)"
        fi
        echo "${ports[0]}" >"$dir/port"
        echo "${ports[1]}" >"$dir/controller_port"
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
            -t "$cid" -c "$dir/server.properties" ${format_extra[@]+"${format_extra[@]}"} \
            >"$dir/format.log" 2>&1; then
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
            tail -n "+$from" "$dir/kafka.log" | grep -q 'Kafka Server started' &&
            secure_ports_open && proxied_ports_open; then
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
