#!/usr/bin/env bash
# Test certificates for the secured Kafka peer (kafka.sh with KAFKA_SECURE=1)
# and for TLS client tests, made with the openssl CLI. All PEM.
#
#   certs.sh DIR      makes DIR (if needed) and the files below; a no-op once
#                     DIR/.complete exists
#
# Trust: ca.pem signs everything the broker uses and every client cert but
# one; other-ca.pem signs only untrusted-client.pem (and nothing the broker
# presents), so a client trusting other-ca.pem must fail to verify the broker.
#
#   ca.pem, ca.key                 test CA (RSA 2048, 10 years)
#   other-ca.pem, other-ca.key     a second CA
#   broker.pem, broker.key         CN=localhost, SAN DNS:localhost,IP:127.0.0.1, by ca
#   broker-chain.pem               broker.pem + ca.pem
#   broker-keystore.pem            broker.key (PKCS#8) + broker.pem + ca.pem: a
#                                  Kafka PEM keystore (ssl.keystore.type=PEM)
#   wronghost.pem, .key            CN and SAN DNS:wrong.example.invalid only, by ca
#   wronghost-keystore.pem
#   expired.pem, .key              SAN localhost/127.0.0.1, by ca, valid
#                                  2015-01-01 .. 2016-01-01 only
#   expired-keystore.pem
#   client.pem, client.key         CN=kafkite-client, RSA, key PKCS#8 ("PRIVATE KEY")
#   client-rsa1.key                the same RSA key, PKCS#1 ("RSA PRIVATE KEY")
#   client-enc.key                 the same RSA key, encrypted PKCS#8 ("ENCRYPTED
#                                  PRIVATE KEY", PBES2 aes-256-cbc, hmacWithSHA256),
#                                  password: client-key-secret
#   client-ec.pem, client-ec.key   CN=kafkite-client, EC P-256, key SEC1 ("EC PRIVATE KEY")
#   client-ec-pk8.key              the same EC key, PKCS#8 ("PRIVATE KEY")
#   client-keystore.pem            client.key + client.pem + ca.pem: a Java
#                                  client's PEM keystore (ssl.keystore.type=PEM)
#   untrusted-client.pem, .key     CN=kafkite-client, by other-ca
#
# Keys are unencrypted (except client-enc.key) and world-readable: test
# material only. Takes 1-3 s (RSA key generation).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || { sed -n '2,35p' "$0" >&2; exit 2; }
command -v openssl >/dev/null || die "openssl not found"

CLIENT_KEY_PASSWORD=client-key-secret
DAYS=3650

out="$(abs_dir "$1")"
[ -f "$out/.complete" ] && exit 0

# Two callers on one DIR (parallel starts) make it once.
exec 7>"$out/.lock"
flock 7
[ -f "$out/.complete" ] && exit 0

t0=$(now_ms)
work="$out/.tmp.$$"
rm -rf "$work"
mkdir -p "$work"
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    local rc=$?
    rm -rf "$work"
    [ "$rc" = 0 ] || log "failed (exit $rc); $out left without .complete"
}
trap cleanup EXIT
cd "$work"

# ssl ARGS...: openssl, quiet (genpkey prints progress dots) unless it fails.
ssl() { openssl "$@" 2>"$work/openssl.log" || { cat "$work/openssl.log" >&2; die "openssl $1 failed"; }; }

rsa_key() { ssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }

serial() { echo "0x$(openssl rand -hex 16)"; }

# ca NAME CN: a self-signed CA certificate NAME.pem with key NAME.key.
ca() {
    rsa_key "$1.key"
    ssl req -x509 -new -key "$1.key" -sha256 -days "$DAYS" -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$1.pem"
}

# ext_file NAME SAN USAGE: the X.509 v3 extensions of a leaf certificate.
ext_file() {
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$3"
        echo "subjectKeyIdentifier=hash"
        echo "authorityKeyIdentifier=keyid"
        if [ -n "$2" ]; then echo "subjectAltName=$2"; fi
    } >"$1.ext"
}

