#!/usr/bin/env bash
# Windows end-to-end suite: examples/echo-daemon cross-built for x86_64-pc-windows-gnu runs as a
# real service under wine 8.0's service control manager, installed, driven and removed by the
# scripts `berth generate` writes. See tests/e2e/windows/README.md for what wine can and cannot
# prove.
#
#   bash tests/e2e/windows.sh          (root; installs its own toolchain and wine first)
#
# Prints one PASS/FAIL line per assertion with the measured figure, the timings, a final
# "N passed, N failed" line, and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$PWD
HERE=$REPO/tests/e2e/windows
# shellcheck source=tests/e2e/lib/common.sh
source "$REPO/tests/e2e/lib/common.sh"

[ "$(id -u)" = 0 ] || e2e_die "must run as root (apt-get for the toolchain and wine)"

T_SUITE=$(now_ms)
declare -A TIMING=()
TIMING_ORDER=()
timing() {
  TIMING[$1]=$2
  TIMING_ORDER+=("$1")
}

# --- 0. toolchain, wine, the prefix template (idempotent, cached) ------------------------------
t=$(now_ms)
bash "$HERE/setup.sh"
timing "setup (packages, support programs, prefix template)" $(($(now_ms) - t))
# shellcheck source=tests/e2e/windows/env.sh
source "$HERE/env.sh"

# One run at a time on a machine (the target directory and the ports are shared).
exec 9>"$WIN_CACHE/windows-e2e.lock"
flock -w 900 9 || e2e_die "another Windows e2e run holds $WIN_CACHE/windows-e2e.lock for 15 min"

NAME=echo-daemon
# Ports of this suite (wine's sockets are the host's: keep clear of the other suites' 8080/9090).
APP_PORT=${WIN_E2E_APP_PORT:-18480}
ADMIN_PORT=${WIN_E2E_ADMIN_PORT:-19490}
PRE_STOP_S=2
DRAIN_S=4
BUDGET_S=$((PRE_STOP_S + DRAIN_S + 5))
STARTUP_DELAY_S=3
ADMIN=http://127.0.0.1:$ADMIN_PORT
APP=http://127.0.0.1:$APP_PORT

