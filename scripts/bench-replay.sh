#!/usr/bin/env bash
# Replay throughput: `cipherlens replay` against tshark's JA3 extraction on
# the same large capture, timed side by side in one hyperfine run.
#
# Why: replay is how operators backfill fingerprints from stored captures,
# and tshark is what they would use otherwise. The target is that replay
# is at least TARGET_RATIO (20) times faster than
# `tshark -r FILE -T fields -e tls.handshake.ja3`; the script exits non-zero
# below it. As a sanity check it first compares the set of JA3 hashes both
# tools find in the file (tshark's first per connection, as records carry),
# so the speed is measured on work that agrees.
#
# The capture (>= BENCH_MIN_MB, default 100 MB) is built under
# target/bench-data/ from every real capture in the conformance corpus
# (shared/corpus beside the repository) and fixtures/pcaps:
#   1. each input is time-shifted (editcap -t) to start GAP_SECONDS after the
#      previous one ended, so the inputs play one after another;
#   2. those are concatenated (mergecap -a, pcapng since link types differ)
#      into one "round";
#   3. the round is copied, copy k shifted by k times the round's span, and
#      the copies are concatenated.
# Copies reuse the original addresses and ports, so every flow repeats with
# the same 5-tuple, but always more than GAP_SECONDS (default 1000 s) after
# its previous occurrence ended: far past the sensor's 120 s idle timeout, so
# the repeats are new sessions, not a continuation of old ones (tshark
# likewise starts a new conversation on a reused port after a SYN). Ports
# are left alone on purpose: tshark finds TLS by port, and rewriting ports
# would change what it dissects. The capture is rebuilt only when the inputs
# or parameters change.
#
# Usage: scripts/bench-replay.sh
# Environment: CIPHERLENS_CORPUS (default ../shared/corpus), BENCH_MIN_MB
# (100), BENCH_RUNS (3), TARGET_RATIO (20), GAP_SECONDS (1000).
# Needs: tshark, editcap, mergecap, capinfos (Debian package tshark),
# hyperfine, jq.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus=${CIPHERLENS_CORPUS:-../shared/corpus}
min_bytes=$(( ${BENCH_MIN_MB:-100} * 1024 * 1024 ))
runs=${BENCH_RUNS:-3}
target_ratio=${TARGET_RATIO:-20}
gap_seconds=${GAP_SECONDS:-1000}
data_dir=target/bench-data
capture=$data_dir/replay-bench.pcapng
replay=target/release/cipherlens

for tool in tshark editcap mergecap capinfos hyperfine jq; do
    command -v "$tool" > /dev/null || { echo "bench-replay: $tool is needed" >&2; exit 2; }
done

echo "== building cipherlens (release)"
cargo build --release -p cipherlens-sensor

mapfile -t inputs < <(find "$corpus" fixtures/pcaps -type f \( -name '*.pcap' -o -name '*.pcapng' \) 2> /dev/null | sort)
if [ "${#inputs[@]}" -eq 0 ]; then
    echo "bench-replay: no captures found under $corpus or fixtures/pcaps" >&2
    exit 2
fi

mkdir -p "$data_dir"
manifest=$data_dir/replay-bench.manifest
wanted_manifest=$(sha256sum "${inputs[@]}"; echo "min_bytes=$min_bytes gap_seconds=$gap_seconds")
if [ -f "$capture" ] && [ "$(cat "$manifest" 2> /dev/null)" = "$wanted_manifest" ]; then
    echo "== reusing $capture"
