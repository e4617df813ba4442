#!/usr/bin/env bash
# Benchmarks of berth-sidecar (run by hand; not part of `cargo test`).
#
#   bash sidecar/bench/run.sh            # BENCH_DURATION=3s BENCH_CONNECTIONS=64 BENCH_ROUNDS=5
#
# Builds the test daemon in release mode and measures, on 127.0.0.1 with wrk:
#   1. /readyz (admin server) vs a bare axum handler returning 200 (plain hyper, no sidecar)
#   2. the app route served by Handle::serve (in-flight layer, drain) vs the same router bare
#   3. SIGTERM -> exit with no traffic and BERTH_PRE_STOP_DELAY=0s
#   4. idle RSS of the test daemon and of examples/echo-daemon (built here, or ECHO_DAEMON_BIN)
#   5. SIGTERM in the middle of a wrk run: failed requests among accepted connections
#      (A: wrk ends during the pre-stop delay; B: wrk outlives the listener)
# Prints a Markdown summary on stdout; raw wrk output goes to $OUT_DIR (default a temp dir).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

DURATION=${BENCH_DURATION:-3s}
CONNS=${BENCH_CONNECTIONS:-64}
ROUNDS=${BENCH_ROUNDS:-5}
THREADS=${BENCH_THREADS:-2}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/berth-sidecar-bench.XXXXXX)}
mkdir -p "$OUT_DIR"