WORK=$(mktemp -d /tmp/berth-windows-e2e.XXXXXX)
PREFIX=$WORK/prefix
KEEPALIVE_PID=
BG_PIDS=()
cleanup() {
  local rc=$?
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$KEEPALIVE_PID" ] && kill "$KEEPALIVE_PID" 2>/dev/null || true
  # wine's server and every program of the prefix (services.exe, the service) end with it.
  if [ -d "$PREFIX" ]; then
    WINEPREFIX=$PREFIX timeout 30 "$WINE_DIR/wineserver" -k 2>/dev/null || true
  fi
  if ((rc != 0)) || ((E2E_FAILED > 0)); then
    # Keep what explains a failure (the service's log, the status watches), not the prefix.
    cp "$PREFIX/drive_c/ProgramData/$NAME/logs/$NAME.log" "$WORK/" 2>/dev/null || true
    rm -rf "$PREFIX"
    e2e_log "work directory kept for inspection: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. berth (Linux) ------------------------------------------------------------------------------
t=$(now_ms)
e2e_log "cargo build -p berth"
cargo build --locked -q -p berth
timing "cargo build -p berth" $(($(now_ms) - t))
python3 -c 'import yaml' 2>/dev/null || e2e_die "python3 yaml module missing (pip install pyyaml)"

# --- 2. the description under test ---------------------------------------------------------------
# The example's berth.yaml with this suite's ports, a short stop budget and the test knobs in
# env (what a systemd drop-in does in the systemd suite).
DESC=$WORK/desc
mkdir -p "$DESC/config"
cp "$REPO/examples/echo-daemon/config/echo.toml" "$DESC/config/"
sed -e "s/^    port: 8080$/    port: $APP_PORT/" \
  -e "s/^  port: 9090$/  port: $ADMIN_PORT/" \
  -e "s/^  preStopDelay: .*/  preStopDelay: ${PRE_STOP_S}s/" \
  -e "s/^  drainTimeout: .*/  drainTimeout: ${DRAIN_S}s/" \
  -e "s/^  RUST_LOG: info$/  RUST_LOG: info\n  ECHO_LISTEN: \"127.0.0.1:$APP_PORT\"\n  ECHO_STARTUP_DELAY: ${STARTUP_DELAY_S}s/" \
  "$REPO/examples/echo-daemon/berth.yaml" >"$DESC/berth.yaml"
grep -q "port: $ADMIN_PORT" "$DESC/berth.yaml" && grep -q "ECHO_STARTUP_DELAY" "$DESC/berth.yaml" ||
  e2e_die "could not derive the test description from examples/echo-daemon/berth.yaml"

# --- 2b. the CI workflow's windows job, run as written (the rule of the generated workflow: each
# command is one a suite runs). Its set-up steps have stand-ins here: setup.sh installed the
# toolchain (Debian's rustc with -Zbuild-std instead of `rustup target add`), and berth is the
# one just built. "Compile the Windows service" runs in the example's directory (inside the
# workspace, as in the user's repository), "Windows service package" in the description's.
"$REPO/target/debug/berth" generate -f "$DESC/berth.yaml" --only ci -o "$WORK/ci" >/dev/null
WF=$WORK/ci/ci/$NAME.yml
WF_PY=$REPO/tests/e2e/multiarch/workflow.py
check "workflow: berth generate --only ci writes a windows job (steps: $(python3 "$WF_PY" "$WF" steps | awk -F'\t' '$1=="windows" {printf "%s; ", $2}'))" \
  grep -q "^windows"$'\t'"Compile the Windows service\$" <(python3 "$WF_PY" "$WF" steps)
# wf_step DIR STEP: the windows job's step STEP, its `run:` script with the workflow's, the
# job's and the step's env, in DIR, with this machine's cross toolchain (env.sh); output in
# $WORK/step-*.log.
wf_step() {
  local dir=$1 step=$2 script log kv
  log=$WORK/step-$(printf '%s' "$step" | tr -c 'a-zA-Z0-9' '_').log
  script=$(python3 "$WF_PY" "$WF" run windows "$step") || return 1
  (
    cd "$dir"
    while IFS= read -r kv; do export "${kv?}"; done < <(
      python3 "$WF_PY" "$WF" env
      python3 "$WF_PY" "$WF" job-env windows
      python3 "$WF_PY" "$WF" step-env windows "$step"
    )
    win_cargo_env
    export PATH="$REPO/target/debug:$PATH"
    bash -euo pipefail -c "$script"
  ) >"$log" 2>&1 || {
    sed 's/^/  | /' "$log" | tail -n 30
    return 1
  }
}
t=$(now_ms)
e2e_log "workflow step 'Compile the Windows service' (echo-daemon.exe, $WIN_TARGET)"
if wf_step "$REPO/examples/echo-daemon" "Compile the Windows service"; then
  BUILD_MS=$(($(now_ms) - t))
  pass "workflow step 'Compile the Windows service' ran as written: $(python3 "$WF_PY" "$WF" run windows "Compile the Windows service" | head -n 1) (${BUILD_MS} ms)"
else
  fail "workflow step 'Compile the Windows service'" "see $WORK/step-Compile_the_Windows_service.log"
  e2e_die "no echo-daemon.exe to test"
fi
timing "cross-build echo-daemon.exe (the workflow's compile step)" "$BUILD_MS"
if wf_step "$DESC" "Windows service package"; then
  pass "workflow step 'Windows service package': $(cd "$DESC/dist/windows" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')"
else
  fail "workflow step 'Windows service package'" "see $WORK/step-Windows_service_package.log"
  e2e_die "no Windows service package to test"
fi
PACKAGE=$DESC/dist/windows

# Clippy for the Windows target, every target of the crates that build for Windows (the Unix-only
# integration tests are gated with cfg(unix)): what `.ci/run` does for Linux. One invocation, so
# the dependencies are checked once (cold: 2 min 19 s at load 3, std included).
t=$(now_ms)
if out=$(win_cargo clippy --locked -q -p berth-sidecar -p echo-daemon --all-features --all-targets -- -D warnings 2>&1); then
  pass "clippy --all-targets --all-features -D warnings for $WIN_TARGET: berth-sidecar and echo-daemon clean"
else
  fail "clippy --all-targets -D warnings for $WIN_TARGET: berth-sidecar, echo-daemon" "$(printf '%s' "$out" | head -n 30)"
fi
timing "clippy for $WIN_TARGET (berth-sidecar, echo-daemon; all targets)" $(($(now_ms) - t))
EXE_BUILT=$PACKAGE/$NAME.exe
for f in install.cmd upgrade.cmd uninstall.cmd README.md config/echo.toml "$NAME.exe"; do
  [ -s "$PACKAGE/$f" ] || fail "the windows-service artifact (dist/windows) holds $f"
done
EXE_SIZE=$(stat -c %s "$EXE_BUILT")
e2e_log "echo-daemon.exe: $EXE_SIZE bytes"

# --- 3. a fresh prefix with wine's server kept alive ---------------------------------------------
t=$(now_ms)
# A copy of the template, except C:\windows\system32 (630 of its 690 MB: wine's DLLs and
# programs, which nothing rewrites): hard links to the template's files.
TEMPLATE=$WIN_CACHE/prefix-template
mkdir -p "$PREFIX/drive_c/windows"
cp -a "$TEMPLATE"/*.reg "$TEMPLATE/dosdevices" "$PREFIX/"
for d in "$TEMPLATE/drive_c"/*; do
  [ "${d##*/}" = windows ] || cp -a "$d" "$PREFIX/drive_c/"
done
for d in "$TEMPLATE/drive_c/windows"/*; do
  if [ "${d##*/}" = system32 ]; then cp -al "$d" "$PREFIX/drive_c/windows/"; else cp -a "$d" "$PREFIX/drive_c/windows/"; fi
