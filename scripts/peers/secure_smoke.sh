#!/usr/bin/env bash
# Proves the secured peers with kcat on librdkafka 2.16 (and openssl
# s_client, and probe_first_bytes.py): starts kafka.sh with KAFKA_SECURE=1 on
# a fresh data dir, then checks every listener and mechanism both ways (what
# must work round-trips a message; what must fail fails with the expected
# error), re-authentication, the certificate errors, and the first bytes a
# broker answers to the wrong protocol; then Kafka 0.10.2.2 with
# KAFKA_SASL_PLAIN=1 (kafka-release.sh).
#
#   secure_smoke.sh [secure] [old]        (default: both)
#
# Prints one line per check and ends with "secure smoke: N passed, N failed";
# exit status 0 only if all passed. Logs are kept on failure
# (KEEP_SMOKE_DIR=1 keeps them always). Takes ~1.5 min (a failing kcat
# waits for its metadata timeout).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(secure old)

"$PEERS_DIR/install.sh" kafka kcat >&2
if [ -x "$VENV_PY" ]; then PY="$VENV_PY"; fi
export LD_LIBRARY_PATH="$RDKAFKA_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
kcat -V 2>&1 | grep -q 'librdkafka 2\.16' || die "kcat does not use librdkafka 2.16"

work="$(mktemp -d "${TMPDIR:-/tmp}/kafkite-secure-smoke.XXXXXX")"
passed=0
failed=0
cleanup() {
    [ -f "$work/secure/pid" ] && "$PEERS_DIR/kafka.sh" stop "$work/secure" >/dev/null 2>&1 || true
    [ -f "$work/old/pid" ] && "$PEERS_DIR/kafka-release.sh" stop "$work/old" >/dev/null 2>&1 || true
    if [ "$failed" = 0 ] && [ "${KEEP_SMOKE_DIR:-0}" = 0 ]; then
        rm -rf "$work"
    else
        log "logs kept in $work"
    fi
}
trap cleanup EXIT

result() {
    if [ "$1" = 0 ]; then
        passed=$((passed + 1))
        echo "PASS  $2"
    else
        failed=$((failed + 1))
        echo "FAIL  $2${3:+: $3}"
    fi
}

kc() { timeout 60 kcat -X broker.address.family=v4 "$@"; }

# roundtrip LABEL ADDR KCAT_ARGS...: one message produced and consumed back.
roundtrip() {
    local label="$1" addr="$2" topic msg got
    shift 2
    topic="secure-smoke-$RANDOM$RANDOM"
    msg="$label-$RANDOM"
    if echo "$msg" | kc -b "$addr" "$@" -P -t "$topic" -p 0 2>"$work/err" &&
        got="$(kc -b "$addr" "$@" -C -t "$topic" -p 0 -o beginning -c 1 -e -q 2>>"$work/err")" &&
        [ "$got" = "$msg" ]; then
        result 0 "$label: round trip"
    else
        result 1 "$label: round trip" "$(grep -m1 FAIL "$work/err" || tail -1 "$work/err")"
    fi
}

# refused LABEL PATTERN ADDR KCAT_ARGS...: metadata fails, PATTERN in the errors.
refused() {
    local label="$1" pattern="$2" addr="$3"
    shift 3
    if kc -b "$addr" "$@" -L -m 3 >/dev/null 2>"$work/err"; then
        result 1 "$label: refused" "metadata succeeded"
    elif grep -q -- "$pattern" "$work/err"; then
        result 0 "$label: refused ($pattern)"
    else
        result 1 "$label: refused ($pattern)" "$(grep -m1 FAIL "$work/err" || tail -1 "$work/err")"
    fi
}

# sasl MECHANISM [USER PASSWORD]: kcat's SASL arguments.
sasl() {
    case "$1" in
    OAUTHBEARER)
        echo "-X sasl.mechanisms=OAUTHBEARER -X enable.sasl.oauthbearer.unsecure.jwt=true"
        echo "-X sasl.oauthbearer.config=principal=${2:-alice}"
        ;;
    *) echo "-X sasl.mechanisms=$1 -X sasl.username=${2:-alice} -X sasl.password=${3:-alice-secret}" ;;
    esac
}

