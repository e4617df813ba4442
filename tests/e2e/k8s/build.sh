#!/usr/bin/env bash
# Builds the Kubernetes control plane used by tests/e2e/k8s.sh from the Go module proxy:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes, via a
# wrapper module that replaces the staging modules with their published versions), etcd 3.5
# (wrapper module around go.etcd.io/etcd/server/v3) and kwok/kwokctl (sigs.k8s.io/kwok); with
# BUILD_ONLY naming `node` and `coredns`, also kubelet and kube-proxy of the same version and
# CoreDNS (one module and one `go build` for the three, see below).
#
# Output: $BERTH_K8S_BIN (default /var/cache/berth-e2e/k8s/bin-$K8S_VERSION: one directory per
# control-plane version, so versions are built side by side and never replace each other's
# binaries). Go caches live under
# /var/cache/berth-e2e/go so a second run is fast. A binary is skipped when its stamp file
# records the requested version. Usage: tests/e2e/k8s/build.sh  (prints per-step timings);
# tests/e2e/k8s/build.sh --print-bin prints the binaries' directory; --print-env prints the
# versions and that directory as shell assignments (the suites `eval` it: one definition).
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}   # a build argument; the newest supported (README)
ETCD_VERSION=${ETCD_VERSION:-v3.5.21}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
# The real node's cluster DNS (tests/e2e/kubelet.sh): a host process, as no image can be pulled.
COREDNS_VERSION=${COREDNS_VERSION:-v1.12.2}

CACHE=${BERTH_E2E_CACHE:-/var/cache/berth-e2e}
BIN=${BERTH_K8S_BIN:-$CACHE/k8s/bin-$K8S_VERSION}
WORK=$CACHE/k8s/build
export GOMODCACHE=${GOMODCACHE_OVERRIDE:-$CACHE/go/mod}
export GOCACHE=${GOCACHE_OVERRIDE:-$CACHE/go/build}
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
export CGO_ENABLED=0
export GOTOOLCHAIN=local
NICE=(nice -n "${BUILD_NICE:-19}")
# BUILD_ONLY="kwok etcd kubernetes" (the default) builds a subset, e.g. to run parts in parallel;
# "node" (kubelet and kube-proxy) and "coredns", for tests/e2e/kubelet.sh, only when named.
BUILD_ONLY=${BUILD_ONLY:-kwok etcd kubernetes}
want() { [[ " $BUILD_ONLY " == *" $1 "* ]]; }

# `build.sh --print-bin`: where the binaries of this version go (for the suites), nothing built.
if [[ ${1:-} == --print-bin ]]; then
  echo "$BIN"
  exit 0
fi
if [[ ${1:-} == --print-env ]]; then
  printf 'K8S_VERSION=%q ETCD_VERSION=%q KWOK_VERSION=%q BERTH_K8S_BIN=%q\n' \
    "$K8S_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: go not found on PATH" >&2; exit 1; }
command -v jq >/dev/null || { echo "build.sh: jq not found on PATH" >&2; exit 1; }
mkdir -p "$BIN" "$WORK" "$GOMODCACHE" "$GOCACHE"

t_all=$(date +%s)
step() { printf '[build %4ss] %s\n' "$(($(date +%s) - t_all))" "$*"; }

# have NAME VERSION: true when $BIN/NAME exists and was built for VERSION.
have() { [[ -x $BIN/$1 && -f $BIN/.$1.version && $(cat "$BIN/.$1.version") == "$2" ]]; }
stamp() { echo "$2" >"$BIN/.$1.version"; }

# ---- kwok / kwokctl -------------------------------------------------------------------------
if ! want kwok; then
  :
elif have kwok "$KWOK_VERSION" && have kwokctl "$KWOK_VERSION"; then
  step "kwok $KWOK_VERSION: cached"
else
  step "kwok $KWOK_VERSION: building"
  t=$(date +%s)
  GOBIN=$BIN "${NICE[@]}" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  stamp kwok "$KWOK_VERSION"
  stamp kwokctl "$KWOK_VERSION"
  step "kwok $KWOK_VERSION: built in $(($(date +%s) - t))s"
fi

# ---- etcd -----------------------------------------------------------------------------------
if ! want etcd; then
  :
elif have etcd "$ETCD_VERSION"; then
  step "etcd $ETCD_VERSION: cached"
else
  step "etcd $ETCD_VERSION: building"
  t=$(date +%s)
  d=$WORK/etcd-$ETCD_VERSION
  rm -rf "$d" && mkdir -p "$d"
  (
    cd "$d"
    go mod init local/etcdbuild >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
    "${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
  )
  stamp etcd "$ETCD_VERSION"
  step "etcd $ETCD_VERSION: built in $(($(date +%s) - t))s"
fi