done
win_env "$PREFIX"
C=$PREFIX/drive_c
mkdir -p "$C/berth"
cp -r "$PACKAGE/." "$C/berth/"
cp "$WIN_CACHE/support/svcctl.exe" "$C/berth/"
# wine's Event Log is its debug output: ReportEventW logs each string on the `eventlog` channel
# (information as trace, warning as warn, error as err) after a `fixme:advapi:ReportEventW` line
# with the event type and ID; RegisterEventSourceW logs the source name. The keepalive program
# starts wine's server, and with it services.exe and every service, so their standard error is
# its: kept in $WINE_DEBUG_LOG.
WINE_DEBUG_LOG=$WORK/wine-debug.log
EVENT_DEBUG=-all,fixme+advapi,+eventlog
services_up() {
  local p
  for p in $(pgrep -f 'services.exe' || true); do
    grep -qzx "WINEPREFIX=$PREFIX" "/proc/$p/environ" 2>/dev/null && return 0
  done
  return 1
}
start_wine() {
  WINEDEBUG=$EVENT_DEBUG wine64 "$WIN_CACHE/support/keepalive.exe" >/dev/null 2>>"$WINE_DEBUG_LOG" &
  KEEPALIVE_PID=$!
  # No other wine program before services.exe runs: it must be the keepalive's child.
  wait_until 60 0.2 services_up || true
  wait_until 60 0.5 wine_q cmd /c ver || true
}
stop_wine() {
  kill "$KEEPALIVE_PID" 2>/dev/null || true
  timeout 30 wineserver -k 2>/dev/null || true
  wait "$KEEPALIVE_PID" 2>/dev/null || true
  KEEPALIVE_PID=
}
# wine_q CMD...: a Windows program, its output without CRs; its exit status.
wine_q() { timeout 60 wine64 "$@" 2>/dev/null | tr -d '\r'; return "${PIPESTATUS[0]}"; }
state() { wine_q sc query "$NAME" | awk '/STATE/ {print $4}'; }
start_wine
timing "fresh wine prefix, wine started" $(($(now_ms) - t))

REGKEY='HKLM\SYSTEM\CurrentControlSet\Services\'$NAME
SESSION_ENV='HKLM\System\CurrentControlSet\Control\Session Manager\Environment'
# wine's services.exe gives every service the machine's environment (taken once, when it starts
# the first service) and ignores a service's own Environment value. So the suite mirrors that
# value into the machine environment and restarts wine; on Windows the SCM applies it directly.
mirror_environment() {
  local line kv
  line=$(wine_q reg query "$REGKEY" /v Environment | sed -n 's/.*REG_MULTI_SZ *//p')
  [ -n "$line" ] || return 1
  while IFS= read -r kv; do
    [ -n "$kv" ] || continue
    wine_q reg add "$SESSION_ENV" /v "${kv%%=*}" /t REG_SZ /d "${kv#*=}" /f >/dev/null
  done < <(printf '%s\n' "$line" | sed 's/\\0/\n/g')
}
# The ports before the first start (the install script starts the service with wine's
# environment): never the default 8080/9090 of other suites. wine reads it when it starts.
wine_q reg add "$SESSION_ENV" /v BERTH_ADMIN_ADDR /t REG_SZ /d "127.0.0.1:$ADMIN_PORT" /f >/dev/null
wine_q reg add "$SESSION_ENV" /v ECHO_LISTEN /t REG_SZ /d "127.0.0.1:$APP_PORT" /f >/dev/null
# The service's debug channels (services.exe gives it the machine environment).
wine_q reg add "$SESSION_ENV" /v WINEDEBUG /t REG_SZ /d "$EVENT_DEBUG" /f >/dev/null
stop_wine
start_wine

LOG="$C/ProgramData/$NAME/logs/$NAME.log"
WATCH_PID=
# watch_start FILE UNTIL: svcctl's status changes (T_MS STATE CHECKPOINT WAIT_HINT WIN32
# SERVICE) until the state is UNTIL (RUNNING or STOPPED), line by line into FILE.
watch_start() {
  wine64 'C:\berth\svcctl.exe' "$NAME" watch 60000 "$2" 2>/dev/null | stdbuf -oL tr -d '\r' >"$1" &
  WATCH_PID=$!
  BG_PIDS+=("$WATCH_PID")
  wait_until 20 0.1 test -s "$1" || true
}
watch_wait() { timeout 70 tail --pid="$WATCH_PID" -f /dev/null 2>/dev/null || true; }
code() { curl -s -m 3 -o /dev/null -w '%{http_code}' "$1" || true; }
# After a stop was sent at $T0 with the slow request $SLOW_PID in flight: FIRST_503 = ms until
# /readyz answered 503 (empty if not within 5 s), SLOW_DONE = ms until that request ended.
after_stop_sent() {
  FIRST_503=
  while [ $(($(now_ms) - T0)) -lt 5000 ]; do
    if [ "$(code "$ADMIN/readyz")" = 503 ]; then FIRST_503=$(($(now_ms) - T0)); break; fi
    sleep 0.05
  done
  wait "$SLOW_PID" 2>/dev/null || true
  SLOW_DONE=$(($(now_ms) - T0))
}
has() { printf '%s' "$1" | grep -qF -- "$2"; }
has_re() { printf '%s' "$1" | grep -qE -- "$2"; }
log_has() { grep -q -- "$1" "$LOG" 2>/dev/null; }

# --- 4. install.cmd -------------------------------------------------------------------------------
t=$(now_ms)
set +e
INSTALL_OUT=$(timeout 180 wine64 cmd /c 'C:\berth\install.cmd' 2>&1 | tr -d '\r')
INSTALL_RC=${PIPESTATUS[0]}
set -e
INSTALL_MS=$(($(now_ms) - t))
printf '%s\n' "$INSTALL_OUT" | sed 's/^/  | /'
if [ "$INSTALL_RC" = 0 ] && printf '%s' "$INSTALL_OUT" | grep -q "installed and started"; then
  pass "install.cmd (generated) installs and starts the service under wine: exit 0 in ${INSTALL_MS} ms"
