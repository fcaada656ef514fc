#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this after setup).
#
# Static checks first (format, clippy with warnings denied), then every
# test: unit, conformance against third-party captures with tshark as the
# oracle, fixture captures, fuzz-corpus replay, and, when run as root, the
# privileged end-to-end tests in the integration crate.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cipherlens-record stays data only"
# A consumer of the record stream depends on cipherlens-record alone; it
# must never pull in the packet/certificate parsers or the kernel side.
forbidden='^(cipherlens-parsers|cipherlens-capture|cipherlens-common|aya|aya-obj|ring|x509-parser|tls-parser) '
if cargo tree -p cipherlens-record -e normal,build --prefix none | grep -E "$forbidden"; then
    echo "cipherlens-record depends on the crates above" >&2
    exit 1
fi

echo "== cipherlens-policy stays pure"
# The policy engine runs off-node on stored records too: records, serde,
# toml and thiserror only.
if cargo tree -p cipherlens-policy -e normal,build --prefix none | grep -E "$forbidden|^(cipherlens-sensor|tokio|async-nats) "; then
    echo "cipherlens-policy depends on the crates above" >&2
    exit 1
fi

echo "== cipherlens-uprobes plans, the sensor attaches"
# Discovery is tested without root: no aya, no kernel side, no runtime.
if cargo tree -p cipherlens-uprobes -e normal,build --prefix none | grep -E "^(aya|aya-obj|cipherlens-common|cipherlens-sensor|tokio|async-nats) "; then
    echo "cipherlens-uprobes depends on the crates above" >&2
    exit 1
fi

echo "== cargo test (workspace, integration crate included)"
cargo test --workspace --no-fail-fast
