#!/usr/bin/env bash
# What the TLS library probes cost the applications they watch, in one run,
# modes alternating so machine noise falls on all of them alike:
#
#   per 1 KiB SSL_write on an established TLS 1.3 connection (the writing
#   thread's CPU time, CLOCK_THREAD_CPUTIME_ID):
#     nosensor   no sensor at all (context: what the TC programs on lo cost
#                is issue 13's, not the probes')
#     none       the sensor with --no-tls-probes (its TC and tp_btf
#                programs on lo, as in every mode below)
#     metadata   the sensor with its default probes (certificates)
#     plaintext  the sensor with --plaintext (SSL_read/SSL_write probed)
#     bare       `none` plus an empty uprobe + uretprobe on SSL_write and
#                SSL_write_ex (`cipherlens probe-baseline`): the kernel's own
#                cost of a probe pair
#   per full TLS 1.3 handshake (wall time, client and server in one
#   process): none and metadata.
#
# Targets (exit 2 when missed): metadata within 5% of none per write;
# plaintext at most 1.3x bare per write; metadata handshakes within 10%.
# The workload (scripts/bench/ssl_workload.c) links Debian's libssl.so.3,
# the library the sensor probes.
#
# Usage: scripts/bench-uprobes.sh   (root)
# Environment: BENCH_ROUNDS (5), BENCH_WRITES (200000), BENCH_HANDSHAKES (300),
# BENCH_LOAD_HANDSHAKES (400).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${BENCH_ROUNDS:-5}
writes=${BENCH_WRITES:-200000}
handshakes=${BENCH_HANDSHAKES:-300}
work=target/bench-uprobes
mkdir -p "$work"

cargo build --release -p cipherlens-sensor --bin cipherlens >/dev/null
sensor=target/release/cipherlens
gcc -O2 -o "$work/ssl_workload" scripts/bench/ssl_workload.c -lssl -lcrypto -lpthread
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -subj /CN=bench.test -days 2 2>/dev/null

# A process that keeps libssl mapped, so a starting sensor finds and
# probes it in its first scan (as on any node with a TLS process running).
python3 -c 'import ssl, time; time.sleep(36000)' &
holder=$!

pids=()
stop() {
    for pid in "${pids[@]}"; do
        kill -INT "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
trap 'stop; kill "$holder" 2>/dev/null || true' EXIT

sensor_up() {
    "$sensor" live -i lo --stats-interval 0 --no-cnflow -o /dev/null \
        --metrics-listen 127.0.0.1:19464 "$@" 2>"$work/sensor.err" &
    pids+=($!)
    for _ in $(seq 1 300); do
        curl -sf http://127.0.0.1:19464/healthz >/dev/null 2>&1 && break
        sleep 0.1
    done
}

# Waits until the sensor's probes are on libssl and libcrypto (and ld.so).
probes_up() {
    for _ in $(seq 1 300); do
        files=$(curl -sf http://127.0.0.1:19464/metrics 2>/dev/null |
            awk '$1 == "cipherlens_tls_probe_files" {print $2}' || true)
        [ "${files:-0}" -ge 3 ] 2>/dev/null && return 0
        sleep 0.1
    done
    echo "the sensor did not probe libssl: $(tail -3 "$work/sensor.err")" >&2
    exit 1
}

# Lets a starting sensor finish its first work (interface attach, the
# first scan of every process) so no mode measures it.
settle() {
    sleep 3
}

# Starts what a mode needs.
start() {
    case "$1" in
        nosensor) ;;
        none) sensor_up --no-tls-probes && settle ;;
        metadata) sensor_up && probes_up && settle ;;
        plaintext) sensor_up --plaintext && probes_up && settle ;;
        bare)
            sensor_up --no-tls-probes && settle
            "$sensor" probe-baseline --library /usr/lib/x86_64-linux-gnu/libssl.so.3 \
                --symbol SSL_write --symbol SSL_write_ex 2>"$work/baseline.err" &
            pids+=($!)
            for _ in $(seq 1 100); do
                grep -q attached "$work/baseline.err" && break
                sleep 0.1
            done
            ;;
    esac
}

