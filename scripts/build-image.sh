#!/usr/bin/env bash
# Builds the sensor image with buildah: the static release binary
# (`-C target-feature=+crt-static`, profile `image`: no debug information,
# stripped) in deploy/container/Containerfile, two stages FROM scratch.
# Reproducible: `--timestamp 0` and a context holding only the binary, so
# the same binary gives the same image digest.
# Usage: scripts/build-image.sh [NAME:TAG]   (default localhost/cipherlens:<version>)
# Prints the image id on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cipherlens-sensor"))')
tag=${1:-localhost/cipherlens:$version}
target=x86_64-unknown-linux-gnu
# Target-specific flags: they reach the sensor and its dependencies, not build
# scripts nor the nested eBPF build.
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --locked --profile image --target "$target" -p cipherlens-sensor >&2
binary=target/$target/image/cipherlens
if ldd "$binary" > /dev/null 2>&1 && ! ldd "$binary" 2>&1 | grep -q "statically linked"; then
    echo "$binary is not static" >&2
    exit 1
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/cipherlens"
touch -d @0 "$context/cipherlens"
buildah bud --quiet --timestamp 0 --layers=false -f "$PWD/deploy/container/Containerfile" -t "$tag" "$context"
