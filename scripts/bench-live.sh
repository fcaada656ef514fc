#!/usr/bin/env bash
# Live capture benchmarks, each measured side by side in one run (issue 3):
#   1. bulk TCP throughput over a veth pair (iperf3) with the sensor attached
#      (CNFlow counting on, and with --no-cnflow) versus not, alternating,
#      RUNS times each; target ratio >= 0.97;
#   2. TLS handshakes per second from a client namespace to a server on the
#      host end of the veth, as fast as the load generator goes (the
#      `handshake-load` binary of the integration crate: rustls full TLS 1.3
#      handshakes on threads, no resumption, one server name each): every
#      session must be recorded with zero drops; sensor CPU per 1,000
#      handshakes per second (from /proc/<pid>/stat);
#   3. sensor RSS right after start and with 10,000 flows in their
#      handshake phase (clients that send a ClientHello and then wait);
#   4. sensor RSS with 100,000 flows tracked for CNFlow records (issue 4
#      target: at most 256 MB).
# Topology: namespace clbench <-> veth (MTU 1500) <-> host end clbenchh,
# private addresses on that link only; removed at exit.
# Usage: scripts/bench-live.sh   (root; after scripts/setup.sh)
# Environment: RUNS (3), IPERF_SECONDS (5), HANDSHAKES (20000), LOAD_THREADS (16),
# STALLED (10000), TRACKED (100000), SECTIONS ("1 2 3 4": which measurements to run).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
iperf_seconds=${IPERF_SECONDS:-5}
handshakes=${HANDSHAKES:-20000}
load_threads=${LOAD_THREADS:-16}
stalled=${STALLED:-10000}
tracked=${TRACKED:-100000}
sections=${SECTIONS:-1 2 3 4}
ns=clbench
host_if=clbenchh
peer_if=clbenchp
host_ip=10.214.0.1
client_ip=10.214.0.2
work=$(mktemp -d /tmp/cipherlens-bench-live.XXXXXX)
sensor_pid=
server_pid=

cleanup() {
    [ -n "$sensor_pid" ] && kill -INT "$sensor_pid" 2> /dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null || true
    pkill -f "iperf3 -s -B $host_ip" 2> /dev/null || true
    ip link del "$host_if" 2> /dev/null || true
    ip netns del "$ns" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -p cipherlens-sensor 2>&1 | grep -v "^warning: cipherlens-sensor@" | tail -1
cargo build --release -p cipherlens-integration --bin handshake-load 2>&1 | tail -1
sensor=target/release/cipherlens
load=target/release/handshake-load

ip netns del "$ns" 2> /dev/null || true
ip link del "$host_if" 2> /dev/null || true
ip netns add "$ns"
ip link add "$host_if" mtu 1500 type veth peer name "$peer_if" mtu 1500
ip link set "$peer_if" netns "$ns"
ip addr add "$host_ip/24" dev "$host_if"
ip link set "$host_if" up
ip netns exec "$ns" ip addr add "$client_ip/24" dev "$peer_if"
ip netns exec "$ns" ip link set "$peer_if" up
ip netns exec "$ns" ip link set lo up

start_sensor() {
    CIPHERLENS_LOG=info "$sensor" live -i "$host_if" --stats-interval 0 -o "$work/records.jsonl" \
        "$@" 2> "$work/sensor.err" &
    sensor_pid=$!
    for _ in $(seq 1 200); do
        grep -q "interface=.*$host_if" "$work/sensor.err" 2> /dev/null && return 0
        sleep 0.05
    done
    echo "sensor did not attach:" >&2
    cat "$work/sensor.err" >&2
    exit 1
}

stop_sensor() {
    kill -INT "$sensor_pid"
    wait "$sensor_pid" || true
    sensor_pid=
}

rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

section_1() {
echo "== 1. iperf3 throughput over the veth, $runs x ${iperf_seconds}s each way, alternating"
iperf3 -s -B "$host_ip" -D
sleep 0.5
iperf_once() {
    ip netns exec "$ns" iperf3 -c "$host_ip" -t "$iperf_seconds" -J |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])'
}
without=()
with=()
handshakes_only=()
for _ in $(seq 1 "$runs"); do
    without+=("$(iperf_once)")
    start_sensor
    with+=("$(iperf_once)")
    stop_sensor
    start_sensor --no-cnflow
    handshakes_only+=("$(iperf_once)")
    stop_sensor
done
python3 - "${without[*]}" "${with[*]}" "${handshakes_only[*]}" << 'EOF'
import statistics, sys
without, with_, bare = ([float(v) for v in arg.split()] for arg in sys.argv[1:4])
a, b, c = statistics.median(without), statistics.median(with_), statistics.median(bare)
print(f"without sensor:          median {a / 1e9:.2f} Gbit/s  runs {[round(v / 1e9, 2) for v in without]}")
print(f"with sensor (CNFlow on): median {b / 1e9:.2f} Gbit/s  runs {[round(v / 1e9, 2) for v in with_]}")
print(f"with sensor --no-cnflow: median {c / 1e9:.2f} Gbit/s  runs {[round(v / 1e9, 2) for v in bare]}")
print(f"ratio with/without: {b / a:.3f}; --no-cnflow/without: {c / a:.3f} (target >= 0.97)")
EOF
}

