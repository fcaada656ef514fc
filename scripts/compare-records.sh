#!/usr/bin/env bash
# Behaviour check for refactors: the records `cipherlens replay` prints for
# every fixture capture, every capture of the conformance corpus and the
# replay benchmark's capture must be byte-identical between a base revision
# and the working tree.
#
# Usage: scripts/compare-records.sh [BASE_REV]
#   BASE_REV defaults to 6fb831a, the last commit before the sensor was
#   reshaped around the record crate.
# The base is built in a temporary git worktree (release, its own target
# directory under target/compare/). The benchmark capture is
# target/bench-data/replay-bench.pcapng, made by scripts/bench-replay.sh; it
# is compared when present (run that script first to include it).
set -euo pipefail
cd "$(dirname "$0")/.."

base_rev=${1:-6fb831a}
corpus=${CIPHERLENS_CORPUS:-../shared/corpus}
work=target/compare
base_tree=$work/base-tree
mkdir -p "$work"

echo "== building the working tree (release)"
cargo build --release -p cipherlens-sensor
current=target/release/cipherlens

echo "== building $base_rev (release) in $base_tree"
if [ -d "$base_tree" ]; then
    git -C "$base_tree" checkout -q --detach "$base_rev"
else
    git worktree add -q --detach "$base_tree" "$base_rev"
fi
(cd "$base_tree" && CARGO_TARGET_DIR="$PWD/../target-base" cargo build --release -p cipherlens-sensor)
base=$work/target-base/release/cipherlens

mapfile -t inputs < <(find fixtures/pcaps "$corpus" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) 2> /dev/null | sort)
if [ -f target/bench-data/replay-bench.pcapng ]; then
    inputs+=(target/bench-data/replay-bench.pcapng)
else
    echo "   (no target/bench-data/replay-bench.pcapng: run scripts/bench-replay.sh to include it)"
fi

echo "== replaying ${#inputs[@]} captures with both"
differ=0
records=0
for input in "${inputs[@]}"; do
    # Truncated captures make replay exit 1 after printing what it read;
    # the records are what is compared, and the exit status too.
    base_status=0 current_status=0
    "$base" replay "$input" > "$work/base.jsonl" 2> /dev/null || base_status=$?
    "$current" replay "$input" > "$work/current.jsonl" 2> /dev/null || current_status=$?
    if ! cmp -s "$work/base.jsonl" "$work/current.jsonl" || [ "$base_status" != "$current_status" ]; then
        echo "DIFFERENT: $input (exit $base_status vs $current_status)"
        diff <(head -c 2000 "$work/base.jsonl") <(head -c 2000 "$work/current.jsonl") | head -20 || true
        differ=$((differ + 1))
    fi
    records=$((records + $(wc -l < "$work/current.jsonl")))
done
echo "   $records records from ${#inputs[@]} captures; $differ captures differ"
[ "$differ" -eq 0 ]
