#!/usr/bin/env bash
# noida-db 0.2.3 (PyPI; the binary inside the noida_db package, not the
# console-script wrapper) as a Kafka test peer, Kafka service only.
#
#   noida.sh start DATA_DIR    prints BOOTSTRAP=127.0.0.1:PORT, PID=..., LOG=...
#   noida.sh stop DATA_DIR     SIGTERM (it saves a JSON snapshot), SIGKILL after 30 s
#   noida.sh kill DATA_DIR     SIGKILL now
#   noida.sh status DATA_DIR
#
# DATA_DIR (created if needed) is the process's cwd and holds pid, port,
# bootstrap, noida.log and noida's own data dir (db/). Restarting a DATA_DIR
# reuses its port and data. Binds only to 127.0.0.1: the Kafka port (chosen
# free by the OS) and a random control port noida opens itself.
# Env: PEER_WATCH_PID (stop the broker when that PID exits).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,15p' "$0" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd="$1"
dir="$(abs_dir "$2")"

print_info() {
    echo "BOOTSTRAP=127.0.0.1:$(cat "$dir/port")"
    echo "PID=$1"
    echo "PIDFILE=$dir/pid"
    echo "LOG=$dir/noida.log"
}

start() {
    local pid bin
    bin="$(site_packages 2>/dev/null)/noida_db/noida-db"
    [ -x "$bin" ] || { ensure_component noida "$bin"; bin="$(site_packages)/noida_db/noida-db"; }
    if pid="$(running_pid "$dir")"; then
        log "already running"
        print_info "$pid"
        return 0
    fi
    local t0
    t0=$(now_ms)
    [ -f "$dir/port" ] || free_ports 1 >"$dir/port"
    local port
    port="$(cat "$dir/port")"
    mkdir -p "$dir/db"
    echo "=== start $(date -Is)" >>"$dir/noida.log"
    # On Debian 12 it prints a harmless "weak version `GLIBC_2.39' not found".
    pid="$(spawn "$dir" "$dir/noida.log" "$bin" start --only kafka --host 127.0.0.1 \
        --kafka-port "$port" --data-dir "$dir/db")"
    watchdog "$dir" "$pid"
    wait_ready "$dir" "$pid" "$port" 20 || start_failed "$dir" "$dir/noida.log"
    echo "127.0.0.1:$port" >"$dir/bootstrap"
    log "noida-db ready in $(($(now_ms) - t0)) ms"
    print_info "$pid"
}

case "$cmd" in
start) start ;;
stop) stop_dir "$dir" 30 ;;
kill) stop_dir "$dir" 5 KILL ;;
status)
    if pid="$(running_pid "$dir")"; then print_info "$pid"; else log "not running"; exit 1; fi
    ;;
*) usage ;;
esac
