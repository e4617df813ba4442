# shellcheck shell=bash
# Shared bash helpers of the end-to-end suites (sourced, not executed).
#
#   source tests/e2e/lib/common.sh
#
# Provides: logging, PASS/FAIL accounting with a final summary, bounded waits, timing, and
# the Docker engine helpers (Debian's own client with BuildKit, a dockerd started and
# waited for by the suite itself). Every wait is bounded.

# Long-lived caches (base images' root file systems, dockerd's log) live outside the repo.
BERTH_E2E_CACHE=${BERTH_E2E_CACHE:-/var/cache/berth-e2e}
# The one target directory of the -Zbuild-std builds with Debian's rustc: the Windows .exe
# (windows/env.sh) and the arm64 binary (multiarch.sh). Each target's std and crates have their
# own directory in it, the host side (proc macros, build scripts, release profile) is built
# once for both.
BUILD_STD_TARGET_DIR=${BUILD_STD_TARGET_DIR:-$BERTH_E2E_CACHE/build-std/target}

# Debian's docker.io client: /usr/local/bin/docker (if any) has no buildx plugin, so with
# DOCKER_BUILDKIT=1 it refuses to build, and without it the legacy builder rejects
# `RUN --mount=type=cache`. /usr/bin/docker (20.10) talks BuildKit natively.
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_BUILDKIT=1

E2E_PASSED=${E2E_PASSED:-0}
E2E_FAILED=${E2E_FAILED:-0}
E2E_FAILURES=()

e2e_log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
e2e_die() {
  printf 'FATAL: %s\n' "$*" >&2
  exit 1
}

# pass NAME / fail NAME [DETAIL]: one line per assertion, counted for the summary.
pass() {
  E2E_PASSED=$((E2E_PASSED + 1))
  printf 'PASS: %s\n' "$1"
}
fail() {
  E2E_FAILED=$((E2E_FAILED + 1))
  E2E_FAILURES+=("$1")
  printf 'FAIL: %s%s\n' "$1" "${2:+ — $2}"
}
# check NAME CMD...: runs CMD, PASS when it exits 0, FAIL (with its output) otherwise.
check() {
  local name=$1
  shift
  local out
  if out=$("$@" 2>&1); then
    pass "$name"
  else
    fail "$name" "$(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"
  fi
}
# summary: prints `N passed, N failed` and returns non-zero when anything failed.
e2e_summary() {
  local f
  for f in "${E2E_FAILURES[@]}"; do printf '  failed: %s\n' "$f"; done
  printf '%d passed, %d failed\n' "$E2E_PASSED" "$E2E_FAILED"
  [ "$E2E_FAILED" -eq 0 ]
}

