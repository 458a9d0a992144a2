#!/usr/bin/env bash
# Proves the peer scripts: installs what is missing, then for each peer starts
# it on a fresh data dir, produces messages with kcat (librdkafka 2.16 through
# LD_LIBRARY_PATH=.cache/rdkafka-lib), consumes them back, compares, stops it.
#
#   smoke.sh [kafka|tansu|noida|mock]...      (default: all four)
#
# Prints start / round-trip / stop times per peer and ends with the line
# "N passed, N failed". Exit status 0 only if every peer passed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(kafka tansu noida mock)

"$PEERS_DIR/install.sh" kcat >&2
for p in "${peers[@]}"; do
    case "$p" in
    kafka) "$PEERS_DIR/install.sh" kafka >&2 ;;
    tansu | noida | mock) "$PEERS_DIR/install.sh" "$p" >&2 ;;
    *) die "unknown peer '$p' (kafka|tansu|noida|mock)" ;;
    esac
done
# Re-read: install may just have created the venv.
if [ -x "$VENV_PY" ]; then PY="$VENV_PY"; fi

export LD_LIBRARY_PATH="$RDKAFKA_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
kcat -V 2>&1 | grep -q 'librdkafka 2\.16' || die "kcat does not use librdkafka 2.16"

work="$(mktemp -d "${TMPDIR:-/tmp}/kafkite-smoke.XXXXXX")"
started_dirs=()
mock_pid=""
cleanup() {
    local d
    for d in "${started_dirs[@]}"; do
        [ -f "$d/pid" ] || continue
        case "$d" in
        */kafka) "$PEERS_DIR/kafka.sh" stop "$d" >/dev/null 2>&1 || true ;;
        */tansu) "$PEERS_DIR/tansu.sh" stop "$d" >/dev/null 2>&1 || true ;;
        */noida) "$PEERS_DIR/noida.sh" stop "$d" >/dev/null 2>&1 || true ;;
        esac
    done
    if [ -n "$mock_pid" ] && kill -0 "$mock_pid" 2>/dev/null; then
        kill "$mock_pid" 2>/dev/null || true
    fi
    if [ "${failed:-0}" = 0 ] && [ "${KEEP_SMOKE_DIR:-0}" = 0 ]; then
        rm -rf "$work"
    else
        log "logs kept in $work"
    fi
}
trap cleanup EXIT

KCAT_TIMEOUT=60
kc() { timeout "$KCAT_TIMEOUT" kcat -X broker.address.family=v4 "$@"; }

# roundtrip NAME BOOTSTRAP [TOPIC]: 5 plain + 5 zstd messages to partition 0
# of TOPIC (default: a new, auto-created topic), then reads partition 0 from
# the beginning and compares.
roundtrip() {
    local name="$1" bs="$2" topic="${3:-smoke-$1-$RANDOM}" nonce="$RANDOM$RANDOM"
    local want="$work/$name.want" got="$work/$name.got"
    seq 1 5 | sed "s/^/plain-$nonce-/" >"$want"
    seq 6 10 | sed "s/^/zstd-$nonce-/" >>"$want"
    head -5 "$want" | kc -b "$bs" -P -t "$topic" -p 0 -X message.timeout.ms=30000 ||
        { log "$name: produce (plain) failed"; return 1; }
    tail -5 "$want" | kc -b "$bs" -P -t "$topic" -p 0 -z zstd -X message.timeout.ms=30000 ||
        { log "$name: produce (zstd) failed"; return 1; }
    kc -b "$bs" -C -t "$topic" -p 0 -o beginning -c 10 -e -q >"$got" 2>"$work/$name.consume.err" ||
        { log "$name: consume failed: $(tail -3 "$work/$name.consume.err")"; return 1; }
    if ! diff -u "$want" "$got" >&2; then
        log "$name: consumed messages differ from produced ones"
        return 1
    fi
    log "$name: 10 messages (5 plain, 5 zstd) produced and consumed back"
}

declare -A result start_ms rt_ms stop_ms
passed=0
failed=0

run_script_peer() {
    local name="$1" script="$2" d="$work/$1" t0 out bs
    started_dirs+=("$d")
    t0=$(now_ms)
    if ! out="$("$PEERS_DIR/$script" start "$d")"; then
        log "$name: start failed"
        return 1
    fi
    start_ms[$name]=$(($(now_ms) - t0))
    bs="$(sed -n 's/^BOOTSTRAP=//p' <<<"$out")"
    [ -n "$bs" ] || { log "$name: no BOOTSTRAP line in: $out"; return 1; }
    log "$name: $bs (pid $(sed -n 's/^PID=//p' <<<"$out")), started in ${start_ms[$name]} ms"
    loopback_only "$name" "$(cat "$d/pid")" || return 1
    t0=$(now_ms)
    roundtrip "$name" "$bs" || return 1
    rt_ms[$name]=$(($(now_ms) - t0))
    t0=$(now_ms)
    local pid
    pid="$(cat "$d/pid")"
    "$PEERS_DIR/$script" stop "$d" 2>/dev/null || { log "$name: stop failed"; return 1; }
    stop_ms[$name]=$(($(now_ms) - t0))
    if pid_alive "$pid"; then
        log "$name: pid $pid still running after stop"
        return 1
    fi
}

