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
# unless an engine already answers, then waits up to 60 s for `docker info`.
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
    setsid /usr/sbin/dockerd --pidfile "$pidfile" >>"$BERTH_E2E_CACHE/dockerd.log" 2>&1 </dev/null &
  fi
  if ! wait_until 60 1 "$DOCKER" info; then
    tail -n 20 "$BERTH_E2E_CACHE/dockerd.log" >&2 || true
    e2e_die "dockerd did not answer within 60 s"
  fi
  e2e_log "dockerd is up ($("$DOCKER" version -f '{{.Server.Version}}'))"
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
