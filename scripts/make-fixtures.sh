#!/usr/bin/env bash
# Make cipherlens' capture fixtures from real TLS/QUIC clients and servers on
# loopback, with expected values from two independent sources.
#
#   scripts/make-fixtures.sh            # all scenarios
#   scripts/make-fixtures.sh NAME...    # only these (see `--list`)
#   scripts/make-fixtures.sh --list
#
# For every scenario it starts `tcpdump -i lo` on the scenario's own port,
# runs one server and its client(s) on 127.0.0.1 or ::1, stops tcpdump with
# SIGINT and writes
#   fixtures/pcaps/NAME.pcap        the capture (libpcap format, link type EN10MB)
#   fixtures/expected/NAME.json     client_config (what the programs were told,
#                                   from the same variables passed to them) and
#                                   tshark (what tshark decodes from the pcap),
#                                   after sanity checks between the two.
# Nothing in fixtures/ is replaced unless every selected scenario passed its
# checks. Certificates are generated afresh in a temporary directory on every
# run (nothing secret is kept). Only loopback addresses are used.
#
# Needs: tshark (>= 4.0), tcpdump, openssl (3.x), curl, iproute2 (ss),
# coreutils timeout, python3 with aioquic, node (>= 18). Run as root (tcpdump).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELPERS="$ROOT/scripts/fixtures"
FIXTURES="$ROOT/fixtures"
PY=${PYTHON:-python3}
NODE=${NODE:-node}

ALL_SCENARIOS=(
    tls12-openssl
    tls13-openssl
    tls12-bigchain
    curl-h2-alpn
    python-ssl
    node-tls
    quic-aioquic
    tls13-ipv6
    tls12-resume-ticket
    tls12-resume-sessionid
    tls10-openssl
)