# leaf NAME KEY CA CN SAN USAGE: NAME.pem for KEY, signed by CA (x509 -req).
leaf() {
    local name="$1" key="$2" ca="$3" cn="$4" san="$5" usage="$6"
    ext_file "$name" "$san" "$usage"
    ssl req -new -key "$key" -subj "/CN=$cn" -out "$name.csr"
    ssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -set_serial "$(serial)" \
        -sha256 -days "$DAYS" -extfile "$name.ext" -out "$name.pem"
}

# expired_leaf NAME KEY CA CN SAN: like leaf, but valid only in 2015.
# `x509 -req` (OpenSSL 3.0) cannot set a start date, `openssl ca` can; it
# needs a config, a database file and a folder for its copies.
expired_leaf() {
    local name="$1" key="$2" ca="$3" cn="$4" san="$5"
    ext_file "$name" "$san" serverAuth
    mkdir -p ca-db
    : >ca-db/index.txt
    openssl rand -hex 16 >ca-db/serial
    cat >ca-db/ca.cnf <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $work/ca-db/index.txt
new_certs_dir = $work/ca-db
serial = $work/ca-db/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
[ leaf_ext ]
$(cat "$name.ext")
EOF
    ssl req -new -key "$key" -subj "/CN=$cn" -out "$name.csr"
    ssl ca -batch -config ca-db/ca.cnf -cert "$ca.pem" -keyfile "$ca.key" \
        -startdate 20150101000000Z -enddate 20160101000000Z -extensions leaf_ext \
        -notext -in "$name.csr" -out "$name.pem"
}

ca ca kafkite-test-ca
ca other-ca kafkite-other-ca

server_san="DNS:localhost,IP:127.0.0.1"
rsa_key broker.key
leaf broker broker.key ca localhost "$server_san" serverAuth
rsa_key wronghost.key
leaf wronghost wronghost.key ca wrong.example.invalid "DNS:wrong.example.invalid" serverAuth
rsa_key expired.key
expired_leaf expired expired.key ca localhost "$server_san"
for name in broker wronghost expired; do
    # What Kafka's PEM keystore reads: the PKCS#8 key, then the chain.
    cat "$name.key" "$name.pem" ca.pem >"$name-keystore.pem"
done
cat broker.pem ca.pem >broker-chain.pem

rsa_key client.key
leaf client client.key ca kafkite-client "" clientAuth
cat client.key client.pem ca.pem >client-keystore.pem
ssl pkey -in client.key -traditional -out client-rsa1.key
ssl pkcs8 -topk8 -in client.key -v2 aes-256-cbc -v2prf hmacWithSHA256 \
    -passout "pass:$CLIENT_KEY_PASSWORD" -out client-enc.key
ssl ecparam -name prime256v1 -genkey -noout -out client-ec.key
ssl pkcs8 -topk8 -nocrypt -in client-ec.key -out client-ec-pk8.key
leaf client-ec client-ec.key ca kafkite-client "" clientAuth
rsa_key untrusted-client.key
leaf untrusted-client untrusted-client.key other-ca kafkite-client "" clientAuth

# The forms each file must have (a changed openssl default would break the
# key-format tests silently otherwise).
check_head() { head -n 1 "$1" | grep -qx -- "-----BEGIN $2-----" || die "$1 is not $2"; }
for k in ca other-ca broker wronghost expired client untrusted-client; do check_head "$k.key" "PRIVATE KEY"; done
check_head client-ec-pk8.key "PRIVATE KEY"
check_head client-rsa1.key "RSA PRIVATE KEY"
check_head client-ec.key "EC PRIVATE KEY"
check_head client-enc.key "ENCRYPTED PRIVATE KEY"
ssl verify -CAfile ca.pem broker.pem wronghost.pem client.pem client-ec.pem >/dev/null
ssl verify -CAfile other-ca.pem untrusted-client.pem >/dev/null
if openssl verify -CAfile ca.pem expired.pem >/dev/null 2>&1; then die "expired.pem verifies"; fi

rm -f ./*.csr ./*.ext ./*.srl
rm -rf ca-db openssl.log
chmod 644 ./*
mv ./* "$out/"
touch "$out/.complete"
log "certificates in $out ($(($(now_ms) - t0)) ms)"
