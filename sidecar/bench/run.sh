#!/usr/bin/env bash
# The berth-sidecar benchmark (run by hand; not a test, not part of CI's timing):
#
#   bash sidecar/bench/run.sh                  # about 5 minutes
#   BENCH_ROUNDS=1 BENCH_DURATION=1 BENCH_STOP_ROUNDS=1 bash sidecar/bench/run.sh   # smoke, < 1 min
#
# examples/echo-daemon (berth-sidecar) against the same routes served by bare axum
# (bench-bare-axum), tokio-graceful-shutdown (bench-tgs) and Go net/http with Shutdown
# (go-daemon/), side by side in one run: throughput, CPU per request, p50/p99 latency, idle and
# loaded RSS, idle stop time, and SIGTERM under load with and without a pre-stop delay.
# Each daemon runs pinned to CPU $BENCH_SERVER_CPU (default 0), the driver, wrk and the
# stop-test client on $BENCH_CLIENT_CPU (default 1). Settings: see src/main.rs. Tables go to
# stdout (Markdown), progress to stderr, raw samples to $OUT_DIR/samples.tsv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

log() { printf '[bench] %s\n' "$*" >&2; }

for tool in wrk taskset go; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run bash .ci/install-deps.sh"; exit 2; }
done
if [ "$(nproc --all)" -lt 2 ]; then
  log "needs 2 CPUs (one for the daemons, one for the load)"; exit 2
fi

log "cargo build --release -p echo-daemon -p berth-bench"
cargo build --release --locked -q -p echo-daemon -p berth-bench
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$TARGET/bench"
TARGET=$(cd "$TARGET" && pwd)
log "go build sidecar/bench/go-daemon"
(cd sidecar/bench/go-daemon && CGO_ENABLED=0 go build -trimpath -o "$TARGET/bench/bench-go-daemon" .)

exec taskset -c "${BENCH_CLIENT_CPU:-1}" "$TARGET/release/berth-bench" \
  --berth "$TARGET/release/echo-daemon" \
  --axum "$TARGET/release/bench-bare-axum" \
  --tgs "$TARGET/release/bench-tgs" \
  --go "$TARGET/bench/bench-go-daemon"