log() { printf '[make-fixtures] %s\n' "$*" >&2; }
die() { printf '[make-fixtures] ERROR: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = "--list" ]; then
    printf '%s\n' "${ALL_SCENARIOS[@]}"
    exit 0
fi
if [ "$#" -gt 0 ]; then
    SCENARIOS=("$@")
    for s in "${SCENARIOS[@]}"; do
        printf '%s\n' "${ALL_SCENARIOS[@]}" | grep -qx -- "$s" || die "unknown scenario '$s' (see --list)"
    done
else
    SCENARIOS=("${ALL_SCENARIOS[@]}")
fi

[ "$(id -u)" -eq 0 ] || die "run as root (tcpdump needs to capture on lo)"
for cmd in tshark tcpdump openssl curl ss timeout "$PY" "$NODE"; do
    command -v "$cmd" >/dev/null 2>&1 || die "missing command: $cmd (see scripts/setup.sh)"
done
"$PY" -c 'import aioquic' 2>/dev/null || die "python3 module aioquic missing (pip install aioquic)"

WORK=$(mktemp -d /tmp/cipherlens-fixtures.XXXXXX)
mkdir -p "$WORK/pki" "$WORK/pcaps" "$WORK/expected" "$WORK/logs" "$WORK/config" "$WORK/tmp"
PKI="$WORK/pki"
mkfifo "$WORK/stdin.fifo"
exec 7<>"$WORK/stdin.fifo"   # held open read-write: readers never see EOF
BG_PIDS=()
TCPDUMP_PID=
SERVER_PID=
CURRENT=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$TCPDUMP_PID" ] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
        kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    fi
    for pid in "${BG_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    sleep 0.2
    for pid in "${BG_PIDS[@]}" $TCPDUMP_PID; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    wait 2>/dev/null || true
    if [ "$rc" -ne 0 ] && [ -d "$WORK/logs" ]; then
        log "failed (exit $rc) during '${CURRENT:-setup}'; last lines of its logs:"
        local logs=("$WORK"/logs/pki.log)
        [ -n "$CURRENT" ] && logs=("$WORK/logs/$CURRENT".*log)
        [ "$CURRENT" = tls12-bigchain ] && logs+=("$WORK/logs/pki-big.log")
        for f in "${logs[@]}"; do
            [ -s "$f" ] || continue
            printf '  ==> %s <==\n' "${f##*/}" >&2
            tail -n 8 "$f" | sed 's/^/    /' >&2
        done
    fi
    if [ -n "${KEEP_WORK:-}" ]; then
        log "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --------------------------------------------------------------------------
# process helpers (every wait is bounded)
# --------------------------------------------------------------------------

# bg LOGNAME CMD... : start CMD in the background, its pid in BG_PID.
bg() {
    local name=$1; shift
    "$@" >>"$WORK/logs/$name.log" 2>&1 </dev/null &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# wait_pid PID SECONDS : wait for PID to exit; kill it and fail after SECONDS.
wait_pid() {
    local pid=$1 secs=$2 i=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$i" -ge $((secs * 10)) ]; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            return 124
        fi
        sleep 0.1
        i=$((i + 1))
    done
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    return "$rc"
}

# wait_listen tcp|udp PORT : until something listens on PORT (10 s at most).
wait_listen() {
    local proto=$1 port=$2 i=0 flag=-Hltn
    [ "$proto" = udp ] && flag=-Hlun
    while [ -z "$(ss $flag "sport = :$port" 2>/dev/null)" ]; do
        [ "$i" -lt 100 ] || die "nothing listens on $proto port $port after 10 s"
        sleep 0.1
        i=$((i + 1))
    done
}

# port_free tcp|udp PORT : fail early if something listens on the port
# (TIME-WAIT leftovers of an earlier run are fine: the servers reuse addresses).
port_free() {
    local proto=$1 port=$2 flag=-Hltn
    [ "$proto" = udp ] && flag=-Huan
    [ -z "$(ss $flag "sport = :$port" 2>/dev/null)" ] || die "$proto port $port is in use"
}

# run LOGNAME SECONDS CMD... : run a client in the foreground, bounded.
run() {
    local name=$1 secs=$2; shift 2
    printf '$ %s\n' "$*" >>"$WORK/logs/$name.log"
    timeout "$secs" "$@" >>"$WORK/logs/$name.log" 2>&1 </dev/null \
        || die "$name: '$1' failed (exit $?), see log above"
}

# start_server NAME PROTO PORT CMD... : the server's stdin is a FIFO that
# never reaches EOF (openssl s_server ends its connection on EOF on stdin).
start_server() {
    local name=$1 proto=$2 port=$3; shift 3
    printf '$ %s\n' "$*" >>"$WORK/logs/$name.server.log"
    timeout 30 "$@" >>"$WORK/logs/$name.server.log" 2>&1 <&7 &
    SERVER_PID=$!
    BG_PIDS+=("$SERVER_PID")
    wait_listen "$proto" "$port"
}

# stop_server NAME : the servers exit by themselves after their connections.
stop_server() {
    local name=$1 rc=0
    wait_pid "$SERVER_PID" 10 || rc=$?
    [ "$rc" -eq 0 ] || die "$name: server exited with $rc"
    SERVER_PID=
}

# capture_start NAME FILTER : tcpdump on lo, returns once it listens.
capture_start() {
    local name=$1 filter=$2 i=0
    : >"$WORK/logs/$name.tcpdump.log"
    tcpdump -i lo -n -s 0 --immediate-mode -U -w "$WORK/pcaps/$name.pcap" "$filter" \
        >>"$WORK/logs/$name.tcpdump.log" 2>&1 </dev/null &
    TCPDUMP_PID=$!
    until grep -q 'listening on' "$WORK/logs/$name.tcpdump.log"; do
        kill -0 "$TCPDUMP_PID" 2>/dev/null || die "$name: tcpdump exited early"
        [ "$i" -lt 100 ] || die "$name: tcpdump not listening after 10 s"
        sleep 0.1
        i=$((i + 1))
    done
    sleep 0.2
}

# capture_stop NAME : let the last packets through, SIGINT tcpdump, wait.
capture_stop() {
    local name=$1 rc=0
    sleep 0.5
    kill -INT "$TCPDUMP_PID"
    wait_pid "$TCPDUMP_PID" 10 || rc=$?
    TCPDUMP_PID=
    [ "$rc" -eq 0 ] || die "$name: tcpdump did not stop cleanly ($rc)"
    grep -q 'packets captured' "$WORK/logs/$name.tcpdump.log" || die "$name: tcpdump gave no summary"
    [ "$(stat -c %s "$WORK/pcaps/$name.pcap")" -gt 24 ] || die "$name: empty capture"
}

# --------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------

# argv_json CMD... : the command line as a JSON list, with temp paths as
# <tmp> and repository paths relative to the repository root.
argv_json() {
    local args=("${@//$WORK/<tmp>}")
    args=("${args[@]//$ROOT\//}")
    "$PY" "$HELPERS/fixture_json.py" argv "${args[@]}"
}

cfg() {
    local name=$1; shift
    "$PY" "$HELPERS/fixture_json.py" config "$WORK/config/$name.json" "$@"
}

# cfg_chain NAME CERT... : server.certificate_chain from openssl's view of the PEM files.
cfg_chain() {
    local name=$1; shift
    local i=0 pairs=() f
    for f in "$@"; do
        pairs+=("server.certificate_chain.$i.subject=$(openssl x509 -in "$f" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')")
        pairs+=("server.certificate_chain.$i.issuer=$(openssl x509 -in "$f" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')")
        pairs+=("server.certificate_chain.$i.serial=$(openssl x509 -in "$f" -noout -serial | sed 's/^serial=//')")
        i=$((i + 1))
    done
    cfg "$name" "${pairs[@]}"
}

# iana_ciphers VERSION_FLAG LIST [TLS13_LIST] : IANA codes openssl maps a cipher string to.
iana_ciphers() {
    local vflag=$1 list=$2 suites=${3:-}
    local extra=()
    [ -n "$suites" ] && extra=(-ciphersuites "$suites")
    openssl ciphers -V -s "$vflag" "${extra[@]}" "$list" \
        | awk '{ split($1, b, ","); printf "%s0x%s%s", sep, tolower(substr(b[1], 3)), tolower(substr(b[2], 3)); sep="," }'
}

# finish NAME DECODE_AS... : tshark + checks -> $WORK/expected/NAME.json
finish() {
    local name=$1; shift
    local da=()
    for d in "$@"; do da+=(--decode-as "$d"); done
    "$PY" "$HELPERS/fixture_json.py" expected --name "$name" \
        --pcap "$WORK/pcaps/$name.pcap" --pcap-ref "fixtures/pcaps/$name.pcap" \
        --config "$WORK/config/$name.json" --tools "$WORK/tools.json" \
        --out "$WORK/expected/$name.json" "${da[@]}" \
        || die "$name: expected values / sanity checks failed"
}

# --------------------------------------------------------------------------
# PKI (fresh every run, in the work directory)
# --------------------------------------------------------------------------

SNI_NAMES=(tls12.fixtures.test tls13.fixtures.test curl.fixtures.test py.fixtures.test
           node.fixtures.test quic.fixtures.test v6.fixtures.test resume.fixtures.test
           tls10.fixtures.test)
ORG="Cipherlens Fixtures"

make_pki() {
    local san
    san=$(printf 'DNS:%s,' "${SNI_NAMES[@]}")
    san="${san%,}"
    cat >"$PKI/ext.cnf" <<EOF
[ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
[leaf]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$san
EOF
    (
        cd "$PKI"
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
        openssl req -x509 -new -key ca.key -sha256 -days 3650 -out ca.pem \
            -subj "/O=$ORG/CN=Cipherlens Fixture CA" -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out leaf-ec.key
        openssl req -new -key leaf-ec.key -subj "/O=$ORG/CN=ec.fixtures.test" -out leaf-ec.csr
        openssl x509 -req -in leaf-ec.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 \
            -days 3650 -extfile ext.cnf -extensions leaf -out leaf-ec.pem
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out leaf-rsa.key
        openssl req -new -key leaf-rsa.key -subj "/O=$ORG/CN=rsa.fixtures.test" -out leaf-rsa.csr
        openssl x509 -req -in leaf-rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 \
            -days 3650 -extfile ext.cnf -extensions leaf -out leaf-rsa.pem
    ) >>"$WORK/logs/pki.log" 2>&1 || die "PKI generation failed"
}

# The > 16 KiB chain: RSA-4096 root, three RSA-2048 intermediates, RSA-2048
# leaf with 450 DNS SANs. The root key takes a few seconds, so this runs in
# the background while the other scenarios are captured.
BIG_SANS=450
make_big_pki() {
    cd "$PKI"
    "$PY" - "$BIG_SANS" >big-ext.cnf <<'EOF'
import sys
n = int(sys.argv[1])
sans = ["DNS:big.fixtures.test"] + [f"DNS:host-{i:03d}.big.fixtures.test" for i in range(n)]
print("[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign")
print("subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid")
print("[leaf]\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth")
print("subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid")
print("subjectAltName=" + ",".join(sans))
EOF
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out big-root.key
    openssl req -x509 -new -key big-root.key -sha256 -days 3650 -out big-root.pem \
        -subj "/O=$ORG/CN=Cipherlens Big Root" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign
    local prev=big-root i
    for i in 1 2 3; do
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "big-int$i.key"
        openssl req -new -key "big-int$i.key" -subj "/O=$ORG/CN=Cipherlens Big Intermediate $i" \
            -out "big-int$i.csr"
        openssl x509 -req -in "big-int$i.csr" -CA "$prev.pem" -CAkey "$prev.key" -CAcreateserial \
            -sha256 -days 3650 -extfile big-ext.cnf -extensions ca -out "big-int$i.pem"
        prev=big-int$i
    done
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out big-leaf.key
    openssl req -new -key big-leaf.key -subj "/O=$ORG/CN=big.fixtures.test" -out big-leaf.csr
    openssl x509 -req -in big-leaf.csr -CA "$prev.pem" -CAkey "$prev.key" -CAcreateserial \
        -sha256 -days 3650 -extfile big-ext.cnf -extensions leaf -out big-leaf.pem
    cat big-int3.pem big-int2.pem big-int1.pem big-root.pem >big-chain.pem
    touch big.done
}

# --------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------

OSSL_VERSION=$(openssl version)
CA="$PKI/ca.pem"

# 1. openssl TLS 1.2, explicit cipher lists, SNI and ALPN.
scenario_tls12-openssl() {
    local name=tls12-openssl port=44301 sni=tls12.fixtures.test
    local c_alpn=h2,http/1.1 s_alpn=http/1.1
    local c_ciphers=ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384
    local s_ciphers=ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305
    local srv=(openssl s_server -accept "127.0.0.1:$port" -naccept 1 -cert "$PKI/leaf-ec.pem"
               -key "$PKI/leaf-ec.key" -tls1_2 -cipher "$s_ciphers" -alpn "$s_alpn")
    local cli=(openssl s_client -connect "127.0.0.1:$port" -tls1_2 -cipher "$c_ciphers"
               -servername "$sni" -alpn "$c_alpn" -CAfile "$CA" -verify_return_error
               -verify_hostname "$sni")
    capture_start "$name" "tcp port $port"
    start_server "$name" tcp "$port" "${srv[@]}"
    run "$name" 15 "${cli[@]}"
    stop_server "$name"
    capture_stop "$name"
    cfg "$name" transport=tcp \
        "description=openssl s_client -> s_server, TLS 1.2 forced on both sides, explicit cipher lists, SNI and ALPN (server accepts only http/1.1)" \
        server.program="openssl s_server" "server.program_version=$OSSL_VERSION" \
        "server.argv:=$(argv_json "${srv[@]}")" server.listen="127.0.0.1:$port" \
        server.tls_versions@=TLSv1.2 "server.cipher_list=$s_ciphers" "server.alpn@=$s_alpn" \
        connections.0.client.program="openssl s_client" "connections.0.client.program_version=$OSSL_VERSION" \
        "connections.0.client.argv:=$(argv_json "${cli[@]}")" \
        connections.0.server_addr=127.0.0.1 "connections.0.server_port:=$port" \
        "connections.0.sni=$sni" "connections.0.alpn@=$c_alpn" connections.0.tls_versions@=TLSv1.2 \
        "connections.0.cipher_list=$c_ciphers" \
        "connections.0.cipher_suites_iana@=$(iana_ciphers -tls1_2 "$c_ciphers")"
    cfg_chain "$name" "$PKI/leaf-ec.pem"
    finish "$name" "tcp.port==$port,tls"
}

# 2. openssl TLS 1.3 with explicit groups, signature algorithms, ciphersuites.
scenario_tls13-openssl() {
    local name=tls13-openssl port=44302 sni=tls13.fixtures.test
    local c_alpn=h2 s_alpn=h2,http/1.1
    local groups=secp384r1:x25519:secp256r1
    local sigalgs=ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:ed25519
    local suites=TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384
    local srv=(openssl s_server -accept "127.0.0.1:$port" -naccept 1 -cert "$PKI/leaf-ec.pem"
               -key "$PKI/leaf-ec.key" -tls1_3 -groups "$groups" -alpn "$s_alpn")
    local cli=(openssl s_client -connect "127.0.0.1:$port" -tls1_3 -groups "$groups"
               -sigalgs "$sigalgs" -ciphersuites "$suites" -servername "$sni" -alpn "$c_alpn"
               -CAfile "$CA" -verify_return_error -verify_hostname "$sni")
    capture_start "$name" "tcp port $port"
    start_server "$name" tcp "$port" "${srv[@]}"
    run "$name" 15 "${cli[@]}"
    stop_server "$name"
    capture_stop "$name"
    cfg "$name" transport=tcp \
        "description=openssl s_client -> s_server, TLS 1.3 forced, explicit groups (key share for the first: secp384r1), signature algorithms and TLS 1.3 ciphersuites" \
        server.program="openssl s_server" "server.program_version=$OSSL_VERSION" \
        "server.argv:=$(argv_json "${srv[@]}")" server.listen="127.0.0.1:$port" \
        server.tls_versions@=TLSv1.3 "server.groups@:=$groups" "server.alpn@=$s_alpn" \
        connections.0.client.program="openssl s_client" "connections.0.client.program_version=$OSSL_VERSION" \
        "connections.0.client.argv:=$(argv_json "${cli[@]}")" \
        connections.0.server_addr=127.0.0.1 "connections.0.server_port:=$port" \
        "connections.0.sni=$sni" "connections.0.alpn@=$c_alpn" connections.0.tls_versions@=TLSv1.3 \
        "connections.0.groups@:=$groups" "connections.0.sigalgs@:=$sigalgs" \
        "connections.0.tls13_ciphersuites=$suites" \
        "connections.0.cipher_suites_iana@=$(iana_ciphers -tls1_3 DEFAULT "$suites")"
    cfg_chain "$name" "$PKI/leaf-ec.pem"
    finish "$name" "tcp.port==$port,tls"
}

# 3. TLS 1.2 with a > 16 KiB certificate chain, through a chunking relay so the
#    capture shows Ethernet-sized TCP segments.
scenario_tls12-bigchain() {
    local name=tls12-bigchain port=44303 upstream=44313 sni=big.fixtures.test alpn=http/1.1
    local i=0
    while [ ! -e "$PKI/big.done" ]; do
        kill -0 "$BIG_PKI_PID" 2>/dev/null || die "big-chain PKI generation failed (see pki-big.log)"
        [ "$i" -lt 1200 ] || die "big-chain PKI generation took more than 120 s"
        sleep 0.1
        i=$((i + 1))
    done
    port_free tcp "$upstream"
    local srv=(openssl s_server -accept "127.0.0.1:$upstream" -naccept 1 -cert "$PKI/big-leaf.pem"
               -key "$PKI/big-leaf.key" -cert_chain "$PKI/big-chain.pem" -tls1_2 -alpn "$alpn")
    local relay=("$PY" "$HELPERS/tcp_relay.py" --listen "127.0.0.1:$port"
                 --upstream "127.0.0.1:$upstream" --chunk 1448 --timeout 20)
    local cli=(openssl s_client -connect "127.0.0.1:$port" -tls1_2 -servername "$sni"
               -alpn "$alpn" -CAfile "$PKI/big-root.pem" -verify_return_error -verify_hostname "$sni")
    capture_start "$name" "tcp port $port"
    start_server "$name" tcp "$upstream" "${srv[@]}"
    bg "$name.relay" timeout 30 "${relay[@]}"
    local relay_pid=$BG_PID
    wait_listen tcp "$port"
    run "$name" 15 "${cli[@]}"
    wait_pid "$relay_pid" 10 || die "$name: relay failed"
    stop_server "$name"
    capture_stop "$name"
    cfg "$name" transport=tcp \
        "description=openssl s_client -> chunking TCP relay (captured port) -> s_server, TLS 1.2, certificate chain of 5 certificates (RSA-4096 root, 3 intermediates, leaf with $BIG_SANS SANs); the Certificate message is > 16384 bytes, spans 2 TLS records and many 1448-byte TCP segments" \
        server.program="openssl s_server" "server.program_version=$OSSL_VERSION" \
        "server.argv:=$(argv_json "${srv[@]}")" server.listen="127.0.0.1:$upstream" \
        server.tls_versions@=TLSv1.2 "server.alpn@=$alpn" \
        "server.relay.argv:=$(argv_json "${relay[@]}")" \
        "server.relay.note=byte-transparent; re-sends every read in writes of at most 1448 bytes with TCP_NODELAY and advertises MSS 1448" \
        connections.0.client.program="openssl s_client" "connections.0.client.program_version=$OSSL_VERSION" \
        "connections.0.client.argv:=$(argv_json "${cli[@]}")" \
        connections.0.server_addr=127.0.0.1 "connections.0.server_port:=$port" \
        "connections.0.sni=$sni" "connections.0.alpn@=$alpn" connections.0.tls_versions@=TLSv1.2 \
        "connections.0.min_certificate_length:=16385"
    cfg_chain "$name" "$PKI/big-leaf.pem" "$PKI/big-int3.pem" "$PKI/big-int2.pem" \
        "$PKI/big-int1.pem" "$PKI/big-root.pem"
    finish "$name" "tcp.port==$port,tls"
}

# 4. curl offering h2,http/1.1 to openssl s_server -www (which picks http/1.1).
scenario_curl-h2-alpn() {
    local name=curl-h2-alpn port=44304 sni=curl.fixtures.test s_alpn=http/1.1
    local srv=(openssl s_server -accept "127.0.0.1:$port" -naccept 1 -www
               -cert "$PKI/leaf-rsa.pem" -key "$PKI/leaf-rsa.key" -alpn "$s_alpn")
    local cli=(curl -sS --http2 --max-time 10 --cacert "$CA" --resolve "$sni:$port:127.0.0.1"
               -o "$WORK/tmp/curl-body.html" "https://$sni:$port/")
    capture_start "$name" "tcp port $port"
    start_server "$name" tcp "$port" "${srv[@]}"
    run "$name" 15 "${cli[@]}"
    stop_server "$name"
    capture_stop "$name"
    grep -q 's_server' "$WORK/tmp/curl-body.html" || die "$name: unexpected response body"
    cfg "$name" transport=tcp \
        "description=curl --http2 (ALPN h2,http/1.1, curl's default TLS versions) -> openssl s_server -www with RSA certificate, server accepts http/1.1; one GET /" \
        server.program="openssl s_server" "server.program_version=$OSSL_VERSION" \
        "server.argv:=$(argv_json "${srv[@]}")" server.listen="127.0.0.1:$port" \
        "server.alpn@=$s_alpn" "server.tls_versions:=[]" \
        connections.0.client.program=curl "connections.0.client.program_version=$(curl --version | head -1)" \
        "connections.0.client.argv:=$(argv_json "${cli[@]}")" \
        connections.0.server_addr=127.0.0.1 "connections.0.server_port:=$port" \
        "connections.0.sni=$sni" "connections.0.alpn@=h2,http/1.1" "connections.0.tls_versions:=[]" \
        "connections.0.note=curl --http2 offers ALPN h2 then http/1.1; TLS versions are curl's defaults"
    cfg_chain "$name" "$PKI/leaf-rsa.pem"
    finish "$name" "tcp.port==$port,tls"
}

# 5. Python ssl client -> Python ssl server, SNI and ALPN set in code.
scenario_python-ssl() {
    local name=python-ssl port=44305 sni=py.fixtures.test c_alpn=h2,http/1.1 s_alpn=http/1.1,h2
    local srv=("$PY" "$HELPERS/py_tls_peer.py" server --host 127.0.0.1 --port "$port"
               --cert "$PKI/leaf-rsa.pem" --key "$PKI/leaf-rsa.key" --alpn "$s_alpn")
    local cli=("$PY" "$HELPERS/py_tls_peer.py" client --host 127.0.0.1 --port "$port"
               --sni "$sni" --alpn "$c_alpn" --cafile "$CA")
    capture_start "$name" "tcp port $port"
    start_server "$name" tcp "$port" "${srv[@]}"
    run "$name" 15 "${cli[@]}"
    stop_server "$name"
    capture_stop "$name"
    cfg "$name" transport=tcp \
        "description=Python ssl client (server_hostname and set_alpn_protocols in code, default TLS versions) -> Python ssl server with RSA certificate" \
        server.program=scripts/fixtures/py_tls_peer.py \
        "server.program_version=Python $("$PY" -c 'import ssl,sys; print(sys.version.split()[0], ssl.OPENSSL_VERSION)')" \
        "server.argv:=$(argv_json "${srv[@]}")" server.listen="127.0.0.1:$port" \
        "server.alpn@=$s_alpn" "server.tls_versions:=[]" \
        connections.0.client.program=scripts/fixtures/py_tls_peer.py \
        "connections.0.client.program_version=Python $("$PY" -c 'import ssl,sys; print(sys.version.split()[0], ssl.OPENSSL_VERSION)')" \
        "connections.0.client.argv:=$(argv_json "${cli[@]}")" \
        connections.0.server_addr=127.0.0.1 "connections.0.server_port:=$port" \
        "connections.0.sni=$sni" "connections.0.alpn@=$c_alpn" "connections.0.tls_versions:=[]"
    cfg_chain "$name" "$PKI/leaf-rsa.pem"
    finish "$name" "tcp.port==$port,tls"
}

# 6. node tls.connect (servername, ALPNProtocols) -> node tls server.
scenario_node-tls() {
    local name=node-tls port=44306 sni=node.fixtures.test c_alpn=h2,http/1.1 s_alpn=http/1.1
    local srv=("$NODE" "$HELPERS/node_tls_peer.js" server 127.0.0.1 "$port"
               "$PKI/leaf-rsa.pem" "$PKI/leaf-rsa.key" "$s_alpn")
    local cli=("$NODE" "$HELPERS/node_tls_peer.js" client 127.0.0.1 "$port" "$sni" "$c_alpn" "$CA")
    capture_start "$name" "tcp port $port"
    start_server "$name" tcp "$port" "${srv[@]}"
    run "$name" 15 "${cli[@]}"
    stop_server "$name"
    capture_stop "$name"
    cfg "$name" transport=tcp \
        "description=node tls.connect (servername, ALPNProtocols, default TLS versions) -> node tls.createServer with RSA certificate" \
        server.program=scripts/fixtures/node_tls_peer.js \
        "server.program_version=node $("$NODE" --version) (OpenSSL $("$NODE" -p process.versions.openssl))" \
        "server.argv:=$(argv_json "${srv[@]}")" server.listen="127.0.0.1:$port" \
        "server.alpn@=$s_alpn" "server.tls_versions:=[]" \
        connections.0.client.program=scripts/fixtures/node_tls_peer.js \
        "connections.0.client.program_version=node $("$NODE" --version) (OpenSSL $("$NODE" -p process.versions.openssl))" \
        "connections.0.client.argv:=$(argv_json "${cli[@]}")" \
        connections.0.server_addr=127.0.0.1 "connections.0.server_port:=$port" \
        "connections.0.sni=$sni" "connections.0.alpn@=$c_alpn" "connections.0.tls_versions:=[]"
    cfg_chain "$name" "$PKI/leaf-rsa.pem"
    finish "$name" "tcp.port==$port,tls"
}

# 7a. QUIC v1: aioquic client -> aioquic server on UDP loopback, SNI + ALPN h3.
scenario_quic-aioquic() {
    local name=quic-aioquic port=44307 sni=quic.fixtures.test alpn=h3
    local aioquic_version
    aioquic_version=$("$PY" -c 'import aioquic; print(aioquic.__version__)')
    local srv=("$PY" "$HELPERS/quic_peer.py" server --host 127.0.0.1 --port "$port"
               --cert "$PKI/leaf-ec.pem" --key "$PKI/leaf-ec.key" --alpn "$alpn")
    local cli=("$PY" "$HELPERS/quic_peer.py" client --host 127.0.0.1 --port "$port"
               --sni "$sni" --alpn "$alpn" --cafile "$CA" --quic-version 1)
    capture_start "$name" "udp port $port"
    start_server "$name" udp "$port" "${srv[@]}"
    run "$name" 20 "${cli[@]}"
    stop_server "$name"
    capture_stop "$name"
    cfg "$name" transport=udp \
        "description=aioquic client -> aioquic server, QUIC version 1 over UDP 127.0.0.1, SNI and ALPN h3 (handshake, one PING, CONNECTION_CLOSE; no HTTP/3 requests)" \
        server.program=scripts/fixtures/quic_peer.py "server.program_version=aioquic $aioquic_version" \
        "server.argv:=$(argv_json "${srv[@]}")" server.listen="127.0.0.1:$port" \
        "server.alpn@=$alpn" server.tls_versions@=TLSv1.3 \
        connections.0.client.program=scripts/fixtures/quic_peer.py \
        "connections.0.client.program_version=aioquic $aioquic_version" \
        "connections.0.client.argv:=$(argv_json "${cli[@]}")" \
        connections.0.server_addr=127.0.0.1 "connections.0.server_port:=$port" \
        "connections.0.sni=$sni" "connections.0.alpn@=$alpn" connections.0.tls_versions@=TLSv1.3 \
        connections.0.quic_version=0x00000001
    cfg_chain "$name" "$PKI/leaf-ec.pem"
    finish "$name" "udp.port==$port,quic"
}

# 7b. TLS over IPv6 loopback (::1), openssl defaults (TLS 1.3).
scenario_tls13-ipv6() {
    local name=tls13-ipv6 port=44308 sni=v6.fixtures.test alpn=http/1.1
    local srv=(openssl s_server -accept "[::1]:$port" -naccept 1 -cert "$PKI/leaf-ec.pem"
               -key "$PKI/leaf-ec.key" -alpn "$alpn")
    local cli=(openssl s_client -connect "[::1]:$port" -servername "$sni" -alpn "$alpn"
               -CAfile "$CA" -verify_return_error -verify_hostname "$sni")
    capture_start "$name" "tcp port $port"
    start_server "$name" tcp "$port" "${srv[@]}"
    run "$name" 15 "${cli[@]}"
    stop_server "$name"
    capture_stop "$name"
    cfg "$name" transport=tcp \
        "description=openssl s_client -> s_server over IPv6 loopback [::1], default versions (TLS 1.3 negotiated), SNI and ALPN" \
        server.program="openssl s_server" "server.program_version=$OSSL_VERSION" \
        "server.argv:=$(argv_json "${srv[@]}")" server.listen="[::1]:$port" \
        "server.alpn@=$alpn" "server.tls_versions:=[]" \
        connections.0.client.program="openssl s_client" "connections.0.client.program_version=$OSSL_VERSION" \
        "connections.0.client.argv:=$(argv_json "${cli[@]}")" \
        connections.0.server_addr=::1 "connections.0.server_port:=$port" \
        "connections.0.sni=$sni" "connections.0.alpn@=$alpn" "connections.0.tls_versions:=[]"
    cfg_chain "$name" "$PKI/leaf-ec.pem"
    finish "$name" "tcp.port==$port,tls"
}

# 8. TLS 1.2 resumption, two connections in one pcap: session ticket / session id.
resume_scenario() {
    local name=$1 port=$2 mode=$3 sni=resume.fixtures.test alpn=http/1.1
    local sess="$WORK/tmp/$name.session.pem" noticket=()
    [ "$mode" = session_id ] && noticket=(-no_ticket)
    local srv=(openssl s_server -accept "127.0.0.1:$port" -naccept 2 -cert "$PKI/leaf-ec.pem"
               -key "$PKI/leaf-ec.key" -tls1_2 -alpn "$alpn" "${noticket[@]}")
    local cli1=(openssl s_client -connect "127.0.0.1:$port" -tls1_2 -servername "$sni" -alpn "$alpn"
                -CAfile "$CA" -verify_return_error "${noticket[@]}" -sess_out "$sess")
    local cli2=(openssl s_client -connect "127.0.0.1:$port" -tls1_2 -servername "$sni" -alpn "$alpn"
                -CAfile "$CA" -verify_return_error "${noticket[@]}" -sess_in "$sess")
    capture_start "$name" "tcp port $port"
    start_server "$name" tcp "$port" "${srv[@]}"
    run "$name" 15 "${cli1[@]}"
    [ -s "$sess" ] || die "$name: no session written"
    run "$name" 15 "${cli2[@]}"
    stop_server "$name"
    capture_stop "$name"
    grep -q '^Reused, TLSv1.2' "$WORK/logs/$name.log" || die "$name: second connection was not resumed"
    cfg "$name" transport=tcp \
        "description=openssl s_client twice -> one s_server, TLS 1.2; the first connection is a full handshake (-sess_out), the second resumes it by $mode (-sess_in): abbreviated handshake, no Certificate" \
        server.program="openssl s_server" "server.program_version=$OSSL_VERSION" \
        "server.argv:=$(argv_json "${srv[@]}")" server.listen="127.0.0.1:$port" \
        server.tls_versions@=TLSv1.2 "server.alpn@=$alpn" \
        connections.0.client.program="openssl s_client" "connections.0.client.program_version=$OSSL_VERSION" \
        "connections.0.client.argv:=$(argv_json "${cli1[@]}")" \
        connections.0.server_addr=127.0.0.1 "connections.0.server_port:=$port" \
        "connections.0.sni=$sni" "connections.0.alpn@=$alpn" connections.0.tls_versions@=TLSv1.2 \
        connections.0.session=new \
        connections.1.client.program="openssl s_client" "connections.1.client.program_version=$OSSL_VERSION" \
        "connections.1.client.argv:=$(argv_json "${cli2[@]}")" \
        connections.1.server_addr=127.0.0.1 "connections.1.server_port:=$port" \
        "connections.1.sni=$sni" "connections.1.alpn@=$alpn" connections.1.tls_versions@=TLSv1.2 \
        connections.1.session=resumed "connections.1.resumption=$mode"
    cfg_chain "$name" "$PKI/leaf-ec.pem"
    finish "$name" "tcp.port==$port,tls"
}
scenario_tls12-resume-ticket() { resume_scenario tls12-resume-ticket 44309 session_ticket; }
scenario_tls12-resume-sessionid() { resume_scenario tls12-resume-sessionid 44311 session_id; }

# 9. TLS 1.0 (needs security level 0 on both sides with OpenSSL 3).
scenario_tls10-openssl() {
    local name=tls10-openssl port=44310 sni=tls10.fixtures.test alpn=http/1.1
    local ciphers='DEFAULT@SECLEVEL=0'
    local srv=(openssl s_server -accept "127.0.0.1:$port" -naccept 1 -cert "$PKI/leaf-ec.pem"
               -key "$PKI/leaf-ec.key" -tls1 -cipher "$ciphers" -alpn "$alpn")
    local cli=(openssl s_client -connect "127.0.0.1:$port" -tls1 -cipher "$ciphers"
               -servername "$sni" -alpn "$alpn" -CAfile "$CA" -verify_return_error)
    capture_start "$name" "tcp port $port"
    start_server "$name" tcp "$port" "${srv[@]}"
    run "$name" 15 "${cli[@]}"
    stop_server "$name"
    capture_stop "$name"
    cfg "$name" transport=tcp \
        "description=openssl s_client -> s_server, TLS 1.0 forced on both sides with -cipher DEFAULT@SECLEVEL=0, SNI and ALPN" \
        server.program="openssl s_server" "server.program_version=$OSSL_VERSION" \
        "server.argv:=$(argv_json "${srv[@]}")" server.listen="127.0.0.1:$port" \
        server.tls_versions@=TLSv1 "server.cipher_list=$ciphers" "server.alpn@=$alpn" \
        connections.0.client.program="openssl s_client" "connections.0.client.program_version=$OSSL_VERSION" \
        "connections.0.client.argv:=$(argv_json "${cli[@]}")" \
        connections.0.server_addr=127.0.0.1 "connections.0.server_port:=$port" \
        "connections.0.sni=$sni" "connections.0.alpn@=$alpn" connections.0.tls_versions@=TLSv1 \
        "connections.0.cipher_list=$ciphers" \
        "connections.0.cipher_suites_iana@=$(iana_ciphers -tls1 "$ciphers")"
    cfg_chain "$name" "$PKI/leaf-ec.pem"
    finish "$name" "tcp.port==$port,tls"
}

# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

START=$(date +%s)
for p in 44301 44302 44303 44304 44305 44306 44308 44309 44310 44311 44313; do port_free tcp "$p"; done
port_free udp 44307

"$PY" - "$WORK/tools.json" <<'EOF'
import json, subprocess, sys
def out(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.splitlines()[0].strip()
    except Exception as e:  # recorded, not fatal
        return f"unavailable: {e}"
import aioquic, ssl
tools = {
    "tshark": out("tshark", "--version"),
    "tcpdump": out("tcpdump", "--version"),
    "openssl": out("openssl", "version"),
    "curl": out("curl", "--version"),
    "node": out("node", "--version"),
    "python": sys.version.split()[0] + " (" + ssl.OPENSSL_VERSION + ")",
    "aioquic": aioquic.__version__,
}
json.dump(tools, open(sys.argv[1], "w"), indent=2)
EOF

log "work directory $WORK"
make_pki
BIG_PKI_PID=
if printf '%s\n' "${SCENARIOS[@]}" | grep -qx tls12-bigchain; then
    (make_big_pki) >>"$WORK/logs/pki-big.log" 2>&1 &
    BIG_PKI_PID=$!
    BG_PIDS+=("$BIG_PKI_PID")
fi

# Run the big chain last: its RSA-4096 root key is made in the background.
ORDERED=()
for s in "${SCENARIOS[@]}"; do [ "$s" = tls12-bigchain ] || ORDERED+=("$s"); done
for s in "${SCENARIOS[@]}"; do [ "$s" = tls12-bigchain ] && ORDERED+=("$s"); done

for s in "${ORDERED[@]}"; do
    CURRENT=$s
    log "capturing $s"
    "scenario_$s"
done
CURRENT=install

# Everything passed: install the outputs.
mkdir -p "$FIXTURES/pcaps" "$FIXTURES/expected"
if [ "${#SCENARIOS[@]}" -eq "${#ALL_SCENARIOS[@]}" ]; then
    rm -f "$FIXTURES"/pcaps/*.pcap "$FIXTURES"/expected/*.json
fi
for s in "${SCENARIOS[@]}"; do
    cp "$WORK/pcaps/$s.pcap" "$FIXTURES/pcaps/$s.pcap"
    cp "$WORK/expected/$s.json" "$FIXTURES/expected/$s.json"
    chmod 644 "$FIXTURES/pcaps/$s.pcap" "$FIXTURES/expected/$s.json"
    printf '  %-24s %7s bytes  %s\n' "$s" "$(stat -c %s "$FIXTURES/pcaps/$s.pcap")" \
        "fixtures/expected/$s.json" >&2
done
log "done: ${#SCENARIOS[@]} captures in $(( $(date +%s) - START )) s"
