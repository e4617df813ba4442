#!/usr/bin/env bash
# Where a request's CPU goes: perf profiles of examples/echo-daemon and the bare axum peer
# under the same wrk load (run by hand; needs `perf`, i.e. the linux-perf package, and a
# kernel that lets root sample: software `cpu-clock` events suffice, no PMU needed).
#
#   bash sidecar/bench/profile.sh            # /readyz and /echo, 5 s each, top symbols
#   PROFILE_SECONDS=10 PROFILE_TOP=60 bash sidecar/bench/profile.sh
#
# The binaries are built with symbols and frame pointers into target/bench-profile (the
# release profile otherwise strips them), so the first run compiles everything once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SECONDS_=${PROFILE_SECONDS:-5}
TOP=${PROFILE_TOP:-40}
OUT=${OUT_DIR:-$(mktemp -d /tmp/berth-bench-profile.XXXXXX)}
mkdir -p "$OUT"
log() { printf '[profile] %s\n' "$*" >&2; }
for tool in perf wrk taskset; do
  command -v "$tool" >/dev/null || { log "$tool is missing (perf: apt-get install linux-perf)"; exit 2; }
done

T=${PROFILE_TARGET_DIR:-$PWD/target/bench-profile}
log "building with symbols into $T"
CARGO_TARGET_DIR=$T CARGO_PROFILE_RELEASE_STRIP=none RUSTFLAGS="-Cforce-frame-pointers=yes" \
  cargo build --release --locked -q -p echo-daemon -p berth-bench --bin echo-daemon --bin bench-bare-axum

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

start() { # NAME -> sets APP ADMIN PID
  APP=127.0.0.1:$(port); ADMIN=127.0.0.1:$(port)
  case $1 in
    berth) env -u RUST_LOG -u BERTH_CONFIG_FILE ECHO_LISTEN=$APP BERTH_ADMIN_ADDR=$ADMIN BERTH_PRE_STOP_DELAY=0s \
             taskset -c 0 "$T/release/echo-daemon" >"$OUT/$1.log" 2>&1 & ;;
    axum) taskset -c 0 "$T/release/bench-bare-axum" --app "$APP" --admin "$ADMIN" >"$OUT/$1.log" 2>&1 & ;;
  esac
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 100); do curl -fs -o /dev/null "http://$ADMIN/readyz" && return 0; sleep 0.1; done
  log "$1 did not become ready"; exit 1
}

for name in berth axum; do
  start "$name"
  for route in readyz echo; do
    if [ "$route" = readyz ]; then url="http://$ADMIN/readyz"; else url="http://$APP/echo?msg=hello"; fi
    taskset -c 1 wrk -t1 -c32 -d1s "$url" >/dev/null
    data="$OUT/$name-$route.data"
    taskset -c 1 wrk -t1 -c32 -d"$((SECONDS_ + 1))"s "$url" >"$OUT/$name-$route.wrk" &
    wrk_pid=$!
    sleep 0.5
    perf record -q -e cpu-clock -F 2999 -g -p "$PID" -o "$data" -- sleep "$SECONDS_" 2>/dev/null
    wait "$wrk_pid"
    echo "## $name $route: $(grep Requests/sec "$OUT/$name-$route.wrk")"
    echo "samples by object (kernel, the binary, libc):"
    perf report -i "$data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -n 5 || true
    echo "user-space symbols:"
    perf report -i "$data" --no-children --sort symbol --stdio 2>/dev/null \
      | grep -E '^ +[0-9].*\[\.\]' | head -n "$TOP" || true
    echo
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true
done
log "perf data in $OUT (perf report -i FILE --children for call graphs)"