section_2() {
echo "== 2. TLS handshakes per second ($handshakes handshakes, $load_threads at a time)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/k.pem" \
    -out "$work/c.pem" -subj /CN=bench.test -days 2 2> /dev/null
"$load" serve "$host_ip" 24600 "$work/c.pem" "$work/k.pem" "$load_threads" &
server_pid=$!
sleep 1
: > "$work/records.jsonl"
start_sensor
ticks_before=$(cpu_ticks "$sensor_pid")
rate=$(ip netns exec "$ns" "$load" connect "$host_ip" 24600 "$handshakes" "$load_threads")
sleep 1
ticks_after=$(cpu_ticks "$sensor_pid")
stop_sensor
# Distinct configured server names recorded: each handshake used its own.
recorded=$(python3 -c '
import json, sys
names = set()
for line in open(sys.argv[1]):
    if line.strip():
        names.add(json.loads(line).get("tls", {}).get("client", {}).get("server_name"))
print(len({n for n in names if n and n.endswith(".bench.test")}))' "$work/records.jsonl")
stats=$(grep '"cipherlens.stats/v1"' "$work/sensor.err" | tail -1)
losses=$(echo "$stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["kernel_losses"], sum(s["events_dropped"].values()))')
hz=$(getconf CLK_TCK)
python3 - "$rate" "$handshakes" "$recorded" "$ticks_before" "$ticks_after" "$hz" "$losses" << 'EOF'
import sys
rate, total, recorded = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
before, after, hz = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
kernel_losses, user_drops = (int(v) for v in sys.argv[7].split())
seconds = total / rate
cpu = (after - before) / hz
print(f"load generator: {rate:.0f} handshakes/s ({total} in {seconds:.2f} s)")
print(f"recorded: {recorded} of {total} ({100 * recorded / total:.1f}%), kernel losses {kernel_losses}, user drops {user_drops}")
print(f"sensor CPU: {cpu:.2f} s over the run = {cpu / seconds * 100:.1f}% of a core at {rate:.0f}/s"
      f" = {cpu / seconds / (rate / 1000) * 100:.1f}% of a core per 1,000 handshakes/s")
EOF
kill "$server_pid"
server_pid=
}

section_3() {
echo "== 3. sensor RSS: after start, and with $stalled flows in their handshake phase"
python3 - "$host_ip" << 'EOF' &
import socket, sys, selectors
# Accepts and holds connections without ever answering.
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], 24601)); server.listen(4096)
held = []
while True:
    conn, _ = server.accept()
    held.append(conn)
EOF
server_pid=$!
sleep 0.5
start_sensor
sleep 1
rss_start=$(rss_kb "$sensor_pid")
ip netns exec "$ns" python3 - "$host_ip" "$stalled" "$sensor_pid" << 'EOF'
import socket, sys, time
host, count = sys.argv[1], int(sys.argv[2])
# A real ClientHello, taken from an ssl.MemoryBIO handshake.
import ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(incoming, outgoing, server_hostname="stalled.bench.test")
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = outgoing.read()
socks = []
for _ in range(count):
    s = socket.create_connection((host, 24601))
    s.sendall(hello)
    socks.append(s)
time.sleep(3)
with open(f"/proc/{sys.argv[3]}/status") as status:
    rss = [line.split()[1] for line in status if line.startswith("VmRSS")][0]
print(f"RSS with {count} flows in handshake phase: {int(rss) / 1024:.1f} MiB")
EOF
echo "RSS after start: $((rss_start / 1024)) MiB"
stop_sensor
}

section_4() {
echo "== 4. sensor RSS with $tracked CNFlow flows tracked (UDP flows from distinct ports)"
CIPHERLENS_LOG=info "$sensor" live -i "$host_if" --stats-interval 2 -o /dev/null \
    --cnflow-scan-interval 2 --cnflow-report-interval 6 2> "$work/sensor.err" &
sensor_pid=$!
sleep 2
ip netns exec "$ns" python3 - "$host_ip" "$tracked" << 'EOF'
import socket, sys
host, count = sys.argv[1], int(sys.argv[2])
sent = 0
for destination in range(30000, 30010):
    for source in range(10000, 60000):
        if sent == count:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", source))
            s.sendto(b"x", (host, destination))
            sent += 1
        except OSError:
            pass
        s.close()
print(f"sent one datagram on each of {sent} flows")
EOF
# Two report intervals: every flow has been scanned, reported and remembered.
sleep 14
tracked_now=$(grep '"cipherlens.stats/v1"' "$work/sensor.err" | tail -1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["cnflow_tracked"])')
rss=$(rss_kb "$sensor_pid")
peak=$(awk '/VmHWM/ { print $2 }' "/proc/$sensor_pid/status")
echo "flows in the kernel map at the last scan: $tracked_now"
echo "sensor RSS: $((rss / 1024)) MiB now, $((peak / 1024)) MiB peak (target <= 256 MB)"
stop_sensor
}

for section in $sections; do
    "section_$section"
done
