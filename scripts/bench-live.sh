#!/usr/bin/env bash
# Live capture cost, each measurement side by side in one run, sensor-on and
# sensor-off runs alternating, RUNS times each, medians printed:
#   1. bulk TCP throughput over a veth pair (iperf3) with the sensor attached
#      (CNFlow counting on, and with --no-cnflow) versus not; target ratio
#      >= 0.98; then the TC programs' own cost per packet during the same
#      transfer (kernel.bpf_stats_enabled: run_time_ns / run_cnt), target
#      <= 100 ns, measured in runs of their own (the stats cost time too),
#      beside an empty classifier's cost measured alike (the floor) and the
#      cost when every payload is looked at for a TLS start
#      (--starttls-watch-bytes 0: the transfer is plaintext); and the
#      ingress program's cost with hot caches (BPF_PROG_TEST_RUN of one
#      segment of a flow outside its handshake): its own instructions;
#   2. TLS handshakes per second from a client namespace to a server on the
#      host end of the veth, as fast as the load generator goes, first with
#      the load on every CPU, then with it pinned to CPU 0 so the sensor has
#      a core to spare (the
#      `handshake-load` binary of the integration crate: rustls full TLS 1.3
#      handshakes on threads, no resumption, one server name each): every
#      session must be recorded, complete, with zero drops (the client ports
#      are reused within a run, as on a busy node); sensor CPU (user + system,
#      from /proc/<pid>/stat) per recorded handshake in steady state (from
#      SETTLE seconds after start; the start-up CPU is printed on its own),
#      target <= 20 us; the
#      largest backlog the sensor drained from its ring buffer at once; then
#      BULK_CONNECTIONS connections (load on CPU 0) that each read a
#      BULK_KIB response after the handshake (the ring under data: no loss,
#      backlog peak); then one run counting the system calls per handshake
#      (perf stat on the kernel's syscall tracepoints: `strace -c` counted
#      openat calls there that no trace of the calls themselves showed);
#   3. sensor RSS right after start (target <= 48 MB) and with 10,000 flows
#      in their handshake phase (clients that send a ClientHello and wait);
#   4. sensor RSS with 100,000 flows tracked for CNFlow records (target
#      <= 128 MB), and the sensor's CPU while it scans and reports them;
#   5. small packets: 100-byte UDP datagrams (iperf3 -u -l 100), packets per
#      second received with the sensor on and off, and the TC programs' cost
#      per packet.
# Topology: namespace clbench <-> veth (MTU 1500) <-> host end clbenchh,
# private addresses on that link only; removed at exit.
# Usage: scripts/bench-live.sh   (root; after scripts/setup.sh)
# Environment: RUNS (3), IPERF_SECONDS (5), HANDSHAKES (20000), LOAD_THREADS (16),
# STALLED (10000), TRACKED (100000), BULK_CONNECTIONS (5000), BULK_KIB (256), SECTIONS ("1 2 3 4 5": which to run),
# SENSOR_ARGS (extra options for every sensor run, e.g. "--ring-buffer-mib 4"),
# SETTLE (3: seconds a sensor runs before a throughput run starts), SENSOR (the
# sensor binary; target/release/cipherlens, built first, by default).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
iperf_seconds=${IPERF_SECONDS:-5}
handshakes=${HANDSHAKES:-20000}
load_threads=${LOAD_THREADS:-16}
stalled=${STALLED:-10000}
tracked=${TRACKED:-100000}
bulk_connections=${BULK_CONNECTIONS:-5000}
bulk_kib=${BULK_KIB:-256}
sections=${SECTIONS:-1 2 3 4 5}
sensor_args=${SENSOR_ARGS:-}
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
    sysctl -qw kernel.bpf_stats_enabled=0 2> /dev/null || true
    ip link del "$host_if" 2> /dev/null || true
    ip netns del "$ns" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -p cipherlens-sensor 2>&1 | grep -v "^warning: cipherlens-sensor@" | tail -1
cargo build --release -p cipherlens-integration --bin handshake-load 2>&1 | tail -1
sensor=${SENSOR:-target/release/cipherlens}
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
# Repeated handshake runs from one client address: enough ports, and those
# of the previous run (TIME_WAIT) reused.
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1