else
  fail "install.cmd exits 0" "exit $INSTALL_RC"
fi
REG=$(wine_q reg query "$REGKEY" || true)
for want in "BERTH_ADMIN_ADDR=0.0.0.0:$ADMIN_PORT" "BERTH_PRE_STOP_DELAY=${PRE_STOP_S}s" \
  "BERTH_DRAIN_TIMEOUT=${DRAIN_S}s" 'BERTH_CONFIG_FILE=C:\ProgramData\echo-daemon\config\echo.toml' \
  'BERTH_LOG_FILE=C:\ProgramData\echo-daemon\logs\echo-daemon.log' "BERTH_EVENT_LOG_SOURCE=$NAME" \
  "ECHO_STARTUP_DELAY=${STARTUP_DELAY_S}s"; do
  if printf '%s' "$REG" | grep -qF -- "$want"; then
    pass "service Environment value holds $want"
  else
    fail "service Environment value holds $want" "$(printf '%s' "$REG" | grep Environment)"
  fi
done
PRESHUTDOWN_HEX=$(printf '0x%x' $((BUDGET_S * 1000)))
check "PreshutdownTimeout = ${BUDGET_S}s (preStopDelay ${PRE_STOP_S}s + drainTimeout ${DRAIN_S}s + 5s) = $PRESHUTDOWN_HEX ms" \
  has_re "$REG" "PreshutdownTimeout +REG_DWORD +$PRESHUTDOWN_HEX\$"
check "ObjectName is the virtual account NT SERVICE\\$NAME" has_re "$REG" "ObjectName +REG_SZ +NT SERVICE.$NAME\$"
check "Start = 2 (automatic)" has_re "$REG" 'Start +REG_DWORD +0x2$'
check "ImagePath is the installed .exe, quoted" has "$REG" "\"C:\\Program Files\\$NAME\\$NAME.exe\""
EVENT_KEY='HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\'$NAME
EVREG=$(wine_q reg query "$EVENT_KEY" || true)
check "event source registered: $EVENT_KEY EventMessageFile REG_EXPAND_SZ %SystemRoot%\\System32\\EventCreate.exe" \
  has_re "$EVREG" 'EventMessageFile +REG_EXPAND_SZ +%SystemRoot%\\System32\\EventCreate\.exe$'
check "event source TypesSupported = 7 (error, warning, information)" has_re "$EVREG" 'TypesSupported +REG_DWORD +0x7$'

# The service's own Environment, through wine's machine environment (see mirror_environment).
wait_until 30 0.5 bash -c "[ \"\$(timeout 60 wine64 sc query $NAME 2>/dev/null | tr -d '\r' | awk '/STATE/ {print \$4}')\" != START_PENDING ]" || true
wine_q sc stop "$NAME" >/dev/null || true
wait_until 30 0.5 bash -c "[ \"\$(timeout 60 wine64 sc query $NAME 2>/dev/null | tr -d '\r' | awk '/STATE/ {print \$4}')\" = STOPPED ]" || true
mirror_environment || fail "mirror the service Environment into wine's machine environment"
# The admin server on loopback only (the generated 0.0.0.0 would listen on every interface).
wine_q reg add "$SESSION_ENV" /v BERTH_ADMIN_ADDR /t REG_SZ /d "127.0.0.1:$ADMIN_PORT" /f >/dev/null
t=$(now_ms)
stop_wine
start_wine
# An automatic service starts with the service manager.
if wait_until 60 0.5 bash -c "[ \"\$(curl -s -m 2 -o /dev/null -w '%{http_code}' $ADMIN/readyz)\" = 200 ]"; then
  pass "start type automatic: wine's service manager started the service at boot; ready in $(($(now_ms) - t)) ms"
else
  fail "automatic start at wine boot" "state $(state)"
fi

# --- 5. START_PENDING until ready, then RUNNING ------------------------------------------------
wine_q sc stop "$NAME" >/dev/null || true
wait_until 30 0.5 bash -c "[ \"\$(timeout 60 wine64 sc query $NAME 2>/dev/null | tr -d '\r' | awk '/STATE/ {print \$4}')\" = STOPPED ]" || true
watch_start "$WORK/watch-start.txt" RUNNING
T0=$(now_ms)
wine_q sc start "$NAME" >/dev/null || true
FIRST_503=
FIRST_200=
while [ $(($(now_ms) - T0)) -lt 30000 ]; do
  c=$(code "$ADMIN/readyz")
  [ "$c" = 503 ] && [ -z "$FIRST_503" ] && FIRST_503=$(($(now_ms) - T0))
  if [ "$c" = 200 ]; then FIRST_200=$(($(now_ms) - T0)); break; fi
  sleep 0.1
