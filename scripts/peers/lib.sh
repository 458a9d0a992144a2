# Shared helpers for scripts/peers/*.sh. Source it; do not run it.
# shellcheck shell=bash

PEERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$PEERS_DIR/../.." && pwd)"
CACHE="$REPO_ROOT/.cache"
VENV="$CACHE/venv"
VENV_PY="$VENV/bin/python"
RDKAFKA_LIB_DIR="$CACHE/rdkafka-lib"

# Peers are local: never let an inherited proxy or telemetry endpoint send
# their traffic anywhere else.
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT 2>/dev/null || true

# A python3 for small helpers. The venv's interpreter starts in ~25 ms; a pyenv
# shim `python3` takes ~300 ms, which would dominate a tansu/noida start.
if [ -x "$VENV_PY" ]; then PY="$VENV_PY"; else PY="$(command -v python3)"; fi

log() { echo "[$(basename "$0")] $*" >&2; }
die() { log "error: $*"; exit 1; }

now_ms() { date +%s%3N; }

# site-packages of the venv (python3.X varies by machine).
site_packages() {
    local d
    for d in "$VENV"/lib/python3*/site-packages; do
        [ -d "$d" ] && { echo "$d"; return 0; }
    done
    return 1
}

# free_ports N: prints N distinct free TCP ports on 127.0.0.1 (all N sockets
# are held open together, so they are distinct). Picked at random below the
# OS's ephemeral range rather than by binding port 0: those come from the
# range that outgoing connections take their local ports from, so any
# connection made before the server binds (an earlier test's broker
# reconnecting in a loop) could take the port. Falls back to port 0.
free_ports() {
    "$PY" - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral_start = int(f.read().split()[0])
except (OSError, ValueError, IndexError):
    ephemeral_start = 32768
first = 10000
socks = []
attempts = 0
while len(socks) < n and ephemeral_start > first + 1000 and attempts < 500:
    attempts += 1
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", random.randrange(first, ephemeral_start)))
        socks.append(s)
    except OSError:
        s.close()
while len(socks) < n:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

# port_open PORT: true if something accepts on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid_alive PID: the process exists and is not a zombie (an orphaned peer is
# reaped by PID 1 only later; kill -0 succeeds on a zombie).
pid_alive() {
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# pid_is_ours PID DIR: the process is alive and its cwd is DIR (every peer is
# started with its data dir as cwd), so a recycled PID is never killed.
pid_is_ours() {
    local pid="$1" dir="$2" cwd
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null || true)"
    # /proc/PID/cwd is unreadable for zombies; treat a zombie as gone.
    [ "$cwd" = "$dir" ]
}

# running_pid DIR: prints the pid from DIR/pid if that process is ours and alive.
running_pid() {
    local dir="$1" pid
    [ -f "$dir/pid" ] || return 1
    pid="$(cat "$dir/pid")"
    pid_is_ours "$pid" "$dir" || return 1
    echo "$pid"
}

# abs_dir DIR: creates DIR if needed and prints its absolute, resolved path.
abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd -P)
}

# spawn DIR LOG CMD...: starts CMD detached (own session, stdin from /dev/null,
# stdout+stderr to LOG, cwd DIR) and writes its PID (the PID of CMD itself,
# not of a wrapper) to DIR/pid. Prints the PID.
spawn() {
    local dir="$1" logf="$2"
    shift 2
    (
        cd "$dir" || exit 1
        exec setsid "$@"
    ) </dev/null >>"$logf" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/pid"
    echo "$pid"
}

# watchdog DIR PID: if PEER_WATCH_PID is set, kills PID (TERM) once that
# process (e.g. the test binary) exits, so a crashed test leaks no peer.
watchdog() {
    local dir="$1" pid="$2" watch="${PEER_WATCH_PID:-}"
    [ -n "$watch" ] || return 0
    (
        while kill -0 "$watch" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do
            sleep 1
        done
        if pid_is_ours "$pid" "$dir"; then kill -TERM "$pid" 2>/dev/null || true; fi
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watchdog.pid"
}

# stop_dir DIR [TIMEOUT_S] [SIGNAL]: stops the peer whose pid is in DIR/pid.
# SIGTERM, then SIGKILL after TIMEOUT_S. Idempotent: a stopped peer is fine.
stop_dir() {
    local dir="$1" timeout="${2:-30}" sig="${3:-TERM}" pid i
    if [ -f "$dir/watchdog.pid" ]; then
        kill "$(cat "$dir/watchdog.pid")" 2>/dev/null || true
        rm -f "$dir/watchdog.pid"
    fi
    if ! pid="$(running_pid "$dir")"; then
        rm -f "$dir/pid"
        log "not running ($dir)"
        return 0
    fi
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        pid_is_ours "$pid" "$dir" || break
        sleep 0.1
    done
    if pid_is_ours "$pid" "$dir"; then
        log "pid $pid still alive after ${timeout}s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$dir/pid"
    log "stopped pid $pid ($dir)"
}

# wait_ready DIR PID PORT TIMEOUT_S [LOG REGEX]: waits until PORT accepts and,
# if given, REGEX appears in LOG. Fails early if PID dies.
wait_ready() {
    local dir="$1" pid="$2" port="$3" timeout="$4" logf="${5:-}" re="${6:-}"
    local deadline=$(($(now_ms) + timeout * 1000))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "pid $pid exited during start-up"
            return 1
        fi
        if port_open "$port"; then
            if [ -z "$re" ] || grep -Eq "$re" "$logf" 2>/dev/null; then
                return 0
            fi
        fi
        if [ "$(now_ms)" -gt "$deadline" ]; then
            log "not ready after ${timeout}s"
            return 1
        fi
        sleep 0.05
    done
}

# start_failed DIR LOG: prints the log tail to stderr and stops what was started.
start_failed() {
    local dir="$1" logf="$2"
    log "start failed; last lines of $logf:"
    tail -n 40 "$logf" >&2 || true
    stop_dir "$dir" 5 >/dev/null 2>&1 || true
    exit 1
}

# ensure_component NAME TEST_PATH: runs install.sh NAME if TEST_PATH is missing.
ensure_component() {
    local name="$1" path="$2"
    shift 2
    if [ ! -e "$path" ]; then
        log "$path missing: running install.sh $name $*"
        "$PEERS_DIR/install.sh" "$name" "$@" >&2
    fi
}