# probe LABEL ADDR FLIGHT EXPECTED_PREFIX: probe_first_bytes.py's line starts so.
probe() {
    local line
    line="$("$PY" "$PEERS_DIR/probe_first_bytes.py" "$2" "$3" 3)"
    case "$line" in
    "$4"*) result 0 "$1: $line" ;;
    *) result 1 "$1" "$line" ;;
    esac
}

run_secure() {
    local d="$work/secure" t0 out
    t0=$(now_ms)
    out="$(KAFKA_SECURE=1 "$PEERS_DIR/kafka.sh" start "$d")" || { result 1 "secured kafka: start"; return; }
    result 0 "secured kafka: started in $(($(now_ms) - t0)) ms"
    local -A L
    local line
    while IFS= read -r line; do
        case "$line" in LISTENER_*=*) line="${line#LISTENER_}"; L[${line%%=*}]="${line#*=}" ;; esac
    done <<<"$out"
    local C="$d/certs" m
    local tls=(-X "ssl.ca.location=$C/ca.pem")
    local mtls=("${tls[@]}" -X security.protocol=SSL)

    roundtrip "SSL" "${L[SSL]}" -X security.protocol=SSL "${tls[@]}"
    roundtrip "MTLS client.pem+client.key (PKCS#8)" "${L[MTLS]}" "${mtls[@]}" \
        -X "ssl.certificate.location=$C/client.pem" -X "ssl.key.location=$C/client.key"
    roundtrip "MTLS client.pem+client-rsa1.key (PKCS#1)" "${L[MTLS]}" "${mtls[@]}" \
        -X "ssl.certificate.location=$C/client.pem" -X "ssl.key.location=$C/client-rsa1.key"
    roundtrip "MTLS client.pem+client-enc.key (encrypted)" "${L[MTLS]}" "${mtls[@]}" \
        -X "ssl.certificate.location=$C/client.pem" -X "ssl.key.location=$C/client-enc.key" \
        -X ssl.key.password=client-key-secret
    roundtrip "MTLS client-ec.pem+client-ec.key (SEC1)" "${L[MTLS]}" "${mtls[@]}" \
        -X "ssl.certificate.location=$C/client-ec.pem" -X "ssl.key.location=$C/client-ec.key"
    roundtrip "MTLS client-ec.pem+client-ec-pk8.key" "${L[MTLS]}" "${mtls[@]}" \
        -X "ssl.certificate.location=$C/client-ec.pem" -X "ssl.key.location=$C/client-ec-pk8.key"
    for m in PLAIN SCRAM-SHA-256 SCRAM-SHA-512 OAUTHBEARER; do
        # shellcheck disable=SC2046 # sasl prints words
        roundtrip "SASL_PLAINTEXT $m" "${L[SASL_PLAINTEXT]}" -X security.protocol=SASL_PLAINTEXT $(sasl $m)
        # shellcheck disable=SC2046
        roundtrip "SASL_SSL $m" "${L[SASL_SSL]}" -X security.protocol=SASL_SSL "${tls[@]}" $(sasl $m)
        # shellcheck disable=SC2046
        roundtrip "REAUTH $m" "${L[REAUTH]}" -X security.protocol=SASL_PLAINTEXT $(sasl $m)
    done
    # shellcheck disable=SC2046
    roundtrip "SASL_PLAINTEXT PLAIN admin" "${L[SASL_PLAINTEXT]}" -X security.protocol=SASL_PLAINTEXT \
        $(sasl PLAIN admin admin-secret)
    # shellcheck disable=SC2046
    roundtrip "SASL_SSL SCRAM-SHA-256 admin" "${L[SASL_SSL]}" -X security.protocol=SASL_SSL "${tls[@]}" \
        $(sasl SCRAM-SHA-256 admin admin-secret)
    # shellcheck disable=SC2046
    roundtrip "SCRAMONLY SCRAM-SHA-256" "${L[SCRAMONLY]}" -X security.protocol=SASL_PLAINTEXT $(sasl SCRAM-SHA-256)
    roundtrip "WRONGHOST without hostname check" "${L[WRONGHOST]}" -X security.protocol=SSL "${tls[@]}" \
        -X ssl.endpoint.identification.algorithm=none

    # shellcheck disable=SC2046
    refused "SASL_PLAINTEXT PLAIN wrong password" "Invalid username or password" "${L[SASL_PLAINTEXT]}" \
        -X security.protocol=SASL_PLAINTEXT $(sasl PLAIN alice wrong)
    # shellcheck disable=SC2046
    refused "SASL_SSL SCRAM-SHA-512 wrong password" "invalid credentials" "${L[SASL_SSL]}" \
        -X security.protocol=SASL_SSL "${tls[@]}" $(sasl SCRAM-SHA-512 alice wrong)
    # shellcheck disable=SC2046
    refused "SASL_PLAINTEXT SCRAM-SHA-256 unknown user" "invalid credentials" "${L[SASL_PLAINTEXT]}" \
        -X security.protocol=SASL_PLAINTEXT $(sasl SCRAM-SHA-256 bob bob-secret)
    for m in PLAIN SCRAM-SHA-512 OAUTHBEARER; do
        # shellcheck disable=SC2046
        refused "SCRAMONLY $m" "Unsupported SASL mechanism" "${L[SCRAMONLY]}" \
            -X security.protocol=SASL_PLAINTEXT $(sasl $m)
    done
    refused "SSL trusting other-ca.pem" "certificate verify failed" "${L[SSL]}" \
        -X security.protocol=SSL -X "ssl.ca.location=$C/other-ca.pem"
    # shellcheck disable=SC2046
    refused "SASL_SSL trusting other-ca.pem" "certificate verify failed" "${L[SASL_SSL]}" \
        -X security.protocol=SASL_SSL -X "ssl.ca.location=$C/other-ca.pem" $(sasl PLAIN)
    refused "WRONGHOST" "certificate verify failed" "${L[WRONGHOST]}" -X security.protocol=SSL "${tls[@]}"
    refused "EXPIRED" "certificate verify failed" "${L[EXPIRED]}" -X security.protocol=SSL "${tls[@]}"
    refused "MTLS without a client certificate" "alert bad certificate" "${L[MTLS]}" "${mtls[@]}"
    refused "MTLS with untrusted-client.pem" "alert bad certificate" "${L[MTLS]}" "${mtls[@]}" \
        -X "ssl.certificate.location=$C/untrusted-client.pem" -X "ssl.key.location=$C/untrusted-client.key"
    refused "TLS client to SASL_PLAINTEXT" "connecting to a PLAINTEXT broker listener?" "${L[SASL_PLAINTEXT]}" \
        -X security.protocol=SSL "${tls[@]}"
    refused "plaintext client to SSL" "connection closed by peer" "${L[SSL]}"
    refused "TLS client without SASL to SASL_SSL" "SSL connection closed by peer" "${L[SASL_SSL]}" \
        -X security.protocol=SSL "${tls[@]}"

    # What openssl's own verification says about the two bad certificates.
    local name code
    for name in WRONGHOST:64 EXPIRED:10; do
        code="$(echo | timeout 10 openssl s_client -connect "${L[${name%%:*}]}" -CAfile "$C/ca.pem" \
            -verify_ip 127.0.0.1 2>/dev/null | sed -n 's/^ *Verify return code: \([0-9]*\).*/\1/p')"
        if [ "$code" = "${name##*:}" ]; then
            result 0 "${name%%:*}: openssl verify code $code"
        else
            result 1 "${name%%:*}: openssl verify code ${name##*:}" "got '$code'"
        fi
    done

    # Re-authentication: 10 messages, one a second, over REAUTH (3000 ms).
    local reauths
    # shellcheck disable=SC2046
    (for i in $(seq 1 10); do echo "reauth-$i"; sleep 1; done) |
        kc -b "${L[REAUTH]}" -X security.protocol=SASL_PLAINTEXT $(sasl SCRAM-SHA-512) -X linger.ms=0 \
            -d security -P -t "secure-smoke-reauth-$RANDOM" -p 0 2>"$work/reauth.log" || true
    reauths="$(grep -c 'Auth in state REAUTH' "$work/reauth.log" || true)"
    if [ "$reauths" -ge 2 ] && grep -q 'Received session lifetime 3000 ms' "$work/reauth.log"; then
        result 0 "REAUTH: $reauths re-authentications in 10 s (session lifetime 3000 ms)"
    else
        result 1 "REAUTH: re-authentications" "$reauths"
    fi

    # The first bytes back when a client speaks the wrong protocol.
    probe "TLS ClientHello to PLAINTEXT" "$(sed -n 's/^BOOTSTRAP=//p' <<<"$out")" tls "sent=517 received= total=0 end=eof"
    probe "TLS ClientHello to SASL_PLAINTEXT" "${L[SASL_PLAINTEXT]}" tls "sent=517 received= total=0 end=eof"
    probe "ApiVersions to SSL" "${L[SSL]}" kafka "sent=19 received=15030300020250 total=7 end=eof"
    probe "ApiVersions to SASL_SSL" "${L[SASL_SSL]}" kafka "sent=19 received=15030300020250 total=7 end=eof"
    probe "Metadata before SASL on SASL_PLAINTEXT" "${L[SASL_PLAINTEXT]}" metadata "sent=23 received= total=0 end=eof"

    t0=$(now_ms)
    "$PEERS_DIR/kafka.sh" stop "$d" 2>/dev/null && result 0 "secured kafka: stopped in $(($(now_ms) - t0)) ms"
}