done
wait_until 10 0.2 grep -q RUNNING "$WORK/watch-start.txt" || true
kill "$WATCH_PID" 2>/dev/null || true
sed 's/^/  | watch: /' "$WORK/watch-start.txt"
P_MS=$(awk '$2=="START_PENDING" {print $1; exit}' "$WORK/watch-start.txt")
R_MS=$(awk '$2=="RUNNING" {print $1; exit}' "$WORK/watch-start.txt")
P_CP=$(awk '$2=="START_PENDING" {n++} END {print n+0}' "$WORK/watch-start.txt")
if [ -n "$P_MS" ] && [ -n "$R_MS" ] && [ $((R_MS - P_MS)) -ge $((STARTUP_DELAY_S * 1000 - 500)) ]; then
  pass "START_PENDING ($P_CP checkpoint reports) for $((R_MS - P_MS)) ms, then RUNNING: only after the ${STARTUP_DELAY_S}s start-up delay"
else
  fail "START_PENDING then RUNNING after the start-up delay" "pending=$P_MS running=$R_MS"
fi
if [ -n "$FIRST_503" ] && [ -n "$FIRST_200" ]; then
  pass "/readyz 503 while START_PENDING (first at ${FIRST_503} ms), 200 at ${FIRST_200} ms after sc start"
else
  fail "/readyz 503 while starting, then 200" "503 at ${FIRST_503:-never}, 200 at ${FIRST_200:-never}"
fi
check "/livez 200 on the admin port" test "$(code "$ADMIN/livez")" = 200
ECHO=$(curl -s -m 3 "$APP/echo?msg=windows" || true)
check "/echo serves: \"$ECHO\"" test "$ECHO" = "echo windows"

# --- 6. probe mode of the .exe -----------------------------------------------------------------
PROBE=("C:\\Program Files\\$NAME\\$NAME.exe" --berth-probe readyz --addr "127.0.0.1:$ADMIN_PORT")
set +e
wine_q "${PROBE[@]}" >/dev/null
PROBE_READY=$?
set -e
check "probe mode: $NAME.exe --berth-probe readyz exits 0 while ready (got $PROBE_READY)" test "$PROBE_READY" = 0

# --- 7. reload: PARAMCHANGE, and a change of the configuration file ----------------------------
reloads() { curl -s -m 3 "$ADMIN/metrics" | awk '/^echo_config_reloads_total/ {print $2}'; }
STARTS_BEFORE=$(grep -c "sidecar started" "$LOG" || true)
R0=$(reloads)
set +e
PC_OUT=$(wine_q 'C:\berth\svcctl.exe' "$NAME" paramchange)
PC_RC=$?
set -e
if [ "$PC_RC" = 0 ] && wait_until 10 0.2 bash -c "[ \"\$(curl -s -m 3 $ADMIN/metrics | awk '/^echo_config_reloads_total/ {print \$2}')\" = $((${R0:-0} + 1)) ]"; then
  pass "PARAMCHANGE (ControlService) reloads: echo_config_reloads_total ${R0:-0} -> $(reloads) ($PC_OUT)"
else
  fail "PARAMCHANGE reloads" "rc=$PC_RC reloads ${R0:-?} -> $(reloads)"
fi
CONFIG="$C/ProgramData/$NAME/config/echo.toml"
T1=$(now_ms)
printf 'greeting = "hello from wine"\n' >"$CONFIG.new"
mv "$CONFIG.new" "$CONFIG"
if wait_until 15 0.2 bash -c "[ \"\$(curl -s -m 2 '$APP/echo?msg=x')\" = 'hello from wine x' ]"; then
  pass "config file change reloads without a restart: new greeting served after $(($(now_ms) - T1)) ms"
else
  fail "config file change reloads" "echo says: $(curl -s -m 2 "$APP/echo?msg=x")"
fi
# A configuration that does not parse: the reload fails (an ERROR line, an error event) and the
# old configuration stays.
printf 'greeting = \n' >"$CONFIG.new"
mv "$CONFIG.new" "$CONFIG"
if wait_until 15 0.2 log_has "configuration reload failed" &&
  [ "$(curl -s -m 2 "$APP/echo?msg=x")" = 'hello from wine x' ]; then
  pass "a configuration that does not parse is refused: ERROR 'configuration reload failed', old greeting kept"
else
  fail "a configuration that does not parse is refused" "echo says: $(curl -s -m 2 "$APP/echo?msg=x")"
fi
printf 'greeting = "hello from wine"\n' >"$CONFIG.new"
mv "$CONFIG.new" "$CONFIG"
check "no restart during the reloads (one 'sidecar started' line since the start, state $(state))" \
  test "$(grep -c "sidecar started" "$LOG" || true)" = "$STARTS_BEFORE"

# --- 8. sc stop with a slow request in flight ---------------------------------------------------
# The request outlives the pre-stop delay (sc.exe takes about a second under wine), so the
# drain must wait for it; it ends well within the drain timeout.
SLOW_MS=$((PRE_STOP_S * 1000 + 2500))
watch_start "$WORK/watch-stop.txt" STOPPED
curl -s -m 30 -o "$WORK/slow.out" -w '%{http_code}' "$APP/slow?ms=$SLOW_MS" >"$WORK/slow.code" &
SLOW_PID=$!
BG_PIDS+=("$SLOW_PID")
sleep 0.2
T0=$(now_ms)
wine_q sc stop "$NAME" >/dev/null || true
STOP_CMD_MS=$(($(now_ms) - T0))
after_stop_sent
watch_wait
sed 's/^/  | watch: /' "$WORK/watch-stop.txt"
SP_MS=$(awk '$2=="STOP_PENDING" {print $1; exit}' "$WORK/watch-stop.txt")
ST_LINE=$(awk '$2=="STOPPED"' "$WORK/watch-stop.txt" | head -n1)
ST_MS=$(printf '%s' "$ST_LINE" | awk '{print $1}')
CPS=$(awk '$2=="STOP_PENDING" {print $3}' "$WORK/watch-stop.txt" | tr '\n' ' ')
HINT0=$(awk '$2=="STOP_PENDING" {print $4; exit}' "$WORK/watch-stop.txt")
if [ -n "$SP_MS" ]; then
  pass "STOP_PENDING seen; checkpoints $CPS; first wait hint ${HINT0} ms (budget $((BUDGET_S * 1000)) ms)"
