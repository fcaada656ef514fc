#!/usr/bin/env bash
# Inventory ingest from JetStream into SQLite, beside what NATS and JSON
# alone cost on the same stream, in one run.
#
# Why: across a fleet, one or more `cipherlens inventory ingest` consumers
# read every node's session records from a JetStream stream. The target is
# TARGET (100,000) records/s. To say what this machine can do at all, the
# same stream is first drained by a consumer that only receives each
# message and reads it as JSON without keeping anything (`jetstream-load
# drain`): no ingest can be faster than that floor here.
#
# Steps: a nats-server with JetStream on a free loopback port and a
# throw-away store; COUNT (200,000) real session records (the JSON lines
# under inventory/tests/data, cycled) published to a stream; the drain;
# then the ingest into a fresh database (WAL) through a durable consumer,
# exiting 1 s after the stream runs dry. Records/s is the record count over
# the wall time less that idle second. CPU seconds come from
# /proc/PID/stat (ingest: its own user+system time; nats-server: the
# difference across the run); the ingest's peak RSS from VmHWM.
#
# Usage: scripts/bench-inventory.sh
# Environment: COUNT (200000), TARGET (100000).
# Needs: nats-server, jq; builds the release binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${COUNT:-200000}
target=${TARGET:-100000}
cargo build --release -q -p cipherlens-sensor --bin cipherlens
cargo build --release -q -p cipherlens-integration --bin jetstream-load
bin=target/release

work=$(mktemp -d /tmp/cipherlens-bench-inventory.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p "$port" -js -sd "$work/store" >"$work/nats.log" 2>&1 &
nats_pid=$!
cleanup() { kill "$nats_pid" 2>/dev/null || true; wait "$nats_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
url="nats://127.0.0.1:$port"
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)

data=inventory/tests/data
"$bin/jetstream-load" fill "$url" BENCH "$count" "$data"/live-node-a.jsonl "$data"/live-node-b.jsonl \
    "$data"/replay-fixtures.jsonl "$data"/replay-corpus.jsonl >"$work/fill.json"
echo "published: $(cat "$work/fill.json")"

before=$(cpu_ticks "$nats_pid")
"$bin/jetstream-load" drain "$url" BENCH >"$work/drain.json"
after=$(cpu_ticks "$nats_pid")
floor=$(jq .per_second "$work/drain.json")
echo "floor (receive + read JSON only): $(cat "$work/drain.json"), nats-server CPU $(( (after - before) * 1000 / ticks_per_second )) ms"

before=$(cpu_ticks "$nats_pid")
start=$(date +%s.%N)
"$bin/cipherlens" inventory ingest --db "$work/inventory.db" --nats-url "$url" --stream BENCH \
    --durable bench --idle-exit 1 2>"$work/ingest.err" &
ingest_pid=$!
ingest_ticks=0
peak_kb=0
while kill -0 "$ingest_pid" 2>/dev/null; do
    ingest_ticks=$(cpu_ticks "$ingest_pid" 2>/dev/null || echo "$ingest_ticks")
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$ingest_pid/status" 2>/dev/null || true)
    # A zombie's status has no VmHWM: keep the last reading.
    [ -n "$hwm" ] && peak_kb=$hwm
    sleep 0.05
done
wait "$ingest_pid"
end=$(date +%s.%N)
after=$(cpu_ticks "$nats_pid")
report=$(tail -1 "$work/ingest.err")
records=$(jq .records <<<"$report")
if [ "$records" != "$count" ]; then
    echo "ingest counted $records of $count records: $report" >&2
    exit 1
fi
seconds=$(echo "$end - $start - 1" | bc -l)
rate=$(echo "$records / $seconds" | bc)
echo "ingest: $report"
printf 'ingest: %d records in %.2f s = %d records/s (floor %d/s, target %d/s); ingest CPU %d ms (%.1f us/record), peak RSS %d MiB, nats-server CPU %d ms\n' \
    "$records" "$seconds" "$rate" "${floor%.*}" "$target" \
    $(( ingest_ticks * 1000 / ticks_per_second )) \
    "$(echo "$ingest_ticks * 1000000 / $ticks_per_second / $records" | bc -l)" \
    $(( peak_kb / 1024 )) \
    $(( (after - before) * 1000 / ticks_per_second ))
if [ "$rate" -lt "$target" ]; then
    echo "below the target of $target records/s" >&2
    exit 2
fi