run_old() {
    local d="$work/old" t0 out addr
    t0=$(now_ms)
    out="$(KAFKA_SASL_PLAIN=1 "$PEERS_DIR/kafka-release.sh" start "$d" 0.10.2.2)" ||
        { result 1 "kafka 0.10.2.2 SASL: start"; return; }
    result 0 "kafka 0.10.2.2 with SASL PLAIN: started in $(($(now_ms) - t0)) ms"
    addr="$(sed -n 's/^LISTENER_SASL_PLAINTEXT=//p' <<<"$out")"
    # shellcheck disable=SC2046
    roundtrip "0.10.2.2 SASL_PLAINTEXT PLAIN" "$addr" -X security.protocol=SASL_PLAINTEXT $(sasl PLAIN)
    # shellcheck disable=SC2046
    if kc -b "$addr" -X security.protocol=SASL_PLAINTEXT $(sasl PLAIN) -d security -L >/dev/null 2>"$work/err" &&
        grep -q 'Send SASL legacy frame' "$work/err"; then
        result 0 "0.10.2.2: librdkafka used the SaslHandshake v0 (legacy) framing"
    else
        result 1 "0.10.2.2: legacy framing" "$(grep -m1 -i sasl "$work/err")"
    fi
    # The old framing has no error response: the broker just closes.
    # shellcheck disable=SC2046
    refused "0.10.2.2 PLAIN wrong password" "connection closed by peer" "$addr" \
        -X security.protocol=SASL_PLAINTEXT $(sasl PLAIN alice wrong)
    # shellcheck disable=SC2046
    refused "0.10.2.2 SCRAM-SHA-256" "Unsupported SASL mechanism" "$addr" \
        -X security.protocol=SASL_PLAINTEXT $(sasl SCRAM-SHA-256)
    "$PEERS_DIR/kafka-release.sh" stop "$d" 2>/dev/null && result 0 "kafka 0.10.2.2: stopped"
}

for p in "${parts[@]}"; do
    case "$p" in
    secure) run_secure ;;
    old) run_old ;;
    *) die "unknown part '$p' (secure|old)" ;;
    esac
done
echo "secure smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
