#!/usr/bin/env bash
# systemd end-to-end suite: the unit `berth generate` writes for examples/echo-daemon runs under
# a real systemd (PID 1 of a Debian bookworm container booted with systemd-nspawn), becomes
# active only on READY=1, keeps its sandbox at run time, is restarted by the watchdog, reloads
# without a restart and drains on stop. See tests/e2e/systemd/README.md.
#
#   bash tests/e2e/systemd.sh          (root; `bash .ci/install-deps.sh` first)
#
# Prints one PASS/FAIL line per assertion, the timings, a final "N passed, N failed" line, and
# exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$PWD
HERE=$REPO/tests/e2e/systemd
# shellcheck source=tests/e2e/systemd/lib.sh
source "$HERE/lib.sh"

EXAMPLE=${E2E_EXAMPLE:-examples/echo-daemon}
# Capabilities the example's berth.yaml lists (echo-daemon: none).
EXPECT_CAPS=${E2E_EXPECT_CAPS:-}
# Test knobs, set in a drop-in only (the generated unit is installed as written).
STARTUP_DELAY_S=3
WATCHDOG_TEST_SEC=4
# The journal lines of the lifecycle (berth-sidecar's messages).
RE_READY='start-up complete'
RE_DRAINING='shutdown signal received; draining'
RE_STOPPED='drained cleanly; exiting'
RE_RELOADED='config reloaded'

declare -A TIMING=()
TIMING_ORDER=()
timing() {
  TIMING[$1]=$2
  TIMING_ORDER+=("$1")
}