else
    echo "== building $capture from ${#inputs[@]} captures"
    work=$data_dir/replay-bench-work
    rm -rf "$work" && mkdir -p "$work/round" "$work/copies"
    # 1. One round: the inputs back to back, GAP_SECONDS apart, from t = 1e9 s.
    next_start=1000000000
    index=0
    for input in "${inputs[@]}"; do
        first=$(capinfos -T -r -a -S "$input" | cut -f2)
        duration=$(capinfos -T -r -u -S "$input" | cut -f2)
        case $first in '' | n/a) continue ;; esac # no packets
        offset=$(awk -v start="$next_start" -v first="$first" 'BEGIN { printf "%.6f", start - first }')
        editcap -F pcapng -t "$offset" "$input" "$work/round/$(printf '%04d' "$index").pcapng"
        next_start=$(awk -v start="$next_start" -v duration="$duration" -v gap="$gap_seconds" \
            'BEGIN { printf "%.6f", start + duration + gap }')
        index=$((index + 1))
    done
    mergecap -a -F pcapng -w "$work/round.pcapng" "$work"/round/*.pcapng
    round_span=$(awk -v end="$next_start" 'BEGIN { printf "%.6f", end - 1000000000 }')
    round_bytes=$(stat -c %s "$work/round.pcapng")
    copies=$(( (min_bytes + round_bytes - 1) / round_bytes ))
    # 2. Copies of the round, each one round span after the previous.
    for ((copy = 0; copy < copies; copy++)); do
        offset=$(awk -v copy="$copy" -v span="$round_span" 'BEGIN { printf "%.6f", copy * span }')
        editcap -t "$offset" "$work/round.pcapng" "$work/copies/$(printf '%05d' "$copy").pcapng"
    done
    mergecap -a -F pcapng -w "$capture" "$work"/copies/*.pcapng
    rm -rf "$work"
    echo "$wanted_manifest" > "$manifest"
    echo "   ${#inputs[@]} captures per round ($round_bytes bytes), $copies copies"
fi
capture_bytes=$(stat -c %s "$capture")
capture_frames=$(capinfos -T -r -c "$capture" | cut -f2)
echo "   $capture: $capture_bytes bytes, $capture_frames frames"

echo "== sanity check: the same JA3 hashes from both tools"
# A session record carries the JA3 of the connection's first ClientHello;
# tshark fingerprints every ClientHello frame. So tshark's side keeps the
# first non-empty JA3 of each TCP or UDP stream: a second, different hello in
# one connection (tls-duplicate-hello in the corpus) is not a disagreement.
tshark -r "$capture" -T fields -e tcp.stream -e udp.stream -e tls.handshake.ja3 2> /dev/null \
    | awk -F '\t' '$3 != "" && !seen[$1 "/" $2]++ { split($3, hashes, ","); print hashes[1] }' \
    | sort -u > "$data_dir/ja3-tshark.txt"
"$replay" replay "$capture" > "$data_dir/replay-records.jsonl"
jq -r '.tls.client.ja3 // empty' "$data_dir/replay-records.jsonl" | sort -u > "$data_dir/ja3-replay.txt"
echo "   distinct JA3: tshark $(wc -l < "$data_dir/ja3-tshark.txt"), replay $(wc -l < "$data_dir/ja3-replay.txt")" \
    "($(grep -c cipherlens.session/v1 "$data_dir/replay-records.jsonl") session records)"
if ! diff <(cat "$data_dir/ja3-tshark.txt") <(cat "$data_dir/ja3-replay.txt") > "$data_dir/ja3-diff.txt"; then
    echo "bench-replay: JA3 sets differ (< tshark only, > replay only):" >&2
    cat "$data_dir/ja3-diff.txt" >&2
    exit 1
fi
echo "   same $(wc -l < "$data_dir/ja3-tshark.txt") JA3 hashes"

echo "== timing (hyperfine, --warmup 1 --runs $runs)"
results=$data_dir/replay-vs-tshark.json
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$results" \
    -n replay "$replay replay $capture > /dev/null" \
    -n tshark "tshark -r $capture -T fields -e tls.handshake.ja3 > /dev/null"

replay_seconds=$(jq '.results[] | select(.command == "replay") | .mean' "$results")
tshark_seconds=$(jq '.results[] | select(.command == "tshark") | .mean' "$results")
awk -v replay="$replay_seconds" -v tshark="$tshark_seconds" -v target="$target_ratio" \
    -v bytes="$capture_bytes" -v frames="$capture_frames" 'BEGIN {
    ratio = tshark / replay
    printf "replay: %.3f s (%.1f MB/s, %.0f frames/s)\n", replay, bytes / replay / 1e6, frames / replay
    printf "tshark: %.3f s (%.1f MB/s, %.0f frames/s)\n", tshark, bytes / tshark / 1e6, frames / tshark
    printf "ratio tshark/replay: %.1f (target: >= %s)\n", ratio, target
    if (ratio < target) { print "bench-replay: below target"; exit 1 }
}'