declare -A write_ns handshake_ns
modes=(nosensor none metadata plaintext bare)
for round in $(seq 1 "$rounds"); do
    for mode in "${modes[@]}"; do
        start "$mode"
        "$work/ssl_workload" write "$work/cert.pem" "$work/key.pem" 1000 >/dev/null
        value=$("$work/ssl_workload" write "$work/cert.pem" "$work/key.pem" "$writes")
        write_ns[$mode]+="$value "
        if [ "$mode" = none ] || [ "$mode" = metadata ]; then
            value=$("$work/ssl_workload" handshake "$work/cert.pem" "$work/key.pem" "$handshakes")
            handshake_ns[$mode]+="$value "
        fi
        stop
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
nosensor=$(echo "${write_ns[nosensor]}" | median)
none=$(echo "${write_ns[none]}" | median)
metadata=$(echo "${write_ns[metadata]}" | median)
plaintext=$(echo "${write_ns[plaintext]}" | median)
bare=$(echo "${write_ns[bare]}" | median)
hs_none=$(echo "${handshake_ns[none]}" | median)
hs_metadata=$(echo "${handshake_ns[metadata]}" | median)

ratio() { echo "scale=3; $1 / $2" | bc; }
metadata_ratio=$(ratio "$metadata" "$none")
plaintext_ratio=$(ratio "$plaintext" "$bare")
handshake_ratio=$(ratio "$hs_metadata" "$hs_none")
bare_cost=$(echo "$bare - $none" | bc)
plaintext_cost=$(echo "$plaintext - $none" | bc)

echo "1 KiB SSL_write, writing thread CPU ns per call (median of $rounds rounds of $writes):"
echo "  nosensor   $nosensor   (no sensor at all)"
echo "  none       $none   (sensor, --no-tls-probes)"
echo "  metadata   $metadata   (x$metadata_ratio of none; target <= 1.05)"
echo "  bare probe $bare   (an empty probe pair adds $bare_cost ns)"
echo "  plaintext  $plaintext   (x$plaintext_ratio of bare; adds $plaintext_cost ns; target <= 1.3)"
echo "TLS 1.3 handshake, wall us (median of $rounds rounds of $handshakes):"
echo "  none       $(echo "scale=1; $hs_none / 1000" | bc)"
echo "  metadata   $(echo "scale=1; $hs_metadata / 1000" | bc)   (x$handshake_ratio; target <= 1.10)"

# Under load: how TLS 1.3 chains reach their session records when many
# short-lived clients (curl, a process each) handshake at once.
load=${BENCH_LOAD_HANDSHAKES:-400}
openssl s_server -accept 127.0.0.1:19443 -cert "$work/cert.pem" -key "$work/key.pem" \
    -tls1_3 -www -quiet >/dev/null 2>&1 &
server=$!
sleep 0.5
"$sensor" live -i lo --stats-interval 0 --no-cnflow -o "$work/load.jsonl" \
    --metrics-listen 127.0.0.1:19464 2>"$work/load.err" &
pids+=($!)
probes_up
seq 1 "$load" | xargs -P 16 -I{} curl -sk --tlsv1.3 -o /dev/null https://127.0.0.1:19443/ || true
sleep 1
stop
kill "$server" 2>/dev/null || true
counters=$(grep '^{' "$work/load.err" | tail -1 | jq -c '.tls_probes.counters')
sessions=$(jq -s '[.[] | select(.schema == "cipherlens.session/v1" and .cipherlens.tls.version.name == "TLS 1.3")] | length' "$work/load.jsonl")
with_chain=$(jq -s '[.[] | select(.schema == "cipherlens.session/v1" and .cipherlens.tls.certificate_source != null)] | length' "$work/load.jsonl")
echo "Under load ($load curl handshakes, 16 at once): $with_chain of $sessions TLS 1.3 session records carry the chain"
echo "$counters" | jq -r 'to_entries[] | select(.key | test("chains_|waits_|sessions_waited")) | "  \(.key) \(.value)"'

status=0
if [ "$(echo "$metadata_ratio > 1.05" | bc)" = 1 ]; then status=2; fi
if [ "$(echo "$plaintext_ratio > 1.3" | bc)" = 1 ]; then status=2; fi
if [ "$(echo "$handshake_ratio > 1.10" | bc)" = 1 ]; then status=2; fi
exit $status