[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
for tool in systemd-nspawn debootstrap nsenter curl cargo; do
  command -v "$tool" >/dev/null || { log "$tool missing: run bash .ci/install-deps.sh"; exit 1; }
done

# One run at a time on a machine (the container name and the cached root are shared).
mkdir -p "$BERTH_E2E_CACHE"
exec 9>"$BERTH_E2E_CACHE/systemd-e2e.lock"
if ! flock -w 900 9; then
  log "another systemd e2e run holds $BERTH_E2E_CACHE/systemd-e2e.lock for 15 min; giving up"
  exit 1
fi

WORK=$(mktemp -d /tmp/berth-systemd-e2e.XXXXXX)
STAGE=$WORK/stage
mkdir -p "$STAGE"
BG_PIDS=()
cleanup() {
  local rc=$?
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  shutdown_container
  if ((rc != 0)) || ((FAILED > 0)); then
    log "work directory kept for inspection: $WORK (nspawn log: $WORK/nspawn.log)"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. root file system (cached) ------------------------------------------------------------
t=$(now_ms)
ROOT=$(bash "$HERE/rootfs.sh")
timing "root file system (cached, or built cold)" $(($(now_ms) - t))

# --- 2. binaries, generated unit -------------------------------------------------------------
t=$(now_ms)
log "cargo build --release -p echo-daemon; cargo build -p berth"
cargo build --release --locked -q -p echo-daemon
cargo build --locked -q -p berth
timing "cargo build (echo-daemon release, berth)" $(($(now_ms) - t))
BIN=$REPO/target/release/echo-daemon
./target/debug/berth generate -f "$EXAMPLE/berth.yaml" -o "$WORK/deploy" --only systemd >"$WORK/generate.log"

shopt -s nullglob
units=("$WORK"/deploy/systemd/*.service)
envs=("$WORK"/deploy/systemd/*.env)
shopt -u nullglob
if ((${#units[@]} != 1 || ${#envs[@]} != 1)); then
  log "expected one .service and one .env under $WORK/deploy/systemd"
  exit 1
fi
UNIT_FILE=${units[0]}
UNIT=$(basename "$UNIT_FILE")

# What the generated unit expects on the host, read from the unit itself.
unit_value() { sed -n "s/^$1=//p" "$UNIT_FILE" | tail -n1; }
EXEC_PATH=$(unit_value ExecStart | awk '{print $1}')
EXEC_PATH=${EXEC_PATH#[-@:+!]}
ENV_PATH=$(unit_value EnvironmentFile)
ENV_PATH=${ENV_PATH#-}
CONFIG_PATH=$(sed -n 's/^BERTH_CONFIG_FILE=//p' "${envs[0]}" | tr -d '"')
ADMIN_PORT=$(sed -n 's/^BERTH_ADMIN_ADDR=//p' "${envs[0]}" | tr -d '"' | sed 's/.*://')
APP=http://127.0.0.1:8080
ADMIN=http://127.0.0.1:${ADMIN_PORT:-9090}
for v in EXEC_PATH ENV_PATH CONFIG_PATH; do
  [ -n "${!v}" ] || { log "cannot read $v from the generated unit/env file"; exit 1; }
done
log "unit $UNIT: ExecStart $EXEC_PATH, environment file $ENV_PATH, config $CONFIG_PATH"

cp "$BIN" "$STAGE/daemon"
cp "$UNIT_FILE" "$STAGE/unit.service"
cp "${envs[0]}" "$STAGE/unit.env"
cp "$EXAMPLE/config/$(basename "$CONFIG_PATH")" "$STAGE/config"
cp "$HERE/selftest.service" "$STAGE/selftest.service"
cat >"$STAGE/naive.service" <<EOF
[Unit]
Description=naive unit (ExecStart + Restart only), for systemd-analyze security

[Service]
ExecStart=$EXEC_PATH
Restart=on-failure
EOF
# Test knobs only: debug endpoints and a short watchdog period.
cat >"$STAGE/test.conf" <<EOF
[Service]
Environment=ECHO_DEBUG=true
WatchdogSec=${WATCHDOG_TEST_SEC}s
EOF
cat >"$STAGE/startup-delay.conf" <<EOF
[Service]
Environment=ECHO_STARTUP_DELAY=${STARTUP_DELAY_S}s
EOF

# --- 3. boot ---------------------------------------------------------------------------------
t=$(now_ms)
boot_container "$ROOT" "$WORK/nspawn.log" --bind-ro="$STAGE:/e2e"
BOOT_MS=$(($(now_ms) - t))
timing "boot to running ($(cx systemctl is-system-running || true))" "$BOOT_MS"
log "systemd is up in $(fmt_s "$BOOT_MS") s (init pid $INIT_PID on the host)"

DROPIN_DIR=/etc/systemd/system/$UNIT.d
cx install -D -m 0755 /e2e/daemon "$EXEC_PATH"
cx install -D -m 0644 /e2e/unit.service "/etc/systemd/system/$UNIT"
cx install -D -m 0600 /e2e/unit.env "$ENV_PATH"
cx install -D -m 0644 /e2e/config "$CONFIG_PATH"
cx install -D -m 0644 /e2e/test.conf "$DROPIN_DIR/test.conf"
cx install -D -m 0644 /e2e/selftest.service /etc/systemd/system/berth-selftest.service
cx install -D -m 0644 /e2e/naive.service /etc/systemd/system/berth-naive.service
cx systemctl daemon-reload

# Journal position: journal_mark, then journal_since UNIT prints the unit's messages logged
# after the mark. A realtime timestamp (the container shares the host's clock); journalctl
# 252's --after-cursor combined with -u skipped the first matching entry here.
JMARK=""
journal_mark() { JMARK=$(date +%s.%6N); }
journal_since() { cx journalctl --no-pager -q -o cat -u "$1" ${JMARK:+--since="@$JMARK"}; }
# in-container HTTP (the container has its own network namespace with only lo).
http_code() { cx curl -s -o /dev/null -m 5 -w '%{http_code}' "$@" || true; }
http_body() { cx curl -sS -m 5 "$@"; }
usec() { cx systemd-analyze timespan "$1" | sed -n 's/^ *μs: //p'; }
main_pid() { prop "$UNIT" MainPID; }
unit_is() { [ "$(prop "$UNIT" ActiveState)" = "$1" ]; }
# test_http CODE CURL-ARGS...: the request answers CODE.
test_http() { [ "$(http_code "${@:2}")" = "$1" ]; }
# glob_match STRING PATTERN (a shell glob, deliberately unquoted).
# shellcheck disable=SC2053
glob_match() { [[ $1 == $2 ]]; }

# --- scenario 0: the harness itself (a shell Type=notify unit) -------------------------------
scenario_selftest() {
  local t0 ms
  t0=$(now_ms)
  cx timeout 30 systemctl start berth-selftest.service || true
  ms=$(($(now_ms) - t0))
  timing "self-test: start of a shell Type=notify unit (READY after 2 s)" "$ms"
  check "harness: Type=notify shell unit becomes active after READY=1 ($(fmt_s "$ms") s)" \
    [ "$(prop berth-selftest.service ActiveState)" = active ]
  check "harness: systemctl start waited for READY=1 (>= 1.9 s)" [ "$ms" -ge 1900 -a "$ms" -lt 15000 ]
  cx systemctl stop berth-selftest.service
}

# --- scenario 1: readiness -------------------------------------------------------------------
scenario_readiness() {
  cx install -D -m 0644 /e2e/startup-delay.conf "$DROPIN_DIR/startup-delay.conf"
  cx systemctl daemon-reload
  local t0 ms state_mid readyz_mid startupz_mid mid_ms start_pid rc
  t0=$(now_ms)
  cx timeout 60 systemctl start "$UNIT" &
  start_pid=$!
  # While the start-up delay runs: the job waits, the admin port answers 503.
  wait_for 2 unit_is activating || true
  state_mid=$(prop "$UNIT" ActiveState)
  wait_for 2 test_http 503 "$ADMIN/startupz" || true
  readyz_mid=$(http_code "$ADMIN/readyz")
  startupz_mid=$(http_code "$ADMIN/startupz")
  mid_ms=$(($(now_ms) - t0))
  rc=0
  wait "$start_pid" || rc=$?
  ms=$(($(now_ms) - t0))
  timing "readiness: systemctl start with ECHO_STARTUP_DELAY=${STARTUP_DELAY_S}s" "$ms"
  check "readiness: systemctl start succeeded (rc $rc)" [ "$rc" = 0 ]
  check "readiness: during the start-up delay the unit is 'activating' (was '$state_mid')" [ "$state_mid" = activating ]
  check "readiness: $(fmt_s "$mid_ms") s into the start /startupz and /readyz answer 503 ($startupz_mid, $readyz_mid)" \
    [ "$startupz_mid" = 503 -a "$readyz_mid" = 503 -a "$mid_ms" -lt $((STARTUP_DELAY_S * 1000)) ]
  check "readiness: start took $(fmt_s "$ms") s, about the ${STARTUP_DELAY_S} s start-up delay" \
    [ "$ms" -ge $((STARTUP_DELAY_S * 1000 - 200)) -a "$ms" -lt $((STARTUP_DELAY_S * 1000 + 5000)) ]
  check "readiness: unit active/running after start ($(prop "$UNIT" ActiveState)/$(prop "$UNIT" SubState))" \
    [ "$(prop "$UNIT" ActiveState)/$(prop "$UNIT" SubState)" = active/running ]
  check "readiness: /readyz 200 after start" [ "$(http_code "$ADMIN/readyz")" = 200 ]
  local echo_body
  echo_body=$(http_body "$APP/echo?msg=hi" || true)
  check "readiness: GET /echo?msg=hi answers '$echo_body'" glob_match "$echo_body" '* hi'
  # Later restarts need no start-up delay.
  cx rm -f "$DROPIN_DIR/startup-delay.conf"
  cx systemctl daemon-reload
}

# --- scenario 2: hardening at run time -------------------------------------------------------
# Capability bit numbers (linux/capability.h).
CAP_NAMES=(chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
  linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module
  sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time
  sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin syslog
  wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore)
cap_mask() {
  local mask=0 c i
  for c in ${1//,/ }; do
    c=${c,,}
    c=${c#cap_}
    for i in "${!CAP_NAMES[@]}"; do
      [ "${CAP_NAMES[$i]}" = "$c" ] && mask=$((mask | (1 << i)))
    done
  done
  printf '%016x' "$mask"
}

scenario_hardening() {
  local pid status uid gid ident dyn user expected field value dir path code u
  pid=$(main_pid)
  status=$(cx cat "/proc/$pid/status")
  uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' <<<"$status")
  gid=$(awk '/^Gid:/ {print $2, $3, $4, $5}' <<<"$status")
  dyn=$(prop "$UNIT" DynamicUser)
  user=$(prop "$UNIT" User)
  read -r -a u <<<"$uid"
  check "hardening: real/effective/saved/fs uid all equal ($uid)" \
    [ "${u[0]}" = "${u[1]}" -a "${u[0]}" = "${u[2]}" -a "${u[0]}" = "${u[3]}" ]
  check "hardening: main process does not run as root (uid ${u[0]}, gid ${gid%% *})" \
    [ "${u[0]}" != 0 -a "${gid%% *}" != 0 ]
  if [ "$dyn" = yes ]; then
    check "hardening: DynamicUser uid ${u[0]} is in systemd's dynamic range 61184-65519" \
      [ "${u[0]}" -ge 61184 -a "${u[0]}" -le 65519 ]
  else
    check "hardening: uid ${u[0]} is the named user '$user'" [ "${u[0]}" = "$(cx id -u "$user")" ]
  fi
  ident=$(http_body "$APP/debug/identity" || true)
  check "hardening: /debug/identity reports the same uid ('$ident')" glob_match "$ident" "uid=${u[0]} *"
  check "hardening: NoNewPrivs set" grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$status"
  check "hardening: seccomp filter active (Seccomp: 2)" grep -q '^Seccomp:[[:space:]]*2$' <<<"$status"

  expected=$(cap_mask "$EXPECT_CAPS")
  for field in CapEff CapPrm CapBnd CapAmb; do
    value=$(awk -v f="$field:" '$1 == f {print $2}' <<<"$status")
    if [ "$field" = CapBnd ]; then
      check "hardening: $field $value = bounding set of [${EXPECT_CAPS:-none}] ($expected)" [ "$value" = "$expected" ]
    else
      check "hardening: $field $value only [${EXPECT_CAPS:-none}] ($expected)" [ "$value" = "$expected" ]
    fi
  done

  # Writes outside the unit's directories fail (ProtectSystem=strict, ProtectHome, ...).
  for path in /etc/berth-e2e-probe "$(dirname "$CONFIG_PATH")/berth-e2e-probe" \
    /usr/local/berth-e2e-probe /var/lib/berth-e2e-probe /var/log/berth-e2e-probe \
    /root/berth-e2e-probe /home/berth-e2e-probe /opt/berth-e2e-probe; do
    code=$(http_code -X POST "$APP/debug/write?path=$path")
    check "hardening: write to $path refused (HTTP $code)" [ "$code" = 500 ]
    check "hardening: $path does not exist afterwards" cx test ! -e "$path"
  done
  # ... and inside them succeed.
  local dirs=()
  for field in StateDirectory RuntimeDirectory LogsDirectory; do
    for dir in $(prop "$UNIT" "$field"); do
      case $field in
        StateDirectory) dirs+=("/var/lib/$dir") ;;
        RuntimeDirectory) dirs+=("/run/$dir") ;;
        LogsDirectory) dirs+=("/var/log/$dir") ;;
      esac
    done
  done
  check "hardening: the unit declares State/Runtime/Logs directories (${dirs[*]})" [ "${#dirs[@]}" -ge 1 ]
  for dir in "${dirs[@]}"; do
    code=$(http_code -X POST "$APP/debug/write?path=$dir/berth-e2e-probe")
    check "hardening: write to $dir/berth-e2e-probe allowed (HTTP $code)" [ "$code" = 200 ]
    check "hardening: $dir/berth-e2e-probe owned by uid ${u[0]}" \
      [ "$(cx stat -c %u "$dir/berth-e2e-probe" 2>/dev/null)" = "${u[0]}" ]
  done
}

# --- scenarios 3 and 4: watchdog -------------------------------------------------------------
# wait_restarted OLD_PID OLD_NRESTARTS TIMEOUT_S: a new main process, NRestarts up, active.
restarted() {
  local pid n
  pid=$(main_pid)
  n=$(prop "$UNIT" NRestarts)
  [ "$pid" != 0 ] && [ "$pid" != "$1" ] && [ "$n" -gt "$2" ] && unit_is active
}

# watchdog_restart LABEL TRIGGER [DETECT]: TRIGGER stops the watchdog pings of the main
# process; DETECT (optional) waits until the daemon itself noticed the failure. Then systemd
# must restart it within WatchdogSec + RestartSec + margin.
watchdog_restart() {
  local label=$1 trigger=$2 detect=${3:-} old n0 t0 t1 ms limit_s restart_s log
  old=$(main_pid)
  n0=$(prop "$UNIT" NRestarts)
  restart_s=$(($(usec "$(prop "$UNIT" RestartUSec)") / 1000000))
  limit_s=$((WATCHDOG_TEST_SEC + restart_s + 10))
  journal_mark
  t0=$(now_ms)
  $trigger "$old"
  if [ -n "$detect" ]; then
    if ! $detect; then
      fail "$label: the daemon did not notice the failure"
      diagnose "$UNIT"
      return 0
    fi
    t1=$(now_ms)
    timing "$label: trigger -> /livez failing" $((t1 - t0))
    t0=$t1
  fi
  if wait_for "$limit_s" restarted "$old" "$n0"; then
    ms=$(($(now_ms) - t0))
    timing "$label: restart after pings stopped (WatchdogSec=${WATCHDOG_TEST_SEC}s, RestartSec=${restart_s}s)" "$ms"
    pass "$label: restarted in $(fmt_s "$ms") s (limit ${limit_s} s), MainPID $old -> $(main_pid), NRestarts $n0 -> $(prop "$UNIT" NRestarts)"
    check "$label: not restarted before WatchdogSec elapsed" [ "$ms" -ge $((WATCHDOG_TEST_SEC * 1000 - 2500)) ]
  else
    fail "$label: not restarted within ${limit_s} s (MainPID $(main_pid), NRestarts $(prop "$UNIT" NRestarts), $(prop "$UNIT" ActiveState))"
    diagnose "$UNIT"
  fi
  log=$(journal_since "$UNIT")
  check "$label: journal shows systemd's 'Watchdog timeout' and the restart" \
    grep -q 'Watchdog timeout' <<<"$log"
  grep -q 'Watchdog timeout' <<<"$log" || printf '%s\n' "$log" >"$WORK/journal-$trigger.txt"
  check "$label: /livez 200 again after the restart" wait_for 10 test_http 200 "$ADMIN/livez"
}

trigger_freeze() { cx kill -STOP "$1"; }
trigger_liveness() {
  local code
  code=$(http_code -X POST "$APP/debug/liveness?fail=true")
  [ "$code" = 200 ] || fail "liveness: POST /debug/liveness?fail=true answered $code"
}
# The liveness check runs every 10 s and fails after 2 consecutive failures (berth-sidecar's
# defaults), so /livez turns 503 within about 20 s.
livez_failing() { wait_for 35 test_http 503 "$ADMIN/livez"; }
scenario_watchdog_freeze() { watchdog_restart "watchdog (kill -STOP)" trigger_freeze; }
scenario_watchdog_liveness() {
  journal_mark
  watchdog_restart "watchdog (liveness check failing)" trigger_liveness livez_failing
  check "liveness: the daemon logged that it stopped petting the watchdog" \
    grep -q 'no longer petting the systemd watchdog' <<<"$(journal_since "$UNIT")"
}

# --- scenario 5: reload ----------------------------------------------------------------------
count_reloads() { journal_since "$UNIT" | grep -c "$RE_RELOADED" || true; }
reload_count_above() { [ "$(count_reloads)" -gt "$1" ]; }
echo_says() { [ "$(http_body "$APP/echo?msg=x" 2>/dev/null)" = "$1 x" ]; }

scenario_reload() {
  local pid n0 t0 ms greeting
  cx systemctl reset-failed "$UNIT"
  pid=$(main_pid)
  n0=$(prop "$UNIT" NRestarts)
  journal_mark
  # systemctl reload: ExecReload sends SIGHUP.
  check "reload: the unit declares ExecReload" [ -n "$(prop "$UNIT" ExecReload)" ]
  t0=$(now_ms)
  check "reload: systemctl reload succeeds" cx timeout 30 systemctl reload "$UNIT"
  if wait_for 10 reload_count_above 0; then
    ms=$(($(now_ms) - t0))
    timing "reload: systemctl reload -> 'config reloaded' logged" "$ms"
    pass "reload: systemctl reload -> journal '$RE_RELOADED' after $(fmt_s "$ms") s"
  else
    fail "reload: no '$RE_RELOADED' in the journal within 10 s of systemctl reload"
    diagnose "$UNIT"
  fi
  check "reload: MainPID unchanged after systemctl reload ($pid)" [ "$(main_pid)" = "$pid" ]

  # A changed configuration file is picked up on its own.
  greeting="berth-e2e-$RANDOM"
  t0=$(now_ms)
  printf 'greeting = "%s"\n' "$greeting" | cx sh -c "cat > '$CONFIG_PATH.tmp' && mv '$CONFIG_PATH.tmp' '$CONFIG_PATH'"
  if wait_for 15 echo_says "$greeting"; then
    ms=$(($(now_ms) - t0))
    timing "reload: config file changed -> new greeting served" "$ms"
    pass "reload: config file change -> GET /echo answers '$greeting x' after $(fmt_s "$ms") s"
  else
    fail "reload: GET /echo still answers '$(http_body "$APP/echo?msg=x" || true)' 15 s after the config change"
    diagnose "$UNIT"
  fi
  check "reload: journal shows '$RE_RELOADED' with the new greeting" \
    grep -q "$RE_RELOADED.*$greeting" <<<"$(journal_since "$UNIT")"
  check "reload: MainPID unchanged after the config change ($pid)" [ "$(main_pid)" = "$pid" ]
  check "reload: NRestarts unchanged ($n0)" [ "$(prop "$UNIT" NRestarts)" = "$n0" ]
}

# --- scenario 6: stop with a request in flight -----------------------------------------------
scenario_stop() {
  local prestop_ms stop_limit_ms slow_ms t0 ms curl_pid rc result status body code
  prestop_ms=$(($(usec "$(sed -n 's/^BERTH_PRE_STOP_DELAY=//p' "$STAGE/unit.env" | tr -d '"')") / 1000))
  stop_limit_ms=$(($(usec "$(prop "$UNIT" TimeoutStopUSec)") / 1000))
  # Longer than the pre-stop delay, so the request is still running when the drain starts.
  slow_ms=$((prestop_ms + 3000))
  cx curl -sS -m 60 -w '\n%{http_code}' "$APP/slow?ms=$slow_ms" >"$WORK/slow.out" 2>"$WORK/slow.err" &
  curl_pid=$!
  BG_PIDS+=("$curl_pid")
  sleep 0.5
  journal_mark
  t0=$(now_ms)
  rc=0
  cx timeout $((stop_limit_ms / 1000 + 15)) systemctl stop "$UNIT" || rc=$?
  ms=$(($(now_ms) - t0))
  timing "stop: systemctl stop with a ${slow_ms} ms request in flight (pre-stop ${prestop_ms} ms)" "$ms"
  wait "$curl_pid" || true
  code=$(tail -n1 "$WORK/slow.out")
  body=$(head -n1 "$WORK/slow.out")
  result=$(prop "$UNIT" Result)
  status=$(prop "$UNIT" ExecMainStatus)
  check "stop: systemctl stop returned 0 (rc $rc)" [ "$rc" = 0 ]
  check "stop: the in-flight /slow?ms=$slow_ms request completed with 200 ('$body', HTTP $code)" \
    [ "$code" = 200 -a "$body" = "slept $slow_ms ms" ]
  check "stop: stop waited for the request ($(fmt_s "$ms") s >= $(fmt_s $((slow_ms - 1000))) s)" [ "$ms" -ge $((slow_ms - 1000)) ]
  check "stop: stopped within TimeoutStopSec ($(fmt_s "$ms") s < $(fmt_s "$stop_limit_ms") s)" [ "$ms" -lt "$stop_limit_ms" ]
  check "stop: Result=success (was $result)" [ "$result" = success ]
  check "stop: the daemon exited 0 after its drain (ExecMainStatus $status)" [ "$status" = 0 ]
  check "stop: unit inactive" unit_is inactive
  local log all
  log=$(journal_since "$UNIT")
  all=$(cx journalctl --no-pager -q -o cat -u "$UNIT")
  check "stop: journal shows the ready line ('$RE_READY')" grep -q "$RE_READY" <<<"$all"
  check "stop: journal shows the draining line ('$RE_DRAINING')" grep -q "$RE_DRAINING" <<<"$log"
  check "stop: journal shows the stopped line ('$RE_STOPPED')" grep -q "$RE_STOPPED" <<<"$log"
  if ((FAILED > 0)); then diagnose "$UNIT"; fi
}

# --- scenario 7: systemd-analyze security, with the real systemd ----------------------------
exposure() { sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p'; }
scenario_security() {
  local gen naive
  gen=$(cx systemd-analyze security --no-pager "$UNIT" 2>&1 | exposure)
  naive=$(cx systemd-analyze security --no-pager berth-naive.service 2>&1 | exposure)
  SECURITY_GENERATED=$gen
  SECURITY_NAIVE=$naive
  check "security: generated unit scored ($gen)" [ -n "$gen" ]
  check "security: naive unit scored ($naive)" [ -n "$naive" ]
  check "security: generated unit $gen is at most 2.0 (naive unit $naive)" \
    awk -v g="${gen%% *}" 'BEGIN { exit !(g != "" && g <= 2.0) }'
  check "security: the unit loads without warnings (systemd-analyze verify in the container)" \
    test -z "$(cx systemd-analyze verify "/etc/systemd/system/$UNIT" 2>&1)"
}

run_scenario() {
  local name=$1 t0
  t0=$(now_ms)
  log "--- $name"
  "scenario_$name"
  timing "scenario $name (total)" $(($(now_ms) - t0))
}

run_scenario selftest
run_scenario readiness
if unit_is active; then
  run_scenario hardening
  run_scenario watchdog_freeze
  run_scenario watchdog_liveness
  run_scenario reload
  run_scenario stop
else
  fail "readiness: $UNIT is not active; the run-time scenarios cannot run"
  diagnose "$UNIT"
fi
run_scenario security

t=$(now_ms)
shutdown_container
timing "container power-off" $(($(now_ms) - t))

printf '\nTimings:\n'
for k in "${TIMING_ORDER[@]}"; do
  printf '  %8s s  %s\n' "$(fmt_s "${TIMING[$k]}")" "$k"
done
printf '  systemd-analyze security (in the container): generated %s, naive %s\n' \
  "${SECURITY_GENERATED:-?}" "${SECURITY_NAIVE:-?}"
printf '\n%d passed, %d failed\n' "$PASSED" "$FAILED"
if ((FAILED > 0)); then
  printf 'failed: %s\n' "${FAILED_NAMES[@]}"
  exit 1
fi
