#!/usr/bin/env bash
# Makes live-node-a.jsonl and live-node-b.jsonl: session records that
# `cipherlens live` wrote while real clients and servers talked on the
# loopback of a network namespace made for the purpose (nothing else runs
# there, and nothing leaves it). Each run has its own UTS namespace with the
# host name node-a or node-b, so the records name two nodes.
#
# Needs root, openssl, curl, python3, and two binaries:
#   CIPHERLENS  the sensor (default target/debug/cipherlens)
#   PQPEER      tests/data/pqpeer built with cargo (rustls + aws-lc-rs: the
#               only peer here that negotiates X25519MLKEM768; default
#               tests/data/pqpeer/target/release/pqpeer)
#
# Certificates are made fresh in a temporary directory and deleted after.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
CIPHERLENS=${CIPHERLENS:-$root/target/debug/cipherlens}
PQPEER=${PQPEER:-$here/pqpeer/target/release/pqpeer}
work=$(mktemp -d)
netns=cl-inventory-$$
trap 'ip netns del "$netns" 2>/dev/null || true; rm -rf "$work"' EXIT

pki() {
    cd "$work"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
        -days 3650 -subj "/O=Cipherlens Inventory Tests/CN=Inventory Test CA" 2>/dev/null
    leaf() { # name keyopts days digest subject-cn
        openssl req -new -newkey "$2" -nodes -keyout "$1.key" -out "$1.csr" -subj "/O=Cipherlens Inventory Tests/CN=$5" 2>/dev/null
        printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n' "$5" > "$1.ext"
        openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$3" "-$4" -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    }
    leaf pq ec:<(openssl ecparam -name prime256v1) 365 sha256 pq.inventory.test
    leaf modern rsa:2048 365 sha256 modern.inventory.test
    leaf legacy rsa:1024 365 sha1 legacy.inventory.test
    leaf expiring rsa:2048 10 sha256 expiring.inventory.test
    leaf dhe rsa:2048 365 sha384 dhe.inventory.test
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout self.key -out self.pem \
        -days 90 -subj "/CN=self.inventory.test" -addext "subjectAltName=DNS:self.inventory.test" 2>/dev/null
    openssl dhparam -out dh1024.pem 1024 2>/dev/null
}

in_ns() { ip netns exec "$netns" "$@"; }

# Stops a server once its clients are done (whether or not it counted them).
stop() {
    sleep 0.3
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

wait_port() {
    for _ in $(seq 100); do
        # Listening, without connecting (a probe would use up an accept).
        in_ns ss -Hltn "sport = :$1" | grep -q . && return 0
        sleep 0.05
    done
    echo "port $1 never opened" >&2
    return 1
}

# One node's traffic. $1: node name, $2: "all" or "some".
run_node() {
    local node=$1 scope=$2 out=$here/live-$1.jsonl
    ip netns add "$netns"
    in_ns ip link set lo up
    unshare --uts bash -c "hostname $node; exec ip netns exec $netns \
        $CIPHERLENS live -i lo -o $work/$node.jsonl --no-cnflow --stats-interval 0 \
        --metrics-listen 127.0.0.1:9464" 2> "$work/$node.err" &
    local sensor=$!
    for _ in $(seq 200); do
        in_ns curl -sf http://127.0.0.1:9464/healthz >/dev/null 2>&1 && break
        sleep 0.05
    done
    sleep 1
    cd "$work"

    # A: TLS 1.3 with X25519MLKEM768 (rustls on both sides), and a client
    # that does not offer it.
    in_ns "$PQPEER" server 127.0.0.1:44401 pq.pem pq.key 3 &
    server=$!
    wait_port 44401
    in_ns "$PQPEER" client 127.0.0.1 44401 pq.inventory.test
    in_ns "$PQPEER" client 127.0.0.1 44401 pq.inventory.test
    in_ns "$PQPEER" client 127.0.0.1 44401 pq.inventory.test classic
    stop "$server"

    # C: TLS 1.0 with a 1024-bit RSA key signed with SHA-1.
    in_ns openssl s_server -accept 127.0.0.1:44403 -naccept 1 -cert legacy.pem -key legacy.key \
        -tls1 -cipher 'DEFAULT@SECLEVEL=0' -quiet </dev/null >/dev/null 2>&1 &
    server=$!
    wait_port 44403
    in_ns openssl s_client -connect 127.0.0.1:44403 -servername legacy.inventory.test -tls1 \
        -cipher 'DEFAULT@SECLEVEL=0' </dev/null >/dev/null 2>&1 || true
    stop "$server"

    if [ "$scope" = all ]; then
        # B: OpenSSL 3.0 has no ML-KEM: the rustls client offers it, the
        # server picks x25519. curl negotiates TLS 1.3 with the same server.
        in_ns openssl s_server -accept 127.0.0.1:44402 -naccept 2 -cert modern.pem -key modern.key \
            -tls1_3 -www </dev/null >/dev/null 2>&1 &
        server=$!
        wait_port 44402
        in_ns "$PQPEER" client 127.0.0.1 44402 modern.inventory.test || true
        in_ns curl -sk --resolve modern.inventory.test:44402:127.0.0.1 https://modern.inventory.test:44402/ >/dev/null || true
        stop "$server"

        # D: TLS 1.2, RSA key transport with AES-CBC and SHA-1 (this
        # OpenSSL has no 3DES left), and a Python client
        # negotiating ECDHE-RSA-AES256-GCM, to a certificate expiring in 10 days.
        in_ns openssl s_server -accept 127.0.0.1:44404 -naccept 2 -cert expiring.pem -key expiring.key \
            -tls1_2 -cipher 'AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384@SECLEVEL=0' -www </dev/null >/dev/null 2>&1 &
        server=$!
        wait_port 44404
        in_ns openssl s_client -connect 127.0.0.1:44404 -servername expiring.inventory.test -tls1_2 \
            -cipher 'AES128-SHA@SECLEVEL=0' </dev/null >/dev/null 2>&1 || true
        in_ns python3 -c '
import socket, ssl
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
context.maximum_version = ssl.TLSVersion.TLSv1_2
with socket.create_connection(("127.0.0.1", 44404)) as raw:
    with context.wrap_socket(raw, server_hostname="expiring.inventory.test") as tls:
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
        tls.recv(100)
' || true
        stop "$server"

        # E: TLS 1.2 DHE with a 1024-bit prime and CBC with SHA-1.
        in_ns openssl s_server -accept 127.0.0.1:44405 -naccept 1 -cert dhe.pem -key dhe.key \
            -tls1_2 -dhparam dh1024.pem -cipher 'DHE-RSA-AES128-SHA@SECLEVEL=0' -quiet </dev/null >/dev/null 2>&1 &
        server=$!
        wait_port 44405
        in_ns openssl s_client -connect 127.0.0.1:44405 -servername dhe.inventory.test -tls1_2 \
            -cipher 'DHE-RSA-AES128-SHA@SECLEVEL=0' </dev/null >/dev/null 2>&1 || true
        stop "$server"

        # G: an anonymous suite (no certificate at all).
        in_ns openssl s_server -accept 127.0.0.1:44407 -naccept 1 -nocert -dhparam dh1024.pem \
            -tls1_2 -cipher 'ADH-AES128-GCM-SHA256@SECLEVEL=0' -quiet </dev/null >/dev/null 2>&1 &
        server=$!
        wait_port 44407
        in_ns openssl s_client -connect 127.0.0.1:44407 -servername anon.inventory.test -tls1_2 \
            -cipher 'ADH-AES128-GCM-SHA256@SECLEVEL=0' </dev/null >/dev/null 2>&1 || true
        stop "$server"

        # F: TLS 1.2 to a self-signed P-384 certificate, from curl.
        in_ns openssl s_server -accept 127.0.0.1:44406 -naccept 1 -cert self.pem -key self.key \
            -tls1_2 -www </dev/null >/dev/null 2>&1 &
        server=$!
        wait_port 44406
        in_ns curl -sk --tlsv1.2 --tls-max 1.2 --resolve self.inventory.test:44406:127.0.0.1 \
            https://self.inventory.test:44406/ >/dev/null || true
        stop "$server"
    fi

    sleep 2
    kill -INT "$sensor"
    wait "$sensor" || true
    ip netns del "$netns"
    # Only handshakes of this script (the ports above).
    grep -E '"port":4440[1-7]' "$work/$node.jsonl" > "$out"
    echo "$out: $(wc -l < "$out") records"
}

pki
run_node node-a all
run_node node-b some
