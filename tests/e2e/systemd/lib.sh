# shellcheck shell=bash
# Helpers of the systemd end-to-end suite: boot a Debian root file system with systemd as
# PID 1 under systemd-nspawn, run commands inside it, bounded waits, PASS/FAIL accounting.
# Sourced by tests/e2e/systemd.sh.

E2E_MACHINE=${E2E_MACHINE:-berth-e2e}
BERTH_E2E_CACHE=${BERTH_E2E_CACHE:-/var/cache/berth-e2e}
E2E_PIDFILE="$BERTH_E2E_CACHE/systemd-nspawn.pid"
NSPAWN_PID=""
INIT_PID=""
PASSED=0
FAILED=0
FAILED_NAMES=()

log() { printf '[systemd-e2e] %s\n' "$*" >&2; }
now_ms() { date +%s%3N; }
# Milliseconds as seconds with one decimal: 2345 -> 2.3
fmt_s() { printf '%d.%d' "$(($1 / 1000))" "$((($1 % 1000) / 100))"; }

pass() {
  PASSED=$((PASSED + 1))
  printf 'PASS  %s\n' "$*"
}
fail() {
  FAILED=$((FAILED + 1))
  FAILED_NAMES+=("$1")
  printf 'FAIL  %s\n' "$*"
}
# check NAME CMD...: PASS when CMD succeeds.
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

# Runs a command inside the booted container (all of its namespaces, its root), with a
# clean environment.
cx() {
  nsenter -t "$INIT_PID" -a \
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0 SYSTEMD_LESS= "$@"
}

# wait_for TIMEOUT_S CMD...: polls CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for() {
  local timeout_ms=$(($1 * 1000)) start
  shift
  start=$(now_ms)
  until "$@" >/dev/null 2>&1; do
    (($(now_ms) - start > timeout_ms)) && return 1
    sleep 0.1
  done
}

system_up() {
  local s
  s=$(cx systemctl is-system-running 2>/dev/null || true)
  [[ $s == running || $s == degraded ]]
}

# Kills an nspawn left behind by an aborted earlier run (only the pid we recorded, and only
# if it still is our systemd-nspawn). The caller holds the suite's lock, so that run is over.
reap_stale_container() {
  [ -f "$E2E_PIDFILE" ] || return 0
  local pid
  pid=$(cat "$E2E_PIDFILE")
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "systemd-nspawn .*-M $E2E_MACHINE "; then
    log "stopping a container left by an earlier run (nspawn pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    timeout 20 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$E2E_PIDFILE"
}

# boot_container ROOT LOG [nspawn args...]: boots ROOT with a volatile overlay (ROOT stays
# untouched) and its own network namespace (only lo: no clash with ports on the host), and
# waits until systemd reports running/degraded. Sets NSPAWN_PID and INIT_PID.
boot_container() {
  local root=$1 logf=$2
  shift 2
  reap_stale_container
  systemd-nspawn -D "$root" --register=no --keep-unit -M "$E2E_MACHINE" \
    --console=read-only --volatile=overlay --private-network "$@" -b >"$logf" 2>&1 9>&- &
  NSPAWN_PID=$!
  echo "$NSPAWN_PID" >"$E2E_PIDFILE"
  local start
  start=$(now_ms)
  INIT_PID=""
  while [ -z "$INIT_PID" ]; do
    if ! kill -0 "$NSPAWN_PID" 2>/dev/null; then
      log "systemd-nspawn exited during boot; its output:"
      tail -n 30 "$logf" >&2
      return 1
    fi
    (($(now_ms) - start > 20000)) && { log "no init process after 20 s"; return 1; }
    INIT_PID=$(pgrep -P "$NSPAWN_PID" -x systemd || true)
    [ -n "$INIT_PID" ] || sleep 0.05
  done
  if ! wait_for 60 system_up; then
    log "systemd did not reach running/degraded within 60 s:"
    cx systemctl is-system-running >&2 || true
    cx systemctl list-jobs --no-pager >&2 || true
    return 1
  fi
}

# Powers the container off (bounded), falling back to SIGTERM then SIGKILL of nspawn.
shutdown_container() {
  [ -n "$NSPAWN_PID" ] || return 0
  if kill -0 "$NSPAWN_PID" 2>/dev/null; then
    [ -n "$INIT_PID" ] && cx systemctl poweroff --no-block >/dev/null 2>&1 || true
    if ! timeout 30 tail --pid="$NSPAWN_PID" -f /dev/null; then
      log "container did not power off within 30 s: SIGTERM to nspawn"
      kill -TERM "$NSPAWN_PID" 2>/dev/null || true
      timeout 15 tail --pid="$NSPAWN_PID" -f /dev/null || kill -KILL "$NSPAWN_PID" 2>/dev/null || true
    fi
  fi
  wait "$NSPAWN_PID" 2>/dev/null || true
  rm -f "$E2E_PIDFILE"
  NSPAWN_PID=""
  INIT_PID=""
}

# Unit properties, read from the container's systemd.
prop() { cx systemctl show -P "$2" "$1"; }

# Prints the status and the journal of a unit (diagnostics after a failure).
diagnose() {
  local unit=$1
  {
    echo "----- systemctl status $unit"
    cx systemctl status --no-pager -l "$unit" || true
    echo "----- journalctl -u $unit (last 40)"
    cx journalctl --no-pager -o short-monotonic -u "$unit" -n 40 || true
    echo "-----"
  } | sed 's/^/    /' >&2
}