# ---- the k8s.io/kubernetes wrapper module ----------------------------------------------------
staging=v0.${K8S_VERSION#v1.}
minor=$(cut -d. -f2 <<<"$K8S_VERSION")
# k8s_wrapper DIR CMD...: a fresh module in DIR requiring k8s.io/kubernetes $K8S_VERSION with
# every staging module replaced by its published version, resolved for the commands CMD...
k8s_wrapper() {
  local d=$1
  shift
  rm -rf "$d" && mkdir -p "$d"
  (
    cd "$d"
    go mod init local/k8sbuild >/dev/null 2>&1
    # The tag's own go.mod (as served by the proxy) lists the staging modules it replaces
    # with ./staging/... paths; replace each one with its published v0.MINOR.PATCH.
    modf=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .GoMod)
    n=0
    for m in $(awk '$2=="=>" && $3 ~ /^\.\/staging\// {print $1}' "$modf"); do
      v=$staging
      # The proxy may not serve every staging module at every patch (seen here:
      # k8s.io/endpointslice@v0.32.13 answers 403); then take the newest patch it serves of
      # the same minor (patch releases of a staging library keep their API).
      if ! go mod download "$m@$v" >/dev/null 2>&1; then
        alt=$(go list -m -versions "$m" 2>/dev/null | tr ' ' '\n' |
          grep -E "^v0\.$minor\.[0-9]+$" | sort -V | tail -1 || true)
        if [[ -n $alt ]] && go mod download "$m@$alt" >/dev/null 2>&1; then
          step "kubernetes: note: $m@$v is not served by the proxy; using $alt"
          v=$alt
        else
          step "kubernetes: note: $m@$v is not served by the proxy (fine unless a command imports it)"
        fi
      fi
      go mod edit -replace "$m=$m@$v"
      n=$((n + 1))
    done
    ((n > 0)) || { echo "build.sh: no staging replaces found in $modf" >&2; exit 1; }
    step "kubernetes: $n staging modules replaced with $staging"
    local c pkgs=()
    for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c@$K8S_VERSION"); done
    go get "${pkgs[@]}" >/dev/null
  )
}
# k8s_build DIR PKG...: compiles the main packages PKG... in the wrapper module DIR into $BIN
# (one `go build`), with the version stamps upstream's hack/lib/version.sh sets (without them
# /version says v0.0.0-master).
k8s_build() {
  local d=$1
  shift
  local ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld="$ld -X $p.gitTreeState=clean"
  done
  (cd "$d" && "${NICE[@]}" go build -trimpath -ldflags "$ld" -o "$BIN/" "$@")
}

# ---- kube-apiserver, kube-controller-manager, kube-scheduler, kubectl ------------------------
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
all=true
for c in "${K8S_CMDS[@]}"; do have "$c" "$K8S_VERSION" || all=false; done
if ! want kubernetes; then
  :
elif $all; then
  step "kubernetes $K8S_VERSION: cached"
else
  step "kubernetes $K8S_VERSION: building ${K8S_CMDS[*]}"
  t=$(date +%s)
  d=$WORK/kubernetes-$K8S_VERSION
  k8s_wrapper "$d" "${K8S_CMDS[@]}"
  step "kubernetes: modules resolved; compiling"
  k8s_build "$d" "${K8S_CMDS[@]/#/k8s.io/kubernetes/cmd/}"
  for c in "${K8S_CMDS[@]}"; do stamp "$c" "$K8S_VERSION"; done
  step "kubernetes $K8S_VERSION: built in $(($(date +%s) - t))s"
fi

# ---- the node: kubelet, kube-proxy and CoreDNS (tests/e2e/kubelet.sh; not built by default) --
# One wrapper module and one `go build` for the three. CoreDNS is a main package of our own
# around coremain with only the plugins the node's cluster DNS uses (bind, errors, kubernetes),
# instead of the upstream binary with all ~60 plugins and their SDKs; resolved in this module,
# it compiles against the control plane's client-go, apimachinery, grpc and protobuf, so 469 of
# its 534 packages are already in the Go cache (in a module of its own, at CoreDNS's older
# versions, 17 of 519 were). kubelet and kube-proxy share 1452 of their 1612 packages with the
# control plane (same versions, same Go cache). Their own module directory, so a node build
# never disturbs the control plane's.
NODE_PKGS=()
built=()
if want node; then
  for c in kubelet kube-proxy; do
    if have "$c" "$K8S_VERSION"; then step "$c $K8S_VERSION: cached"; else NODE_PKGS+=("k8s.io/kubernetes/cmd/$c") built+=("$c"); fi
  done
fi
if want coredns; then
  if have coredns "$COREDNS_VERSION"; then step "coredns $COREDNS_VERSION: cached"; else NODE_PKGS+=(./coredns) built+=(coredns); fi
fi
if ((${#NODE_PKGS[@]})); then
  step "node $K8S_VERSION: building ${built[*]}"
  t=$(date +%s)
  d=$WORK/node-$K8S_VERSION
  k8s_wrapper "$d" kubelet kube-proxy
  if [[ " ${built[*]} " == *" coredns "* ]]; then
    mkdir -p "$d/coredns"
    cat >"$d/coredns/main.go" <<'GO'
// The cluster DNS of the real-node suite: CoreDNS with three plugins.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

func init() { dnsserver.Directives = []string{"bind", "errors", "kubernetes"} }

func main() { coremain.Run() }
GO
    (cd "$d" && go get "github.com/coredns/coredns@$COREDNS_VERSION" >"$d/go-get-coredns.log" 2>&1) ||
      { tail -n 20 "$d/go-get-coredns.log" >&2; exit 1; }
  fi
  step "node: modules resolved; compiling"
  k8s_build "$d" "${NODE_PKGS[@]}"
  for c in "${built[@]}"; do
    if [[ $c == coredns ]]; then stamp coredns "$COREDNS_VERSION"; else stamp "$c" "$K8S_VERSION"; fi
  done
  step "node $K8S_VERSION: ${built[*]} built in $(($(date +%s) - t))s"
fi

for b in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl kubelet kube-proxy coredns; do
  if [[ -x $BIN/$b ]]; then echo "$b $(cat "$BIN/.$b.version" 2>/dev/null || echo '?')"; fi
done
step "all binaries in $BIN"