log() { printf '[bench] %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

log "cargo build --release -p berth-sidecar --bin berth-sidecar-test-daemon"
cargo build --release -q -p berth-sidecar --bin berth-sidecar-test-daemon
BIN=target/release/berth-sidecar-test-daemon

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start_daemon NAME [ENV=VAL...] -- [ARGS...]: sets PID, ADMIN, APP, BARE
start_daemon() {
  local name=$1; shift
  local envs=()
  while (($#)) && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  local out="$OUT_DIR/$name.out"
  env BERTH_ADMIN_ADDR=127.0.0.1:0 BERTH_PRE_STOP_DELAY=0s BERTH_DRAIN_TIMEOUT=10s RUST_LOG=warn \
    "${envs[@]}" "$BIN" --bare-addr 127.0.0.1:0 "$@" >"$out" 2>"$OUT_DIR/$name.err" &
  PID=$!
  PIDS+=("$PID")
  local i
  for i in $(seq 1 200); do
    if grep -q '^LISTENING' "$out" 2>/dev/null; then break; fi
    sleep 0.05
  done
  local line; line=$(grep -m1 '^LISTENING' "$out") || { log "daemon $name did not start"; exit 1; }
  ADMIN=$(sed -E 's/.*admin=([^ ]+).*/\1/' <<<"$line")
  APP=$(sed -E 's/.*app=([^ ]+).*/\1/' <<<"$line")
  BARE=$(sed -E 's/.*bare=([^ ]+).*/\1/' <<<"$line")
  for i in $(seq 1 200); do
    if curl -fsS -o /dev/null "http://$ADMIN/readyz"; then return 0; fi
    sleep 0.05
  done
  log "daemon $name never became ready"; exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

# rps URL LABEL: runs wrk against the daemon $PID; prints "req/s  daemon-CPU-µs-per-request".
# The CPU cost per request (utime+stime of the daemon / requests) is much less sensitive to
# other load on a shared machine than the throughput.
rps() {
  local file; file="$OUT_DIR/wrk-$2.txt"
  local t0 t1
  t0=$(cpu_ticks)
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$1" >"$file"
  t1=$(cpu_ticks)
  awk -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
    /requests in/ {n = $1}
    /^Requests\/sec/ {r = $2}
    END {printf "%s %.2f\n", r, ticks / hz * 1e6 / n}' "$file"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# abba URL_A URL_B LABEL: runs A B B A; prints "rps_ratio rps_A rps_B cost_ratio cpu_A cpu_B"
# where rps_ratio = A/B throughput and cost_ratio = B/A CPU per request (1.0 = same cost,
# 0.9 = A costs 11% more). Interleaving cancels the drift of a shared machine.
abba() {
  local a1 b1 b2 a2
  a1=$(rps "$1" "$3-a1"); b1=$(rps "$2" "$3-b1"); b2=$(rps "$2" "$3-b2"); a2=$(rps "$1" "$3-a2")
  awk -v a1="$a1" -v a2="$a2" -v b1="$b1" -v b2="$b2" 'BEGIN {
    split(a1, A1, " "); split(a2, A2, " "); split(b1, B1, " "); split(b2, B2, " ")
    ra = (A1[1] + A2[1]) / 2; rb = (B1[1] + B2[1]) / 2
    ca = (A1[2] + A2[2]) / 2; cb = (B1[2] + B2[2]) / 2
    printf "%.3f %.0f %.0f %.3f %.1f %.1f\n", ra / rb, ra, rb, cb / ca, ca, cb }'
}

start_daemon throughput --
log "daemon pid $PID admin=$ADMIN app=$APP bare=$BARE; wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS ABBA rounds"
R_RATIO=(); R_A=(); R_B=(); R_COST=(); R_CA=(); R_CB=()
P_RATIO=(); P_A=(); P_B=(); P_COST=(); P_CA=(); P_CB=()
for r in $(seq 1 "$ROUNDS"); do
  read -r ratio a b cost ca cb < <(abba "http://$ADMIN/readyz" "http://$BARE/ok" "readyz-$r")
  R_RATIO+=("$ratio"); R_A+=("$a"); R_B+=("$b"); R_COST+=("$cost"); R_CA+=("$ca"); R_CB+=("$cb")
  read -r ratio a b cost ca cb < <(abba "http://$APP/ok" "http://$BARE/ok" "app-$r")
  P_RATIO+=("$ratio"); P_A+=("$a"); P_B+=("$b"); P_COST+=("$cost"); P_CA+=("$ca"); P_CB+=("$cb")
  log "round $r: readyz/bare req/s ${R_RATIO[-1]} (${R_A[-1]} vs ${R_B[-1]}), cost ${R_COST[-1]} (${R_CA[-1]} vs ${R_CB[-1]} µs);" \
      "app/bare req/s ${P_RATIO[-1]} (${P_A[-1]} vs ${P_B[-1]}), cost ${P_COST[-1]} (${P_CA[-1]} vs ${P_CB[-1]} µs)"
done
RSS_AFTER_LOAD=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
kill -TERM "$PID"; wait "$PID" || true

med() { printf '%s\n' "$@" | median; }

log "SIGTERM -> exit, idle, zero pre-stop delay (10 runs)"
exits=(); rss=()
for r in $(seq 1 10); do
  start_daemon "exit-$r" --
  sleep 0.5
  rss+=("$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")")
  t0=$(date +%s%N)
  kill -TERM "$PID"
  code=0; wait "$PID" || code=$?
  t1=$(date +%s%N)
  [ "$code" = 0 ] || { log "exit code $code"; exit 1; }
  exits+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b-a)/1e6}')")
done
m_exit=$(printf '%s\n' "${exits[@]}" | median)
max_exit=$(printf '%s\n' "${exits[@]}" | sort -g | tail -1)
m_rss=$(printf '%s\n' "${rss[@]}" | median)

echo_rss="n/a"
if [ -z "${ECHO_DAEMON_BIN:-}" ] && [ -f examples/echo-daemon/Cargo.toml ]; then
  log "cargo build --release -p echo-daemon"
  if cargo build --release -q -p echo-daemon; then
    ECHO_DAEMON_BIN=target/release/echo-daemon
  else
    log "echo-daemon does not build; its RSS is skipped"
  fi
fi
if [ -n "${ECHO_DAEMON_BIN:-}" ] && [ -x "${ECHO_DAEMON_BIN}" ]; then
  erss=()
  for r in 1 2 3; do
    env -u BERTH_CONFIG_FILE BERTH_ADMIN_ADDR=127.0.0.1:0 BERTH_PRE_STOP_DELAY=0s ECHO_LISTEN=127.0.0.1:0 RUST_LOG=warn \
      "$ECHO_DAEMON_BIN" >"$OUT_DIR/echo-$r.out" 2>&1 &
    EPID=$!; PIDS+=("$EPID"); sleep 1
    erss+=("$(awk '/VmRSS/ {print $2}' "/proc/$EPID/status")")
    kill -TERM "$EPID"; wait "$EPID" || true
  done
  echo_rss=$(printf '%s\n' "${erss[@]}" | median)
  echo_rss="**$(awk -v k="$echo_rss" 'BEGIN {printf "%.1f", k/1024}') MiB** (median of 3, 1 s after start)"
fi

# midrun NAME PRE_STOP WRK_SECONDS SIGNAL_AT: sets MID_* from the wrk report and exit code
midrun() {
  start_daemon "$1" BERTH_PRE_STOP_DELAY="$2" BERTH_DRAIN_TIMEOUT=5s --
  local report="$OUT_DIR/wrk-$1.txt"
  wrk -t"$THREADS" -c"$CONNS" -d"$3" "http://$APP/" >"$report" &
  local wrk_pid=$!
  sleep "$4"
  kill -TERM "$PID"
  MID_CODE=0; wait "$PID" || MID_CODE=$?
  wait "$wrk_pid" || true
  MID_TOTAL=$(awk '/requests in/ {print $1}' "$report")
  [ -n "$MID_TOTAL" ] || { log "wrk failed: $(head -3 "$report")"; exit 1; }
  local errors; errors=$(grep -m1 'Socket errors' "$report" || echo "Socket errors: connect 0, read 0, write 0, timeout 0")
  MID_NON2XX=$(awk '/Non-2xx/ {print $NF}' "$report"); MID_NON2XX=${MID_NON2XX:-0}
  MID_CONNECT=$(sed -E 's/.*connect ([0-9]+).*/\1/' <<<"$errors")
  MID_READ=$(sed -E 's/.*read ([0-9]+).*/\1/' <<<"$errors")
  MID_WRITE=$(sed -E 's/.*write ([0-9]+).*/\1/' <<<"$errors")
  MID_TIMEOUT=$(sed -E 's/.*timeout ([0-9]+).*/\1/' <<<"$errors")
}

log "SIGTERM mid-run A: signal at 1s, pre-stop 4s, wrk 4s (ends while the listener is still open)"
midrun midrun-a 4s 4s 1
A="${MID_TOTAL} requests; non-2xx ${MID_NON2XX}; socket errors connect ${MID_CONNECT}, read ${MID_READ}, write ${MID_WRITE}, timeout ${MID_TIMEOUT}; exit ${MID_CODE}"
A_FAILED=$((MID_NON2XX + MID_CONNECT + MID_READ + MID_WRITE + MID_TIMEOUT + MID_CODE))

log "SIGTERM mid-run B: signal at 2s, pre-stop 2s, wrk 6s (listener closes at 4s)"
midrun midrun-b 2s 6s 2
B="${MID_TOTAL} requests; non-2xx ${MID_NON2XX}; read ${MID_READ}, timeout ${MID_TIMEOUT}; ${MID_WRITE} refused reconnects after the close (wrk counts them as write errors); exit ${MID_CODE}"
B_FAILED=$((MID_NON2XX + MID_READ + MID_TIMEOUT + MID_CODE))

cat <<EOF_MD
| Measurement | Result | Target |
|---|---|---|
| \`/readyz\` vs bare axum handler returning 200: throughput ratio (median of $ROUNDS ABBA rounds) | **$(med "${R_RATIO[@]}")** ($(med "${R_A[@]}") vs $(med "${R_B[@]}") req/s) | ≥ 0.9 |
| same, CPU-cost ratio (bare µs / readyz µs of daemon CPU per request) | **$(med "${R_COST[@]}")** ($(med "${R_CA[@]}") vs $(med "${R_CB[@]}") µs) | ≥ 0.9 |
| app route via \`Handle::serve\` vs the same router served bare: throughput ratio | **$(med "${P_RATIO[@]}")** ($(med "${P_A[@]}") vs $(med "${P_B[@]}") req/s) | ≥ 0.95 |
| same, CPU-cost ratio | **$(med "${P_COST[@]}")** ($(med "${P_CA[@]}") vs $(med "${P_CB[@]}") µs) | ≥ 0.95 |
| SIGTERM → exit, idle, pre-stop 0s (median / max of 10) | **$m_exit ms** / $max_exit ms | ≤ 20 ms |
| idle RSS, test daemon (median of 10) | **$(awk -v k="$m_rss" 'BEGIN {printf "%.1f", k/1024}') MiB** ($RSS_AFTER_LOAD KiB after the load runs) | ≤ 10 MiB |
| idle RSS, \`examples/echo-daemon\` | $echo_rss | ≤ 10 MiB |
| A: SIGTERM 1 s into a 4 s wrk run, pre-stop 4s (every response \`Connection: close\` after the signal) | $A | 0 failed |
| B: SIGTERM 2 s into a 6 s wrk run, pre-stop 2s (listener closes at 4 s) | $B | 0 failed |
EOF_MD
log "raw output in $OUT_DIR"
if [ "$A_FAILED" != 0 ] || [ "$B_FAILED" != 0 ]; then
  log "FAILED: requests failed during the drain"; exit 1
fi