start_sensor() {
    # shellcheck disable=SC2086 # SENSOR_ARGS is a list of options
    CIPHERLENS_LOG=info "$sensor" live -i "$host_if" --stats-interval 0 -o "$work/records.jsonl" \
        $sensor_args "$@" 2> "$work/sensor.err" &
    sensor_pid=$!
    for _ in $(seq 1 200); do
        grep -q "interface=.*$host_if" "$work/sensor.err" 2> /dev/null && return 0
        sleep 0.05
    done
    echo "sensor did not attach:" >&2
    cat "$work/sensor.err" >&2
    exit 1
}

# Throughput runs start once the sensor's start-up work (the TLS library
# scan of every process, about a second of one core) is over: on two cores
# it would otherwise be measured as per-packet cost.
settle=${SETTLE:-3}
start_sensor_settled() {
    start_sensor "$@"
    sleep "$settle"
}

stop_sensor() {
    kill -INT "$sensor_pid"
    wait "$sensor_pid" || true
    sensor_pid=
}

# The floor: an empty classifier on the same interface (`cipherlens
# tc-baseline`), whose bpf_stats cost is the hook's and the statistics' own
# (two clock reads per run, expensive on a VM's clock source).
start_baseline() {
    "$sensor" tc-baseline -i "$host_if" 2> "$work/baseline.err" &
    sensor_pid=$!
    for _ in $(seq 1 100); do
        grep -q attached "$work/baseline.err" 2> /dev/null && return 0
        sleep 0.05
    done
    echo "baseline did not attach:" >&2
    cat "$work/baseline.err" >&2
    exit 1
}

rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }

# "run_time_ns run_cnt" summed over the loaded TC programs of the sensor.
tc_prog_stats() {
    bpftool -j prog show | python3 -c '
import json, sys
progs = [p for p in json.load(sys.stdin) if p.get("name", "").startswith("cipherlens_tc")]
print(sum(p.get("run_time_ns", 0) for p in progs), sum(p.get("run_cnt", 0) for p in progs))'
}

# "nanoseconds-per-run runs" of the TC programs while "$@" runs (bpf_stats
# on meanwhile); the command's output goes to $work/measured.out.
ns_per_packet() {
    sysctl -qw kernel.bpf_stats_enabled=1
    local before after
    before=$(tc_prog_stats)
    "$@" > "$work/measured.out"
    after=$(tc_prog_stats)
    sysctl -qw kernel.bpf_stats_enabled=0
    # shellcheck disable=SC2086 # two numbers each
    python3 -c '
import sys
t0, n0, t1, n1 = (int(v) for v in sys.argv[1:5])
print(f"{(t1 - t0) / max(n1 - n0, 1):.0f} {n1 - n0}")' $before $after
}

median() { python3 -c 'import statistics, sys; print(statistics.median(float(v) for v in sys.argv[1:]))' "$@"; }
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
    start_sensor_settled
    with+=("$(iperf_once)")
    stop_sensor
    start_sensor_settled --no-cnflow
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
print(f"ratio with/without: {b / a:.3f}; --no-cnflow/without: {c / a:.3f} (target >= 0.98)")
EOF
echo "-- TC program cost per packet during the transfer (bpf_stats; runs of their own)"
on_ns=()
bare_ns=()
watch_all_ns=()
empty_ns=()
for _ in $(seq 1 "$runs"); do
    start_sensor_settled
    read -r cost count < <(ns_per_packet iperf_once)
    on_ns+=("$cost")
    stop_sensor
    start_sensor_settled --starttls-watch-bytes 0
    read -r cost _ < <(ns_per_packet iperf_once)
    watch_all_ns+=("$cost")
    stop_sensor
    start_sensor_settled --no-cnflow
    read -r cost _ < <(ns_per_packet iperf_once)
    bare_ns+=("$cost")
    stop_sensor
    start_baseline
    read -r cost _ < <(ns_per_packet iperf_once)
    empty_ns+=("$cost")
    stop_sensor