else
  fail "STOP_PENDING seen" "$(tr '\n' ';' <"$WORK/watch-stop.txt")"
fi
check "checkpoints increase while stopping ($CPS)" bash -c "printf '%s\n' $CPS | sort -n -c && [ \$(printf '%s\n' $CPS | wc -l) -ge 2 ]"
if [ -n "$FIRST_503" ]; then
  pass "/readyz 503 at once: ${FIRST_503} ms after sc stop was sent (sc.exe itself took ${STOP_CMD_MS} ms)"
else
  fail "/readyz 503 at once after sc stop"
fi
check "the in-flight request (${SLOW_MS} ms) completed with $(cat "$WORK/slow.code" 2>/dev/null), ${SLOW_DONE} ms after sc stop: past the ${PRE_STOP_S}s pre-stop delay, inside the drain" \
  bash -c "[ \"\$(cat '$WORK/slow.code' 2>/dev/null)\" = 200 ] && [ $SLOW_DONE -gt $((PRE_STOP_S * 1000)) ]"
if [ -n "$ST_MS" ] && [ "$(printf '%s' "$ST_LINE" | awk '{print $5, $6}')" = "0 0" ] &&
  [ $((ST_MS - ${SP_MS:-0})) -le $((BUDGET_S * 1000)) ]; then
  pass "STOPPED with exit code 0 in $((ST_MS - ${SP_MS:-0})) ms from STOP_PENDING (budget $((BUDGET_S * 1000)) ms), after the request"
else
  fail "STOPPED with exit code 0 within the budget" "$ST_LINE"
fi
set +e
wine_q "${PROBE[@]}" >/dev/null
PROBE_DOWN=$?
set -e
check "probe mode exits 1 when not ready (service stopped; got $PROBE_DOWN)" test "$PROBE_DOWN" = 1

# --- 9. a drain that cannot finish: service-specific exit code 124 -----------------------------
wine_q sc start "$NAME" >/dev/null || true
wait_until 30 0.2 bash -c "[ \"\$(curl -s -m 2 -o /dev/null -w '%{http_code}' $ADMIN/readyz)\" = 200 ]" || true
watch_start "$WORK/watch-force.txt" STOPPED
curl -s -m 60 -o /dev/null "$APP/slow?ms=60000" &
BG_PIDS+=("$!")
sleep 0.2
wine_q sc stop "$NAME" >/dev/null || true
watch_wait
sed 's/^/  | watch: /' "$WORK/watch-force.txt"
SP_MS=$(awk '$2=="STOP_PENDING" {print $1; exit}' "$WORK/watch-force.txt")
ST_LINE=$(awk '$2=="STOPPED"' "$WORK/watch-force.txt" | head -n1)
ST_MS=$(printf '%s' "$ST_LINE" | awk '{print $1}')
FORCED=$((${ST_MS:-0} - ${SP_MS:-0}))
# WIN32_EXIT_CODE 1066 = ERROR_SERVICE_SPECIFIC_ERROR, SERVICE_EXIT_CODE 124.
if [ "$(printf '%s' "$ST_LINE" | awk '{print $5, $6}')" = "1066 124" ] &&
  [ "$FORCED" -ge $(((PRE_STOP_S + DRAIN_S) * 1000 - 500)) ] && [ "$FORCED" -le $((BUDGET_S * 1000)) ]; then
  pass "forced drain: STOPPED with service-specific exit code 124 after ${FORCED} ms (preStopDelay + drainTimeout = $(((PRE_STOP_S + DRAIN_S) * 1000)) ms)"
else
  fail "forced drain ends with service-specific exit code 124 at the drain timeout" "$ST_LINE after ${FORCED} ms"
fi
SCQ=$(wine_q sc query "$NAME")
check "sc query shows SERVICE_EXIT_CODE 124" has_re "$SCQ" 'SERVICE_EXIT_CODE +: 124 '


# --- 10. the log file --------------------------------------------------------------------------
for line in "sidecar started" "start-up complete" "PARAMCHANGE received; reloading" "config reloaded" \
  "service stop requested; draining" "drained cleanly; exiting" "drain timeout expired" "service stopped code=0" \
  "service stopped code=124"; do
  check "log file %ProgramData%\\$NAME\\logs\\$NAME.log has \"$line\"" log_has "$line"
done

