#!/usr/bin/env bash
# Measures the figures of docs/benchmarks.md ("Container images (examples)") as a fresh CI
# machine sees them: drops BuildKit's build cache (layers and the cargo registry/target cache
# mounts; the locally made base images stay), then runs the Docker suite with
# BERTH_E2E_FIGURES=1 (adds the rebuild after a source-only change and the naive image).
#
#   bash tests/e2e/docker/figures.sh 2>&1 | tee /tmp/docker-figures.log
#
# It slows down the next build of anyone sharing this Docker engine; the suite itself never
# drops the cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
# shellcheck source=tests/e2e/lib/common.sh
source tests/e2e/lib/common.sh
ensure_dockerd
bash tests/e2e/docker/base-images.sh
e2e_log "dropping the BuildKit build cache (cold build)"
"$DOCKER" builder prune -af >/dev/null
printf 'machine: %s CPUs, %s, load average before: %s\n' "$(nproc)" \
  "$(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1e6 }' /proc/meminfo)" "$(cut -d' ' -f1-3 /proc/loadavg)"
BERTH_E2E_FIGURES=1 bash tests/e2e/docker.sh