done
floor=$(median "${empty_ns[@]}")
echo "CNFlow on:   median $(median "${on_ns[@]}") ns per packet, runs ${on_ns[*]} (about $count packets each; target <= 100)"
echo "--no-cnflow: median $(median "${bare_ns[@]}") ns per packet, runs ${bare_ns[*]}"
echo "--starttls-watch-bytes 0 (every packet's payload looked at): median $(median "${watch_all_ns[@]}") ns per packet, runs ${watch_all_ns[*]}"
echo "empty classifier (the floor): median $floor ns per packet, runs ${empty_ns[*]}"
python3 -c 'import sys; a, b, f = map(float, sys.argv[1:]); print(f"above the floor: CNFlow on {a - f:.0f} ns, --no-cnflow {b - f:.0f} ns")' \
    "$(median "${on_ns[@]}")" "$(median "${bare_ns[@]}")" "$floor"
# Each round's cost less that round's floor: the machine's drift between
# rounds (a VM's neighbours) moves both alike.
python3 - "${on_ns[*]}" "${empty_ns[*]}" << 'EOF'
import statistics, sys
on, empty = ([float(v) for v in arg.split()] for arg in sys.argv[1:3])
above = [a - e for a, e in zip(on, empty)]
print(f"above the floor, round by round: median {statistics.median(above):.0f} ns, rounds {[round(v) for v in above]}")
EOF
echo "-- the ingress program alone, caches hot (BPF_PROG_TEST_RUN, 5,000,000 runs of one 100-byte"
echo "   TCP data segment of a flow outside its handshake): the program's own instructions"
python3 - "$work/segment" << 'EOF'
import struct, sys
def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
tcp = struct.pack("!HHIIBBHHH", 40000, 5201, 1000, 2000, 5 << 4, 0x10, 65535, 0, 0)
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + 100, 1, 0x4000, 64, 6, 0,
                 bytes([10, 214, 0, 2]), bytes([10, 214, 0, 1]))
ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
open(sys.argv[1], "wb").write(b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp + b"A" * 100)
EOF
hot_cost() {
    local id
    id=$(bpftool -j prog show | python3 -c '
import json, sys
print(next(p["id"] for p in json.load(sys.stdin) if p.get("name") == "cipherlens_tc_ingress"))')
    # The first runs make the flow's entry and put it in the CPU's cache.
    bpftool prog run id "$id" data_in "$work/segment" repeat 1000 > /dev/null
    bpftool prog run id "$id" data_in "$work/segment" repeat 5000000 |
        sed -n 's/.*duration (average): \([0-9]*\)ns.*/\1/p'
}
hot_on=()
hot_bare=()
for _ in $(seq 1 "$runs"); do
    start_sensor_settled
    hot_on+=("$(hot_cost)")
    stop_sensor
    start_sensor_settled --no-cnflow
    hot_bare+=("$(hot_cost)")
    stop_sensor
done
echo "CNFlow on: median $(median "${hot_on[@]}") ns, runs ${hot_on[*]}; --no-cnflow: median $(median "${hot_bare[@]}") ns, runs ${hot_bare[*]}"
}

section_2() {
echo "== 2. TLS handshakes per second ($handshakes handshakes, $load_threads at a time), $runs runs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/k.pem" \
    -out "$work/c.pem" -subj /CN=bench.test -days 2 2> /dev/null
# Two regimes: the load on every CPU, the sensor competing with it (events
# pile up while the sensor waits for a CPU, so it reads them in batches);
# and the load on CPU 0 only, the sensor with a core to spare (as on a node
# whose load leaves cores idle: the sensor can wake for every event).
echo "-- the load on every CPU (the sensor competes with it for the CPUs)"
handshake_runs
echo "-- the load on CPU 0, the sensor with a core to spare"
handshake_runs taskset -c 0
# Data after the handshake: the sensor reads the ring in batches, and this
# checks that the kernel wakes it in time (no loss, backlog peak well under
# the ring) when every connection then downloads a response.
echo "-- the load on CPU 0, each of $bulk_connections connections then reading a $bulk_kib KiB response"
connections=$bulk_connections response_bytes=$((bulk_kib * 1024)) handshake_runs taskset -c 0
handshake_syscalls
}