# Monotonic milliseconds.
now_ms() {
  local s ns
  read -r s ns < <(date +'%s %N')
  echo $((s * 1000 + 10#$ns / 1000000))
}

# secs MS: "12.3 s".
secs() { awk -v m="$1" 'BEGIN { printf "%.1f s", m / 1000 }'; }

# wait_until TIMEOUT_S INTERVAL_S CMD...: polls CMD until it succeeds; fails after TIMEOUT_S.
wait_until() {
  local timeout=$1 interval=$2
  shift 2
  local deadline=$(($(now_ms) + timeout * 1000))
  until "$@" >/dev/null 2>&1; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep "$interval"
  done
}

# debian_mirror: the Debian mirror this machine's apt uses (deb822 `URIs:` or one-line
# `deb URL suite`), else deb.debian.org; for debootstrap (docker/base-images.sh,
# multiarch/base-arm64.sh). No match is no error (|| true: the pipeline runs under pipefail).
debian_mirror() {
  local url
  url=$(
    {
      grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources /dev/null | awk '{print $2}'
      grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /dev/null |
        sed -E 's/\[[^]]*\]//' | awk '{print $2}'
    } | grep -E '/debian/?$' | head -n 1 || true
  )
  echo "${url:-http://deb.debian.org/debian}"
}

# ---------------------------------------------------------------------------------------
# Docker engine
# ---------------------------------------------------------------------------------------

# ensure_docker_installed: Debian's docker.io (dockerd + the 20.10 client) when missing.
ensure_docker_installed() {
  if [ ! -x /usr/sbin/dockerd ] || [ ! -x "$DOCKER" ]; then
    e2e_log "installing docker.io"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  fi
}

# ensure_dockerd: starts dockerd in the background (log and pid file under the cache dir)
# unless an engine already answers, then waits up to 60 s for `docker info`. With
# BERTH_DOCKER_DATA_ROOT set, the engine it starts keeps its images there instead of
# /var/lib/docker (a cold run that leaves the host's image store alone).
ensure_dockerd() {
  ensure_docker_installed
  if "$DOCKER" info >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$BERTH_E2E_CACHE"
  local pidfile=$BERTH_E2E_CACHE/dockerd.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    e2e_log "dockerd (pid $(cat "$pidfile")) is starting; waiting"
  else
    rm -f "$pidfile" /var/run/docker.pid
    e2e_log "starting dockerd (log: $BERTH_E2E_CACHE/dockerd.log)"
    # setsid: the engine outlives this script (its images are the cache between runs).
    local args=(--pidfile "$pidfile")
    [ -z "${BERTH_DOCKER_DATA_ROOT:-}" ] || args+=(--data-root "$BERTH_DOCKER_DATA_ROOT")
    setsid /usr/sbin/dockerd "${args[@]}" >>"$BERTH_E2E_CACHE/dockerd.log" 2>&1 </dev/null &
  fi
  if ! wait_until 60 1 "$DOCKER" info; then
    tail -n 20 "$BERTH_E2E_CACHE/dockerd.log" >&2 || true
    e2e_die "dockerd did not answer within 60 s"
  fi
  e2e_log "dockerd is up ($("$DOCKER" version -f '{{.Server.Version}}'))"
}

# The configuration (`docker image inspect .Config`) of the image the Docker suite builds from
# examples/echo-daemon's Dockerfile, recorded for tests/e2e/multiarch.sh, which compares berth
# build's image with it instead of building the same Dockerfile a second time. The record holds
# the key it is valid for (dockerfile_config_key).
ECHO_CONFIG_RECORD=$BERTH_E2E_CACHE/docker/echo-daemon-config.json
# dockerfile_config_key DOCKERFILE: what an image's configuration depends on: the Dockerfile's
# SHA-256 and the image ID of the runtime base image it names.
dockerfile_config_key() {
  local base
  base=$(sed -nE 's/^ARG RUNTIME_IMAGE=(.*)$/\1/p' "$1")
  printf '%s %s\n' "$(sha256sum <"$1" | cut -d' ' -f1)" \
    "$("$DOCKER" image inspect -f '{{.Id}}' "$base" 2>/dev/null || echo "no-$base")"
}

# image_exists TAG
image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# image_size_bytes TAG
image_size_bytes() { "$DOCKER" image inspect -f '{{.Size}}' "$1"; }

# mb BYTES: decimal megabytes with one decimal (what `docker images` shows).
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }

# container_health NAME: starting | healthy | unhealthy | none
container_health() {
  "$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1" 2>/dev/null
}

# ---------------------------------------------------------------------------------------
# Kubernetes control plane (kwokctl, runtime binary), shared by k8s.sh and cluster-faults.sh
# ---------------------------------------------------------------------------------------

# k8s_versions: K8S_VERSION, ETCD_VERSION, KWOK_VERSION and BIN (BERTH_K8S_BIN) from
# tests/e2e/k8s/build.sh, where they are defined (the environment overrides them as there).
k8s_versions() {
  eval "$(bash tests/e2e/k8s/build.sh --print-env)"
  export K8S_VERSION ETCD_VERSION KWOK_VERSION BERTH_K8S_BIN
  BIN=$BERTH_K8S_BIN
}

# kwok_config FILE [OPTION...]: the KwokctlConfiguration of the suites' control plane: etcd,
# the API server, controller-manager, scheduler and kwok from $BIN on 127.0.0.1, plus the
# extra `options:` lines OPTION... (e.g. "kubeAuthorization: true"). Stages may be appended.
kwok_config() {
  local file=$1 opt
  shift
  {
    cat <<EOC
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeVersion: $K8S_VERSION
  etcdVersion: ${ETCD_VERSION#v}
  kubeApiserverBinary: $BIN/kube-apiserver
  kubeControllerManagerBinary: $BIN/kube-controller-manager
  kubeSchedulerBinary: $BIN/kube-scheduler
  kwokControllerBinary: $BIN/kwok
  etcdBinary: $BIN/etcd
  kubectlBinary: $BIN/kubectl
EOC
    for opt in "$@"; do printf '  %s\n' "$opt"; done
  } >"$file"
}

# kwok_cluster_up CONFIG NODES [SCALE_ARG...]: creates the cluster $CLUSTER from CONFIG
# (KWOK_WORKDIR and KUBECONFIG set by the caller; CLUSTER_UP=1 from here on, for its cleanup),
# switches to its context, adds NODES fake nodes (kwokctl scale node SCALE_ARG...), and waits
# (bounded) until NODES nodes are Ready and the default ServiceAccount exists. Logs to
# $WORK/kwokctl.log; dies on failure.
kwok_cluster_up() {
  local config=$1 nodes=$2
  shift 2
  CLUSTER_UP=1
  if ! timeout 300 "$BIN/kwokctl" -c "$config" --name "$CLUSTER" create cluster \
    --kubeconfig "$KUBECONFIG" --wait 3m >"$WORK/kwokctl.log" 2>&1; then
    tail -n 20 "$WORK/kwokctl.log" >&2
    tail -n 20 "$KWOK_WORKDIR/clusters/$CLUSTER/logs/"*.log >&2 || true
    e2e_die "kwokctl create cluster failed"
  fi
  "$BIN/kubectl" config use-context "kwok-$CLUSTER" >/dev/null
  timeout 60 "$BIN/kwokctl" --name "$CLUSTER" scale node --replicas "$nodes" "$@" >>"$WORK/kwokctl.log" 2>&1 ||
    e2e_die "kwokctl scale node failed"
  nodes_ready() {
    "$BIN/kubectl" wait --for=condition=Ready node --all --timeout=5s >/dev/null &&
      [ "$("$BIN/kubectl" get nodes --no-headers | wc -l)" -eq "$1" ]
  }
  wait_until 90 1 nodes_ready "$nodes" || e2e_die "$nodes nodes did not become Ready"
  # The controller-manager creates each namespace's default ServiceAccount; wait for it once.
  wait_until 60 1 "$BIN/kubectl" -n default get serviceaccount default || e2e_die "no default ServiceAccount"
}

# ---------------------------------------------------------------------------------------
# A local OCI registry
# ---------------------------------------------------------------------------------------

# start_registry DIR: `crane registry serve` on 127.0.0.1 (a free port), blobs in DIR, log in
# DIR.log; sets REG (host:port) and REGISTRY_PID (the caller's cleanup kills it). Bounded.
start_registry() {
  local dir=$1
  mkdir -p "$dir"
  crane registry serve --address 127.0.0.1:0 --disk "$dir" >"$dir.log" 2>&1 &
  REGISTRY_PID=$!
  registry_port() { sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$dir.log" | head -n 1; }
  registry_listening() { [ -n "$(registry_port)" ]; }
  wait_until 30 0.2 registry_listening || e2e_die "crane registry serve did not start: $(cat "$dir.log")"
  REG=127.0.0.1:$(registry_port)
  wait_until 30 0.2 curl -sf "http://$REG/v2/" || e2e_die "registry $REG does not answer /v2/"
}

# plain_http_push SCRIPT: a generated workflow step's script made fit for start_registry's
# registry, which serves plain HTTP on 127.0.0.1: `--plain-http` appended to its `helm push`
# lines (Helm 3.22 and 4 refuse the https-to-http fallback there: "downgrades scheme from
# https"; the workflow's own registry, ghcr.io, has TLS). Fails when no line is a helm push.
plain_http_push() {
  grep -q '^helm push ' <<<"$1" || {
    echo "plain_http_push: no 'helm push' line in: $1" >&2
    return 1
  }
  sed -E 's/^(helm push .*)$/\1 --plain-http/' <<<"$1"
}
