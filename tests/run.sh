#!/usr/bin/env bash
# Runs every test of berth: unit, CLI and golden tests, the validation of generated files
# with the real tools, drift of the committed examples, the generator and cluster fault
# suites, and the Docker, systemd, Kubernetes (kwok), real-node (kubelet), Windows (wine) and
# multi-arch end-to-end suites (the runtime fault suite, sidecar/tests/faults.rs, runs in
# cargo test). It first installs the tools the suites need (idempotent).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PATH="$(go env GOPATH 2>/dev/null || echo /root/go)/bin:$PATH"
# Tool-backed tests fail instead of skipping when their tool is missing.
export BERTH_REQUIRE_TOOLS=1

t0=$(date +%s)
PHASES=()
PHASE_START=()
phase() {
  PHASES+=("$*")
  PHASE_START+=("$(date +%s)")
  printf '\n=== [%4ss] %s\n' "$(($(date +%s) - t0))" "$*"
}
# At exit (also after a failure): how long each phase took, the last one up to the exit.
phase_table() {
  local rc=$? i end n=${#PHASES[@]}
  printf '\n=== phase times (tests/run.sh, exit %s)\n' "$rc"
  for ((i = 0; i < n; i++)); do
    end=${PHASE_START[i + 1]:-$(date +%s)}
    ((i + 1 < n)) || [ "$rc" != 0 ] || break # the closing "all suites passed" marker
    printf '  %6ss  %s%s\n' "$((end - PHASE_START[i]))" "${PHASES[i]}" "$( ((i + 1 < n)) || echo ' (failed here)')"
  done
  printf '  %6ss  total\n' "$(($(date +%s) - t0))"
  return "$rc"
}
trap phase_table EXIT

phase "install tools (.ci/install-deps.sh)"
bash .ci/install-deps.sh

phase "cargo test --workspace"
cargo test --workspace --locked

phase "cargo doc (berth and berth-sidecar, warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc -p berth -p berth-sidecar --no-deps --locked

phase "examples/*/deploy are current (berth diff)"
cargo build --locked -q
for desc in examples/*/berth.yaml; do
  ./target/debug/berth diff -f "$desc"
done

phase "generated files under the real tools"
bash tests/validate-generated.sh

phase "generator faults: full and read-only file systems (tmpfs)"
bash tests/e2e/generator-faults.sh

phase "Docker end-to-end"
bash tests/e2e/docker.sh

phase "systemd end-to-end"
bash tests/e2e/systemd.sh

phase "Kubernetes end-to-end"
bash tests/e2e/k8s.sh

phase "real-node end-to-end (kubelet)"
bash tests/e2e/kubelet.sh

phase "cluster command faults (own API server, RBAC on)"
bash tests/e2e/cluster-faults.sh

phase "Windows end-to-end (installs its own toolchain and wine: tests/e2e/windows/setup.sh)"
bash tests/e2e/windows.sh

phase "multi-arch end-to-end (berth build, registry, qemu, CI workflow)"
bash tests/e2e/multiarch.sh

phase "all suites passed"