# RUNS handshake runs with the load started by "$@" (a CPU pin, or none).
handshake_runs() {
"$@" "$load" serve "$host_ip" 24600 "$work/c.pem" "$work/k.pem" "$load_threads" &
server_pid=$!
sleep 1
hz=$(getconf CLK_TCK)
: > "$work/handshake-runs"
for _ in $(seq 1 "$runs"); do
    : > "$work/records.jsonl"
    # Steady state: the start-up work (loading and verifying the programs,
    # the TLS library scan of every process) is over before the handshakes
    # start, and is reported on its own.
    start_sensor_settled
    ticks_before=$(cpu_ticks "$sensor_pid")
    rate=$("$@" ip netns exec "$ns" "$load" connect "$host_ip" 24600 "${connections:-$handshakes}" \
        "$load_threads" ${response_bytes:+"$response_bytes"})
    sleep 1
    ticks_after=$(cpu_ticks "$sensor_pid")
    stop_sensor
    # Distinct configured server names recorded (each handshake used its
    # own), and records of handshakes the sensor did not see finish.
    read -r recorded unfinished < <(python3 -c '
import json, sys
names, unfinished = set(), 0
for line in open(sys.argv[1]):
    if line.strip():
        record = json.loads(line)
        names.add(record.get("tls", {}).get("client", {}).get("server_name"))
        session = record.get("cipherlens", {}).get("session", {})
        unfinished += session.get("complete") is False
print(len({n for n in names if n and n.endswith(".bench.test")}), unfinished)' "$work/records.jsonl")
    grep '"cipherlens.stats/v1"' "$work/sensor.err" | tail -1 > "$work/stats.json"
    python3 - "$rate" "${connections:-$handshakes}" "$recorded" "$ticks_before" "$ticks_after" "$hz" "$work/stats.json" "$unfinished" >> "$work/handshake-runs" << 'EOF'
import json, sys
rate, total, recorded = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
before, after, hz = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
stats = json.load(open(sys.argv[7]))
unfinished = int(sys.argv[8])
drops = sum(stats["events_dropped"].values())
cpu = (after - before) / hz
print(rate, recorded, total, cpu / recorded * 1e6 if recorded else 0, stats["kernel_losses"], drops,
      stats.get("ring_buffer_peak_bytes", 0), stats.get("ring_buffer_bytes", 0), unfinished,
      stats.get("pipeline", {}).get("flows_replaced_unseen_end", 0), before / hz * 1000)
EOF
done
python3 - "$work/handshake-runs" << 'EOF'
import statistics, sys
runs = [line.split() for line in open(sys.argv[1]) if line.strip()]
rates = [float(r[0]) for r in runs]
per = [float(r[3]) for r in runs]
for r in runs:
    print(f"run: {float(r[0]):.0f} handshakes/s, recorded {r[1]} of {r[2]} ({r[8]} unfinished, "
          f"{r[9]} replaced before their end was seen), kernel losses {r[4]}, "
          f"user drops {r[5]}, sensor CPU {float(r[3]):.1f} us per handshake, "
          f"ring backlog peak {int(r[6]) / 2**20:.2f} MiB of {int(r[7]) / 2**20:.0f} MiB")
print(f"median: {statistics.median(rates):.0f} handshakes/s, sensor CPU {statistics.median(per):.1f} us "
      f"per recorded handshake (target <= 20)")
print(f"start-up CPU before the handshakes (load, verify, attach, TLS library scan): "
      f"median {statistics.median(float(r[10]) for r in runs):.0f} ms")
EOF
kill "$server_pid"
wait "$server_pid" 2> /dev/null || true
server_pid=
}

handshake_syscalls() {
"$load" serve "$host_ip" 24600 "$work/c.pem" "$work/k.pem" "$load_threads" &
server_pid=$!
sleep 1
echo "-- system calls per handshake (one run, counted by the kernel's syscall tracepoints with perf stat)"
: > "$work/records.jsonl"
start_sensor_settled
events=raw_syscalls:sys_enter
for name in openat bpf write read epoll_wait futex sendto recvfrom; do
    events+=",syscalls:sys_enter_$name"
done
perf stat -x, -e "$events" -p "$sensor_pid" -o "$work/syscalls.csv" &
perf_pid=$!
sleep 1
ip netns exec "$ns" "$load" connect "$host_ip" 24600 "$handshakes" "$load_threads" > /dev/null
# Past the next CNFlow scan (every 5 s), which reads and deletes the ended
# flows: its calls belong to the handshakes too.
sleep 6
kill -INT "$perf_pid"
wait "$perf_pid" || true
stop_sensor
python3 - "$work/syscalls.csv" "$handshakes" << 'EOF'
import sys
total, counts = int(sys.argv[2]), {}
for line in open(sys.argv[1]):
    fields = line.strip().split(",")
    if len(fields) > 2 and fields[0].isdigit():
        counts[fields[2].split(":")[-1].removeprefix("sys_enter_").removeprefix("sys_enter")] = int(fields[0])
every = counts.pop("", 0)
print(f"{every / total:.2f} system calls per handshake: " +
      ", ".join(f"{name} {count / total:.2f}" for name, count in sorted(counts.items(), key=lambda c: -c[1])))
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
# What the start-up RSS is made of: anonymous memory, file-backed pages,
# and among those the BPF maps the sensor mapped (the ring buffers, whose
# data pages the kernel maps twice).
rss_parts=$(awk '/^(RssAnon|RssFile):/ { printf "%s %d MiB ", $1, $2 / 1024 }' "/proc/$sensor_pid/status")
rss_maps=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { mapped = ($NF == "anon_inode:bpf-map") }
    mapped && /^Rss:/ { total += $2 } END { print int(total / 1024) }' "/proc/$sensor_pid/smaps")
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
echo "RSS after start: $((rss_start / 1024)) MiB (target <= 48 MB): ${rss_parts}(of the file-backed, ${rss_maps} MiB are mapped BPF maps: the ring buffers)"
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
# The sensor's CPU meanwhile is that of scanning them (every 2 s) and of
# their update records (every 6 s).
ticks_before=$(cpu_ticks "$sensor_pid")
sleep 14
ticks_after=$(cpu_ticks "$sensor_pid")
tracked_now=$(grep '"cipherlens.stats/v1"' "$work/sensor.err" | tail -1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["cnflow_tracked"])')
rss=$(rss_kb "$sensor_pid")
peak=$(awk '/VmHWM/ { print $2 }' "/proc/$sensor_pid/status")
echo "flows in the kernel map at the last scan: $tracked_now"
echo "sensor RSS: $((rss / 1024)) MiB now, $((peak / 1024)) MiB peak (target <= 128 MB)"
python3 -c '
import sys
ticks, hz, flows = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
scans = 7
print(f"sensor CPU while they are scanned every 2 s and reported every 6 s: "
      f"{ticks / hz * 1000 / scans:.1f} ms per scan, {ticks / hz * 1e9 / scans / max(flows, 1):.0f} ns "
      "per flow and scan")' \
    "$((ticks_after - ticks_before))" "$(getconf CLK_TCK)" "$tracked_now"
stop_sensor
}

section_5() {
echo "== 5. small packets: 100-byte UDP datagrams for ${iperf_seconds}s, $runs runs each, alternating"
pgrep -f "iperf3 -s -B $host_ip" > /dev/null || iperf3 -s -B "$host_ip" -D
sleep 0.5
udp_once() {
    ip netns exec "$ns" iperf3 -c "$host_ip" -u -l 100 -b 0 -t "$iperf_seconds" -J |
        python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]["sum"]; print(round((e["packets"] - e["lost_packets"]) / e["seconds"]))'
}
without=()
with=()
costs=()
empty_ns=()
for _ in $(seq 1 "$runs"); do
    without+=("$(udp_once)")
    start_sensor_settled
    with+=("$(udp_once)")
    read -r cost _ < <(ns_per_packet udp_once)
    costs+=("$cost")
    stop_sensor
    start_baseline
    read -r cost _ < <(ns_per_packet udp_once)
    empty_ns+=("$cost")
    stop_sensor
done
a=$(median "${without[@]}")
b=$(median "${with[@]}")
echo "without sensor: median $a packets/s received, runs ${without[*]}"
echo "with sensor:    median $b packets/s received, runs ${with[*]}"
python3 -c 'import sys; print(f"ratio with/without: {float(sys.argv[2]) / float(sys.argv[1]):.3f}")' "$a" "$b"
echo "TC program cost: median $(median "${costs[@]}") ns per packet, runs ${costs[*]}"
echo "empty classifier (the floor): median $(median "${empty_ns[@]}") ns per packet, runs ${empty_ns[*]}"
}

for section in $sections; do
    "section_$section"
done
