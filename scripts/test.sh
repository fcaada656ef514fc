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

echo "== cargo test (workspace, integration crate included)"
cargo test --workspace --no-fail-fast