# loopback_only NAME PID: every listening socket of PID is on 127.0.0.1.
loopback_only() {
    command -v ss >/dev/null || return 0
    local bad
    bad="$(ss -Hltnp 2>/dev/null | grep "pid=$2," | awk '{print $4}' | grep -v '^127\.0\.0\.1:' |
        grep -v '^\[::ffff:127\.0\.0\.1\]:' || true)"
    if [ -n "$bad" ]; then
        log "$1: listens beyond loopback: $bad"
        return 1
    fi
}

run_mock() {
    local name=mock t0 line bs
    t0=$(now_ms)
    coproc MOCK { exec "$PY" "$PEERS_DIR/mock_cluster.py" --brokers 3 2>"$work/mock.log"; }
    mock_pid=$MOCK_PID
    local out_fd=${MOCK[0]} in_fd=${MOCK[1]}
    read -r -t 20 -u "$out_fd" line || { log "mock: no BOOTSTRAP line"; return 1; }
    bs="${line#BOOTSTRAP=}"
    [ "$bs" != "$line" ] || { log "mock: unexpected first line '$line'"; return 1; }
    start_ms[$name]=$(($(now_ms) - t0))
    log "mock: $bs (pid $mock_pid), started in ${start_ms[$name]} ms"
    loopback_only mock "$mock_pid" || return 1
    # mock_cmd CMD EXPECT_PREFIX: sends CMD, checks the one-line answer.
    mock_cmd() {
        local ans
        echo "$1" >&"$in_fd"
        read -r -t 10 -u "$out_fd" ans || { log "mock: no answer to '$1'"; return 1; }
        case "$ans" in
        "$2"*) ;;
        *) log "mock: '$1' answered '$ans', expected '$2...'"; return 1 ;;
        esac
    }
    local topic="smoke-mock-$RANDOM"
    mock_cmd "ping" ok || return 1
    mock_cmd "bootstraps" "ok $bs" || return 1
    mock_cmd "topic_create $topic 3 3" ok || return 1
    mock_cmd "partition_leader $topic 0 2" ok || return 1
    mock_cmd "coordinator group smoke-group 3" ok || return 1
    mock_cmd "set_rtt 2 20" ok || return 1
    mock_cmd "broker_down 3" ok || return 1
    mock_cmd "broker_up 3" ok || return 1
    mock_cmd "broker_push_errors 2 0 NOT_LEADER_OR_FOLLOWER:10 0:5" ok || return 1
    mock_cmd "broker_error_count 2 0" "ok 2" || return 1
    mock_cmd "push_errors 0 REQUEST_TIMED_OUT" ok || return 1
    mock_cmd "broker_down 9" "err" || return 1
    mock_cmd "nonsense" "err" || return 1
    t0=$(now_ms)
    # The pushed Produce errors are retriable: the round trip must still pass.
    roundtrip mock "$bs" "$topic" || return 1
    rt_ms[$name]=$(($(now_ms) - t0))
    mock_cmd "broker_error_count 2 0" "ok 0" || return 1
    t0=$(now_ms)
    mock_cmd "quit" ok || return 1
    local i
    for ((i = 0; i < 100; i++)); do kill -0 "$mock_pid" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$mock_pid" 2>/dev/null && { log "mock: still running after quit"; return 1; }
    stop_ms[$name]=$(($(now_ms) - t0))
}

for p in "${peers[@]}"; do
    log "=== $p"
    rc=0
    case "$p" in
    kafka) run_script_peer kafka kafka.sh || rc=$? ;;
    tansu) run_script_peer tansu tansu.sh || rc=$? ;;
    noida) run_script_peer noida noida.sh || rc=$? ;;
    mock) run_mock || rc=$? ;;
    esac
    if [ "$rc" = 0 ]; then
        result[$p]=PASS
        passed=$((passed + 1))
    else
        result[$p]=FAIL
        failed=$((failed + 1))
    fi
done

printf '%-6s %-5s %10s %14s %9s\n' peer result start_ms roundtrip_ms stop_ms
for p in "${peers[@]}"; do
    printf '%-6s %-5s %10s %14s %9s\n' "$p" "${result[$p]}" "${start_ms[$p]:--}" "${rt_ms[$p]:--}" "${stop_ms[$p]:--}"
done
echo "smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