# --- 10b. the Event Log (wine: ReportEventW on the eventlog debug channel) -----------------------
# One line per reported event: "TYPE ID CLASS TEXT", the type and ID from the fixme line of the
# same thread just before the string (wine prints both from one ReportEventW call).
EVENTS=$WORK/events.txt
awk '
  {
    tid = $0; sub(/:.*/, "", tid)
    if ($0 ~ /:fixme:advapi:ReportEventW \(/) {
      args = $0; sub(/.*ReportEventW \(/, "", args); split(args, a, ",")
      type[tid] = a[2]; id[tid] = a[4]
    } else if ($0 ~ /:(trace|warn|err):eventlog:ReportEventW /) {
      cls = $0; sub(/^[^:]*:/, "", cls); sub(/:.*/, "", cls)
      text = $0; sub(/.*ReportEventW L"/, "", text); sub(/"$/, "", text)
      print type[tid], id[tid], cls, text
    }
  }' "$WINE_DEBUG_LOG" >"$EVENTS"
e2e_log "$(wc -l <"$EVENTS") events reported; the first ones:"
head -n 8 "$EVENTS" | sed 's/^/  | event: /'
REGISTERED=$(grep -cF "RegisterEventSourceW ((null),L\"$NAME\")" "$WINE_DEBUG_LOG" || true)
check "the service registers its own event source: RegisterEventSourceW(NULL, \"$NAME\") in $REGISTERED service starts" \
  test "${REGISTERED:-0}" -ge 1
# event_seen TYPE ID CLASS TEXT: an event of that type, ID and wine class whose text holds TEXT.
event_seen() { awk -v t="$1" -v i="$2" -v c="$3" -v x="$4" '$1==t && $2==i && $3==c && index($0, x) {f=1} END {exit !f}' "$EVENTS"; }
for e in "0x0004 0x00000001 trace start-up complete:start (information, ID 1)" \
  "0x0004 0x00000001 trace service stop requested; draining:stop (information, ID 1)" \
  "0x0004 0x00000001 trace service stopped:stopped (information, ID 1)" \
  "0x0002 0x00000002 warn drain timeout expired:the forced drain (warning, ID 2)" \
  "0x0001 0x00000003 err configuration reload failed:the refused configuration (error, ID 3)"; do
  read -r ty id cls rest <<<"${e%%:*}"
  check "Event Log: '$rest' reported by ReportEventW as type $ty, ID $id — ${e##*:}" event_seen "$ty" "$id" "$cls" "$rest"
done
FIRST=$(grep -m1 'start-up complete' "$EVENTS" | cut -d' ' -f4- || true)
check "Event Log text is the log line without time and level: '$FIRST'" \
  bash -c "[[ '$FIRST' == *'start-up complete'* ]] && ! [[ '$FIRST' =~ ^[0-9]{4}-|INFO ]]"

# --- 11. upgrade.cmd, then uninstall.cmd ----------------------------------------------------------
set +e
UP_OUT=$(timeout 180 wine64 cmd /c 'C:\berth\upgrade.cmd' 2>&1 | tr -d '\r')
UP_RC=${PIPESTATUS[0]}
set -e
printf '%s\n' "$UP_OUT" | sed 's/^/  | /'
if [ "$UP_RC" = 0 ] && wait_until 30 0.2 bash -c "[ \"\$(curl -s -m 2 -o /dev/null -w '%{http_code}' $ADMIN/readyz)\" = 200 ]"; then
  pass "upgrade.cmd replaces the service and it is ready again (exit 0)"
else
  fail "upgrade.cmd" "exit $UP_RC, readyz $(code "$ADMIN/readyz")"
fi
set +e
UN_OUT=$(timeout 180 wine64 cmd /c 'C:\berth\uninstall.cmd' /purge 2>&1 | tr -d '\r')
UN_RC=${PIPESTATUS[0]}
set -e
printf '%s\n' "$UN_OUT" | sed 's/^/  | /'
check "uninstall.cmd /purge exits 0 (got $UN_RC)" test "$UN_RC" = 0
set +e
wine_q sc query "$NAME" >/dev/null
Q_RC=$?
wine_q reg query "$REGKEY" >/dev/null
R_RC=$?
set -e
check "after uninstall sc query finds no service (exit $Q_RC)" test "$Q_RC" != 0
check "after uninstall the registry key $REGKEY is gone (reg query exit $R_RC)" test "$R_RC" != 0
set +e
wine_q reg query "$EVENT_KEY" >/dev/null
E_RC=$?
set -e
check "after uninstall the event source $EVENT_KEY is gone (reg query exit $E_RC)" test "$E_RC" != 0
check "after uninstall the program and data directories are gone" \
  bash -c "[ ! -e '$C/Program Files/$NAME' ] && [ ! -e '$C/ProgramData/$NAME' ]"

# --- 12. console mode: Ctrl-C from the console ---------------------------------------------------
# echo-daemon.exe started from a console, not by the SCM (the dispatcher declines, the daemon
# runs as a console program), by conctl.exe, which shares its console and sends
# GenerateConsoleCtrlEvent(CTRL_C_EVENT) as a user's Ctrl-C does. Its environment is wine's
# machine environment (the service's mirrored values; no startup delay here).
wine_q reg add "$SESSION_ENV" /v ECHO_STARTUP_DELAY /t REG_SZ /d 0s /f >/dev/null
CONSOLE_LOG="$C/ProgramData/$NAME/logs/$NAME.log"
# console_run NAME: conctl.exe running the .exe in a console backed by a pseudo-terminal
# (`script`; wine's GenerateConsoleCtrlEvent fails with error 12 in a console without one), its
# commands from the fifo $WORK/NAME.in (fd 7, console input: lines end with CR), its event lines
# in $WORK/NAME.out, the console's output in $WORK/NAME.console.
console_run() {
  local events_win
  rm -f "$WORK/$1.in" "$WORK/$1.out"
  mkfifo "$WORK/$1.in"
  events_win="Z:$(printf '%s' "$WORK/$1.out" | tr / '\\')"
  script -qfec "wine64 '$WIN_CACHE/support/conctl.exe' '$events_win' 'C:\\berth\\echo-daemon.exe'" /dev/null \
    <"$WORK/$1.in" >"$WORK/$1.console" 2>&1 &
  CONSOLE_PID=$!
  BG_PIDS+=("$CONSOLE_PID")
  exec 7>"$WORK/$1.in"
}
console_cmd() { printf '%s\r' "$1" >&7; }
# console_done SECONDS NAME: waits for the child's exit; the event lines without CRs (conctl
# writes text mode, CRLF).
console_done() {
  local rc=0
  wait_until "$1" 0.1 grep -q ' exited ' "$WORK/$2.out" || rc=1
  sed -i 's/\r$//' "$WORK/$2.out"
  return "$rc"
}
at() { awk -v w="$2" '$2==w {print $1; exit}' "$WORK/$1.out"; }
console_run console1
if wait_until 30 0.2 bash -c "[ \"\$(curl -s -m 2 -o /dev/null -w '%{http_code}' $ADMIN/readyz)\" = 200 ]"; then
  pass "console mode: $NAME.exe started from a console (not the SCM) is ready: $(head -n 1 "$WORK/console1.out")"
else
  fail "console mode: the .exe started from a console gets ready" "$(tr '\n' ';' <"$WORK/console1.out")"
fi
curl -s -m 30 -o /dev/null -w '%{http_code}' "$APP/slow?ms=$SLOW_MS" >"$WORK/console-slow.code" &
SLOW_PID=$!
BG_PIDS+=("$SLOW_PID")
sleep 0.3
T0=$(now_ms)
console_cmd c
after_stop_sent
console_cmd w
console_done 30 console1 || true
exec 7>&-
sed 's/^/  | conctl: /' "$WORK/console1.out"
SENT=$(at console1 sent)
EXITED_LINE=$(grep ' exited ' "$WORK/console1.out" || true)
check "console mode: conctl sent Ctrl-C with GenerateConsoleCtrlEvent (line: $(grep -m1 -E ' (sent|send-failed) ' "$WORK/console1.out"))" test -n "$SENT"
check "console mode: /readyz 503 ${FIRST_503:-never} ms after Ctrl-C" test -n "$FIRST_503"
check "console mode: the in-flight request (${SLOW_MS} ms) completed with $(cat "$WORK/console-slow.code" 2>/dev/null) ${SLOW_DONE} ms after Ctrl-C" \
  test "$(cat "$WORK/console-slow.code" 2>/dev/null)" = 200
E_MS=$(printf '%s' "$EXITED_LINE" | awk '{print $1}')
check "console mode: exit code 0 after the drain, $((${E_MS:-0} - ${SENT:-0})) ms after Ctrl-C ($EXITED_LINE)" \
  test "$(printf '%s' "$EXITED_LINE" | awk '{print $3}')" = 0
check "console mode: the log has the Ctrl-C ('shutdown signal received; draining signal=...')" \
  grep -q 'shutdown signal received; draining' "$CONSOLE_LOG"

# A second Ctrl-C during the drain exits at once (130, as a second SIGINT on Linux).
console_run console2
wait_until 30 0.2 bash -c "[ \"\$(curl -s -m 2 -o /dev/null -w '%{http_code}' $ADMIN/readyz)\" = 200 ]" || true
curl -s -m 60 -o /dev/null "$APP/slow?ms=60000" &
BG_PIDS+=("$!")
sleep 0.3
console_cmd c
sleep 1
console_cmd c
console_cmd w
console_done 30 console2 || true
exec 7>&-
sed 's/^/  | conctl: /' "$WORK/console2.out"
SECOND=$(awk '$2=="sent" {n++; if (n==2) {print $1; exit}}' "$WORK/console2.out")
EXITED_LINE=$(grep ' exited ' "$WORK/console2.out" || true)
E_MS=$(printf '%s' "$EXITED_LINE" | awk '{print $1}')
if [ -n "$SECOND" ] && [ "$(printf '%s' "$EXITED_LINE" | awk '{print $3}')" = 130 ] &&
  [ $((E_MS - SECOND)) -lt 1500 ]; then
  pass "console mode: a second Ctrl-C during the drain exits at once: code 130, $((E_MS - SECOND)) ms after it (drain ${DRAIN_S}s not waited)"
else
  fail "console mode: a second Ctrl-C exits at once with 130" "second sent at ${SECOND:-never}; $EXITED_LINE"
fi

# --- summary ---------------------------------------------------------------------------------
timing "whole suite" $(($(now_ms) - T_SUITE))
printf '\necho-daemon.exe: %s bytes\n' "$EXE_SIZE"
for k in "${TIMING_ORDER[@]}"; do printf '%-60s %8d ms\n' "$k" "${TIMING[$k]}"; done
e2e_summary
