#!/usr/bin/env bash
# Real-node end-to-end suite: the generated charts on a real kubelet, where probes are sent,
# signals delivered and grace periods enforced (kwok, in tests/e2e/k8s.sh, fakes all three).
#
#   bash tests/e2e/kubelet.sh        # as root, after the Docker suite (tests/run.sh order)
#
# The node (tests/e2e/kubelet/node.sh): kubelet, kube-proxy (iptables) and the control plane
# of tests/e2e/k8s/build.sh (same K8S_VERSION, same Go caches), a private containerd 1.6 with
# runc and the bridge CNI plugin, and CoreDNS as the cluster DNS; everything on loopback or
# on the node's own bridge, every host change undone on exit (also on failure).
# The images are the ones the generated Dockerfiles build (as the Docker suite builds them),
# imported into the node's containerd; the objects are the generated Helm charts.
#
#  1. probes for real: startup 503 then 200, Ready only after; readiness and liveness succeed
#  2. a forced liveness failure restarts the container within the probe arithmetic
#  3. pod deletion: /readyz 503 at once, the request in flight completes, exit 0 within the
#     grace period; a drain that cannot finish exits 124 before the grace period runs out
#  4. rolling update under load through a kube-proxy ClusterIP: every request counted, 0
#     failed with the generated settings; the same with preStopDelay 0s, failures reported
#  5. node-agent's DaemonSet: one Ready pod, the host's /proc through its hostPath, rolled by
#     helm upgrade
#  6. a ConfigMap change reaches the pod (the kubelet's ..data swap), reloaded without restart
#  7. the security context, inside the running container
#  8. `helm test` (probe mode against the admin Service, through the cluster DNS)
#  9. `berth status --wait` exits 1 naming CrashLoopBackOff / an image pull failure
# 10. `berth debug`: an ephemeral busybox container attached to a daemon pod sees its processes
#
# Environment: K8S_VERSION and BERTH_K8S_BIN (as for tests/e2e/k8s/build.sh),
# BERTH_E2E_KEEP=1 (leave the node running; prints how to reach it and how to stop it).
# Prints PASS/FAIL per assertion with its measured figure, and `N passed, N failed`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$PWD
# shellcheck source=tests/e2e/lib/common.sh
source tests/e2e/lib/common.sh
# shellcheck source=tests/e2e/kubelet/node.sh
source tests/e2e/kubelet/node.sh

T0=$(now_ms)
phase() { printf '\n== [%6.1fs] %s\n' "$(awk -v a="$(now_ms)" -v b="$T0" 'BEGIN{print (a-b)/1000}')" "$*"; }
FIG=()
figure() {
  FIG+=("$(printf '%-64s %s' "$1" "$2")")
  printf 'figure: %-56s %s\n' "$1" "$2"
}

# The node runs the control plane's version (K8S_VERSION, build.sh's default unless set).
BIN=$(bash tests/e2e/k8s/build.sh --print-bin)
export BERTH_K8S_BIN=$BIN
NODE_WORK=$(mktemp -d /tmp/berth-e2e-kubelet.XXXXXX)
KUBECTL=$BIN/kubelet-kubectl-unset
NS=berth-node
IMAGES=()
BG_PIDS=()

cleanup() {
  local rc=$?
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "${BERTH_E2E_KEEP:-0}" = 1 ] && [ "$NODE_STARTED" = 1 ]; then
    e2e_log "node kept: KUBECONFIG=$KUBECONFIG; stop it with: bash -c 'source tests/e2e/lib/common.sh; source tests/e2e/kubelet/node.sh; NODE_WORK=$NODE_WORK BIN=$BIN KUBECTL=$KUBECTL NODE_STARTED=1; node_down'"
    exit "$rc"
  fi
  local t_down
  t_down=$(now_ms)
  node_down
  [ "$rc" != 0 ] || printf 'figure: %-56s %s\n' "teardown (pods stopped, host restored)" "$(secs $(($(now_ms) - t_down)))"
  local left
  left=$(node_leftovers)
  if [ -n "$left" ]; then
    printf 'FAIL: host changes left behind:\n%s\n' "$left" >&2
    [ "$rc" != 0 ] || rc=1
  fi
  for p in "${IMAGES[@]}"; do "$DOCKER" rmi "$p" >/dev/null 2>&1 || true; done
  # Only when nothing is mounted below it any more.
  if ! awk -v k="$NODE_WORK/" 'index($2, k) == 1 {f=1} END {exit !f}' /proc/self/mounts; then
    rm -rf --one-file-system "$NODE_WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- binaries ------------------------------------------------------------------------------------
phase "binaries: control plane, kubelet, kube-proxy, coredns (tests/e2e/k8s/build.sh)"
t=$(now_ms)
BUILD_ONLY="etcd kubernetes node coredns" bash tests/e2e/k8s/build.sh
figure "build.sh (etcd, control plane, node, coredns)" "$(secs $(($(now_ms) - t)))"
KUBECTL=$BIN/kubectl
K8S_NODE_VERSION=$(cat "$BIN/.kubelet.version")
GOBIN_DIR=$(go env GOPATH 2>/dev/null || echo /root/go)/bin
export PATH="$BIN:$GOBIN_DIR:$PATH"
HELM=$(command -v helm) || e2e_die "helm not found (bash .ci/install-deps.sh installs it)"
for tool in containerd ctr runc openssl iptables curl jq gcc; do
  command -v "$tool" >/dev/null || e2e_die "$tool not found (bash .ci/install-deps.sh installs it)"
done
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] || e2e_die "CNI plugins missing (apt containernetworking-plugins)"
[ -x /bin/busybox ] || e2e_die "/bin/busybox missing (apt busybox-static)"
cargo build --locked -q --bin berth
BERTH=$REPO/target/debug/berth

# ---- images ------------------------------------------------------------------------------------
phase "images: the generated Dockerfiles (as the Docker suite builds them), pause, busybox"
ensure_dockerd
bash tests/e2e/docker/base-images.sh >"$NODE_WORK/base-images.log" 2>&1 ||
  {
    tail -n 20 "$NODE_WORK/base-images.log" >&2
    e2e_die "base images failed"
  }
ECHO_IMAGE=ghcr.io/acme/echo-daemon
AGENT_IMAGE=ghcr.io/acme/node-agent
DEBUG_IMAGE=berth-e2e.local/busybox:1
# docker_build TAG DOCKERFILE: BuildKit, the repository root as context (cached layers make a
# second run quick).
docker_build() {
  local log=$NODE_WORK/build-${1//[\/:]/_}.log
  if timeout 1800 "$DOCKER" build --progress=plain -f "$2" -t "$1" "$REPO" >"$log" 2>&1; then
    IMAGES+=("$1")
  else
    tail -n 30 "$log" >&2
    e2e_die "docker build $1 failed"
  fi
}
# docker_import_files TAG ENTRYPOINT DIR: an image of exactly DIR's files.
docker_import_files() {
  tar -C "$3" -c . | "$DOCKER" import --change "ENTRYPOINT $2" - "$1" >/dev/null
  IMAGES+=("$1")
}
t=$(now_ms)
docker_build "$ECHO_IMAGE:0.1.0" examples/echo-daemon/deploy/docker/Dockerfile
docker_build "$AGENT_IMAGE:0.1.0" examples/node-agent/deploy/docker/Dockerfile
# The rollouts change the tag (the same image under another name rolls the pods).
for tag in 0.2.0 0.3.0; do
  "$DOCKER" tag "$ECHO_IMAGE:0.1.0" "$ECHO_IMAGE:$tag" && IMAGES+=("$ECHO_IMAGE:$tag")
done
"$DOCKER" tag "$AGENT_IMAGE:0.1.0" "$AGENT_IMAGE:0.2.0" && IMAGES+=("$AGENT_IMAGE:0.2.0")
# The sandbox's pause process, from the Kubernetes module's own source (no registry here).
pause_c=$BERTH_E2E_CACHE/go/mod/k8s.io/kubernetes@$K8S_NODE_VERSION/build/pause/linux/pause.c
[ -f "$pause_c" ] || e2e_die "$pause_c missing (build.sh downloads the module)"
mkdir -p "$NODE_WORK/img/pause" "$NODE_WORK/img/busybox/bin"
gcc -Os -static -o "$NODE_WORK/img/pause/pause" "$pause_c" && strip "$NODE_WORK/img/pause/pause"
docker_import_files "$PAUSE_IMAGE" '["/pause"]' "$NODE_WORK/img/pause"
# The debug image: Debian's static busybox and its applets.
cp /bin/busybox "$NODE_WORK/img/busybox/bin/busybox"
for a in sh ps ls cat id; do ln -s busybox "$NODE_WORK/img/busybox/bin/$a"; done
docker_import_files "$DEBUG_IMAGE" '["/bin/sh"]' "$NODE_WORK/img/busybox"
"$DOCKER" save -o "$NODE_WORK/images.tar" "${IMAGES[@]}"
figure "images built and saved ($(du -m "$NODE_WORK/images.tar" | cut -f1) MB)" "$(secs $(($(now_ms) - t)))"

# ---- the node ------------------------------------------------------------------------------------
phase "the node: containerd, control plane, kubelet $K8S_NODE_VERSION, kube-proxy, coredns"
t=$(now_ms)
node_up
pass "node $NODE_NAME Ready: kubelet $("$BIN/kubelet" --version | awk '{print $2}'), API server $("$KUBECTL" version -o json | jq -r .serverVersion.gitVersion), $(containerd --version | awk '{print $3}'), cgroup $(stat -fc %T /sys/fs/cgroup | sed 's/tmpfs/v1/;s/cgroup2fs/v2/') (node Ready $(secs "$NODE_READY_MS") after kubelet start)"
figure "node up (containerd, control plane, kubelet, kube-proxy, DNS)" "$(secs $(($(now_ms) - t)))"
# (the list is read whole: `ctr ... | grep -q` would fail under pipefail when grep stops early)
NODE_IMAGES=$(ctr_k8s images ls -q)
for img in "$ECHO_IMAGE:0.1.0" "$ECHO_IMAGE:0.2.0" "$ECHO_IMAGE:0.3.0" "$AGENT_IMAGE:0.1.0" "$AGENT_IMAGE:0.2.0" "$PAUSE_IMAGE" "$DEBUG_IMAGE"; do
  grep -qx "docker.io/$img\|$img" <<<"$NODE_IMAGES" || e2e_die "image $img not in the node's containerd"
done

# ---- helpers -------------------------------------------------------------------------------------
kc() { "$KUBECTL" --request-timeout=30s "$@"; }
H() { timeout 300 "$HELM" -n "$NS" "$@"; }
sel() { echo "app.kubernetes.io/instance=$1"; }
# live_pods SELECTOR: names of the pods not being deleted, sorted.
live_pods() {
  kc -n "$NS" get pods -l "$1" -o json |
    jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name' | sort
}
ready_count() {
  kc -n "$NS" get pods -l "$1" -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null)
         | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length'
}
# settled SELECTOR COUNT IMAGE: exactly COUNT pods (none terminating), all Ready, all on IMAGE.
settled() {
  local j
  j=$(kc -n "$NS" get pods -l "$1" -o json) || return 1
  [ "$(jq '.items | length' <<<"$j")" -eq "$2" ] &&
    [ "$(jq '[.items[] | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length' <<<"$j")" -eq "$2" ] &&
    [ "$(jq -r '[.items[].spec.containers[0].image] | unique | join(" ")' <<<"$j")" = "$3" ]
}
pod_ip() { kc -n "$NS" get pod "$1" -o jsonpath='{.status.podIP}'; }
restarts() { kc -n "$NS" get pod "$1" -o jsonpath='{.status.containerStatuses[0].restartCount}'; }
# host_pid POD: the daemon's pid as the host sees it (containerd task of the container).
host_pid() {
  local id
  id=$(kc -n "$NS" get pod "$1" -o jsonpath='{.status.containerStatuses[0].containerID}')
  ctr_k8s tasks ls | awk -v id="${id#containerd://}" '$1 == id {print $2}'
}
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time "${2:-5}" "$1"; }
body_is() { [ "$(curl -s --max-time 5 "$1")" = "$2" ]; }
metric() { # URL SAMPLE
  curl -s --max-time 5 "$1" | awk -v m="$2" '$1 == m { print $2; found = 1; exit } END { exit !found }'
}
# klog_ms LINE: the klog timestamp of a kubelet log line, in ms since midnight.
klog_ms() { awk '{ split($2, t, /[:.]/); printf "%d\n", ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + substr(t[4], 1, 3) }' <<<"$1"; }
KLOG=$NODE_WORK/logs/kubelet.log

# ---- 1. probes -----------------------------------------------------------------------------------
phase "1. probes for real (echo-daemon, start-up delayed 4 s)"
CHART=$REPO/examples/echo-daemon/deploy/helm/echo-daemon
AGENT_CHART=$REPO/examples/node-agent/deploy/helm/node-agent
# ECHO_STARTUP_DELAY: /startupz and /readyz answer 503 for 4 s after start; ECHO_DEBUG: the
# /debug/* switches the points below use.
cat >"$NODE_WORK/echo-values.yaml" <<'EOF'
env:
  - {name: RUST_LOG, value: info}
  - {name: ECHO_DEBUG, value: "true"}
  - {name: ECHO_STARTUP_DELAY, value: 4s}
EOF
t=$(now_ms)
H install echo-daemon "$CHART" --create-namespace -f "$NODE_WORK/echo-values.yaml" >"$NODE_WORK/helm.log" 2>&1 ||
  e2e_die "helm install echo-daemon: $(tail -n 3 "$NODE_WORK/helm.log")"
ECHO_SEL=$(sel echo-daemon)
if wait_until 180 0.2 settled "$ECHO_SEL" 2 "$ECHO_IMAGE:0.1.0"; then
  ready_ms=$(($(now_ms) - t))
  pass "helm install: 2 echo-daemon pods Ready $(secs "$ready_ms") after install"
  figure "echo-daemon: helm install → 2 pods Ready (start-up delay 4 s)" "$(secs "$ready_ms")"
else
  kc -n "$NS" get pods -o wide >&2 || true
  grep -E '^E' "$KLOG" | tail -n 10 >&2
  e2e_die "echo-daemon pods not Ready within 180 s"
fi
mapfile -t PODS < <(live_pods "$ECHO_SEL")
POD_A=${PODS[0]}
POD_B=${PODS[1]}
for p in "$POD_A" "$POD_B"; do
  fails=$(grep -c "\"Probe failed\" probeType=\"Startup\" pod=\"$NS/$p\".*statuscode: 503" "$KLOG" || true)
  first_fail=$(grep -m1 "\"Probe failed\" probeType=\"Startup\" pod=\"$NS/$p\"" "$KLOG" || true)
  ok=$(grep -m1 "\"Probe succeeded\" probeType=\"Startup\" pod=\"$NS/$p\"" "$KLOG" || true)
  ready_ok=$(grep -m1 "\"Probe succeeded\" probeType=\"Readiness\" pod=\"$NS/$p\"" "$KLOG" || true)
  # The pod's Ready condition may only come after the startup probe's success.
  cond=$(kc -n "$NS" get pod "$p" -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')
  if [ "$fails" -ge 1 ] && [ -n "$ok" ] && [ -n "$ready_ok" ]; then
    d_ok=$(($(klog_ms "$ok") - $(klog_ms "$first_fail")))
    d_ready=$(($(klog_ms "$ready_ok") - $(klog_ms "$ok")))
    pass "$p: kubelet's startup probe saw 503 $fails× on /startupz, then 200 ($(secs "$d_ok") after the first 503); readiness probe 200 $(secs "$d_ready") after that; Ready since $cond"
    if [ "$p" = "$POD_A" ]; then
      figure "startup probe: first 503 → 200 (delay 4 s, period 2 s)" "$(secs "$d_ok")"
      figure "startup probe 200 → readiness probe 200" "$(secs "$d_ready")"
    fi
  else
    fail "$p: startup probe 503 then 200, then readiness" "503s=$fails startup-ok='${ok:0:80}' readiness-ok='${ready_ok:0:80}'"
  fi
done
ev=$(kc -n "$NS" get events --field-selector reason=Unhealthy -o json |
  jq -r '[.items[] | select(.message | test("Startup probe failed: HTTP probe failed with statuscode: 503"))] | length')
if [ "$ev" -ge 1 ]; then
  pass "events: $ev 'Startup probe failed: HTTP probe failed with statuscode: 503' (Unhealthy) from the kubelet"
else
  fail "Unhealthy events for the startup 503s" "none"
fi
live_seen() { grep -q "\"Probe succeeded\" probeType=\"Liveness\" pod=\"$NS/$POD_A\"" "$KLOG"; }
if wait_until 30 0.5 live_seen; then
  pass "$POD_A: liveness probe (GET /livez, period 10 s) succeeded (kubelet log)"
else
  fail "$POD_A: liveness probe succeeded" "no 'Probe succeeded' probeType=Liveness within 30 s"
fi

# ---- 7. security context -----------------------------------------------------------------------
phase "7. security context inside the running container ($POD_A)"
IP_A=$(pod_ip "$POD_A")
PID_A=$(host_pid "$POD_A")
[ -n "$PID_A" ] || e2e_die "no host pid for $POD_A"
st=/proc/$PID_A/status
check "$POD_A: uid/gid 65532 (real, effective, saved, fs: $(awk '/^Uid:/{print $2"/"$3"/"$4"/"$5}' "$st"))" \
  grep -qE '^Uid:\s+65532\s+65532\s+65532\s+65532$' "$st"
check "$POD_A: no capabilities (CapEff $(awk '/^CapEff:/{print $2}' "$st"), CapPrm $(awk '/^CapPrm:/{print $2}' "$st"), CapBnd $(awk '/^CapBnd:/{print $2}' "$st"))" \
  bash -c "grep -qx 'CapEff:\s*0000000000000000' '$st' && grep -qx 'CapPrm:\s*0000000000000000' '$st'"
check "$POD_A: no privilege escalation (NoNewPrivs $(awk '/^NoNewPrivs:/{print $2}' "$st")), seccomp filter on (Seccomp $(awk '/^Seccomp:/{print $2}' "$st"))" \
  bash -c "grep -qx 'NoNewPrivs:\s*1' '$st' && grep -qx 'Seccomp:\s*2' '$st'"
wr=$(curl -s --max-time 5 -X POST -w ' %{http_code}' "http://$IP_A:8080/debug/write?path=/berth-e2e-write")
if [[ $wr == *"Read-only file system"*" 500" ]]; then
  pass "$POD_A: a write to / fails inside the container ($wr)"
else
  fail "$POD_A: read-only root file system" "write answered '$wr'"
fi
check "$POD_A: root file system mounted ro (/proc/$PID_A/mountinfo)" \
  bash -c "awk '\$5 == \"/\" {print \$6}' /proc/$PID_A/mountinfo | grep -q '^ro'"
# (mountinfo, not a path under /proc/PID/root: /var/run is an absolute symlink there)
check "$POD_A: no service-account token mounted in the container (automountServiceAccountToken false)" \
  bash -c "! grep -q 'serviceaccount' /proc/$PID_A/mountinfo && [ \"\$('$KUBECTL' -n $NS get pod $POD_A -o jsonpath='{.spec.automountServiceAccountToken}')\" = false ]"

# ---- 10. remote debugging ---------------------------------------------------------------------
phase "10. berth debug: an ephemeral container in a running pod"
t=$(now_ms)
if timeout 120 "$BERTH" debug -f examples/echo-daemon/berth.yaml -n "$NS" --image "$DEBUG_IMAGE" -- ps >"$NODE_WORK/debug.out" 2>"$NODE_WORK/debug.err"; then
  dbg_ms=$(($(now_ms) - t))
  dbg_pod=$(sed -n 's/^berth: debugging pod \([^ ]*\) .*/\1/p' "$NODE_WORK/debug.err" | sed -n 1p)
  # What the debug container printed, from its log: kubectl streams only what comes after it
  # attached, and `ps` may be done by then.
  dbg_c=$(kc -n "$NS" get pod "$dbg_pod" -o json |
    jq -r '[.spec.ephemeralContainers[]? | select(.targetContainerName == "echo-daemon")] | last | .name // empty')
  dbg_done() {
    [ -n "$dbg_c" ] && kc -n "$NS" get pod "$dbg_pod" -o json |
      jq -e --arg c "$dbg_c" '.status.ephemeralContainerStatuses[]? | select(.name == $c) | .state.terminated' >/dev/null
  }
  wait_until 30 0.5 dbg_done || true
  kc -n "$NS" logs "$dbg_pod" -c "${dbg_c:-none}" >"$NODE_WORK/debug.log" 2>&1 || true
  if grep -q '/usr/local/bin/echo-daemon' "$NODE_WORK/debug.log"; then
    pass "berth debug: ephemeral container $dbg_c ($DEBUG_IMAGE) in $dbg_pod, target echo-daemon, saw the daemon's process ($(secs "$dbg_ms")): $(grep '/usr/local/bin/echo-daemon' "$NODE_WORK/debug.log" | sed -n 1p | tr -s ' ')"
  else
    fail "berth debug sees the daemon's processes" "container '${dbg_c:-none}' in '${dbg_pod:-?}': $(head -c 400 "$NODE_WORK/debug.log" "$NODE_WORK/debug.err" | tr '\n' ' ')"
  fi
else
  fail "berth debug" "$(tail -n 5 "$NODE_WORK/debug.err" | tr '\n' ' ')"
fi

# ---- 2. liveness -------------------------------------------------------------------------------
phase "2. liveness: a forced failure restarts the container ($POD_B)"
IP_B=$(pod_ip "$POD_B")
r0=$(restarts "$POD_B")
LP=10 LF=3 # the chart's livenessProbe periodSeconds and failureThreshold
[ "$(kc -n "$NS" get pod "$POD_B" -o jsonpath='{.spec.containers[0].livenessProbe.periodSeconds}/{.spec.containers[0].livenessProbe.failureThreshold}')" = "$LP/$LF" ] ||
  fail "liveness probe settings are $LP s × $LF"
t_flip=$(now_ms)
curl -s --max-time 5 -X POST "http://$IP_B:8080/debug/liveness?fail=true" >/dev/null
# The daemon's own `debug` liveness check runs every 10 s and fails /livez after 2 failures;
# from the first 503 on, the kubelet's arithmetic applies.
live_503() { [ "$(http_code "http://$IP_B:9090/livez" 1)" = 503 ]; }
wait_until 40 0.2 live_503 || fail "/livez 503 after the liveness switch" "still $(http_code "http://$IP_B:9090/livez" 1) after 40 s"
t_503=$(now_ms)
restarted() { [ "$(restarts "$POD_B")" -gt "$r0" ] && [ "$(kc -n "$NS" get pod "$POD_B" -o jsonpath='{.status.containerStatuses[0].ready}')" = true ]; }
if wait_until 120 0.5 restarted; then
  rs_ms=$(($(now_ms) - t_flip))
  kill_line=$(grep -m1 "pod=\"$NS/$POD_B\".*failed liveness probe, will be restarted" "$KLOG" || true)
  last=$(kc -n "$NS" get pod "$POD_B" -o jsonpath='{.status.containerStatuses[0].lastState.terminated.exitCode}/{.status.containerStatuses[0].lastState.terminated.reason}')
  ev=$(kc -n "$NS" get events --field-selector "involvedObject.name=$POD_B,reason=Killing" -o jsonpath='{.items[*].message}')
  # The kubelet gives up after failureThreshold failures a period apart; the first comes
  # within a period of the switch: at most LP × LF s (+ the probe's 2 s timeout).
  detect_ms=-1
  [ -z "$kill_line" ] || detect_ms=$(($(klog_ms "$kill_line") - t_503 % 86400000))
  if [ "$detect_ms" -ge 0 ] && [ "$detect_ms" -le $(((LP * LF + 2) * 1000)) ] && [[ $ev == *"failed liveness probe"* ]] &&
    [ "$last" = 0/Completed ]; then
    pass "liveness: /livez 503 $(secs $((t_503 - t_flip))) after the switch (the daemon's check: 10 s × 2); the kubelet gave up on it $(secs "$detect_ms") later (bound ${LP} s × $LF + 2 s), stopped the container gracefully (last state exit 0/Completed) and restarted it: restartCount $r0 → $(restarts "$POD_B"), Ready again $(secs "$rs_ms") after the switch; event: $ev"
    figure "liveness: /livez 503 → kubelet kills the container" "$(secs "$detect_ms")"
    figure "liveness: switch flipped → restarted container Ready" "$(secs "$rs_ms")"
  else
    fail "liveness restart within the probe arithmetic" "detected after ${detect_ms} ms; last state $last; event '$ev'; kubelet '${kill_line:0:120}'"
  fi
else
  fail "liveness: container restarted" "restartCount still $(restarts "$POD_B") after 120 s"
fi

# ---- 6. config reload --------------------------------------------------------------------------
phase "6. config reload through the ConfigMap (helm upgrade with new config)"
rc_before="$(restarts "$POD_A") $(restarts "$POD_B")"
cat >"$NODE_WORK/echo-config.yaml" <<'EOF'
config:
  content: |
    greeting = "kubelet"
EOF
t=$(now_ms)
H upgrade echo-daemon "$CHART" --reuse-values -f "$NODE_WORK/echo-config.yaml" >>"$NODE_WORK/helm.log" 2>&1 ||
  fail "helm upgrade with new config" "$(tail -n 3 "$NODE_WORK/helm.log")"
both_new() { body_is "http://$IP_A:8080/echo?msg=hi" "kubelet hi" && body_is "http://$IP_B:8080/echo?msg=hi" "kubelet hi"; }
if wait_until 150 0.5 both_new; then
  cfg_ms=$(($(now_ms) - t))
  rc_after="$(restarts "$POD_A") $(restarts "$POD_B")"
  pods_now=$(live_pods "$ECHO_SEL" | tr '\n' ' ')
  rl_a=$(metric "http://$IP_A:9090/metrics" echo_config_reloads_total || echo 0)
  rl_b=$(metric "http://$IP_B:9090/metrics" echo_config_reloads_total || echo 0)
  if [ "$rc_after" = "$rc_before" ] && [ "$pods_now" = "$POD_A $POD_B " ] && [ "${rl_a%.*}" -ge 1 ] && [ "${rl_b%.*}" -ge 1 ]; then
    pass "config reload: both pods answer 'kubelet hi' $(secs "$cfg_ms") after helm upgrade, same pods, restartCounts unchanged ($rc_after), echo_config_reloads_total $rl_a/$rl_b"
    figure "ConfigMap change → served by both pods (kubelet sync + reload)" "$(secs "$cfg_ms")"
  else
    fail "config reload without restart" "restarts $rc_before → $rc_after, pods $pods_now, reloads $rl_a/$rl_b"
  fi
else
  fail "config reload reaches the pods" "still '$(curl -s --max-time 5 "http://$IP_A:8080/echo?msg=hi")' after 150 s"
fi
grep -q 'config reloaded' <(kc -n "$NS" logs "$POD_A" 2>/dev/null) &&
  pass "$POD_A log: 'config reloaded' (kubectl logs through the API server and the kubelet)" ||
  fail "$POD_A log line 'config reloaded'"

# ---- 8. helm test ----------------------------------------------------------------------------
phase "8. helm test (probe mode against the admin Service, via the cluster DNS)"
t=$(now_ms)
if H test echo-daemon --timeout 2m >"$NODE_WORK/helm-test.log" 2>&1 && grep -q 'Phase:\s*Succeeded' "$NODE_WORK/helm-test.log"; then
  pass "helm test echo-daemon: test pod $(sed -n 's/^TEST SUITE: *//p' "$NODE_WORK/helm-test.log") Succeeded, --berth-probe readyz against echo-daemon-admin:9090 resolved by the cluster DNS ($(secs $(($(now_ms) - t))))"
else
  fail "helm test" "$(tail -n 6 "$NODE_WORK/helm-test.log" | tr '\n' ' ')"
fi

# ---- 3. stop -----------------------------------------------------------------------------------
phase "3. pod deletion: readiness, drain, exit code, grace"
GRACE=$(kc -n "$NS" get pod "$POD_A" -o jsonpath='{.spec.terminationGracePeriodSeconds}')
# delete_with_request POD SLOW_MS: deletes POD with GET /slow?ms=SLOW_MS in flight; sets
# DEL_MS (delete → pod gone), NOTREADY_MS (delete → /readyz 503), SLOW_OUT, EXIT_CODE.
delete_with_request() {
  local pod=$1 slow=$2 ip t_del
  ip=$(pod_ip "$pod")
  timeout $((GRACE + 60)) "$KUBECTL" -n "$NS" get pod "$pod" -w -o json >"$NODE_WORK/watch-$pod.json" 2>/dev/null &
  local wpid=$!
  BG_PIDS+=("$wpid")
  curl -s -w ' %{http_code}' --max-time $((GRACE + 30)) "http://$ip:8080/slow?ms=$slow" >"$NODE_WORK/slow-$pod.out" 2>&1 &
  local cpid=$!
  BG_PIDS+=("$cpid")
  sleep 0.5
  t_del=$(now_ms)
  kc -n "$NS" delete pod "$pod" --wait=false >/dev/null
  NOTREADY_MS=-1
  local i code
  for i in $(seq 1 100); do
    code=$(http_code "http://$ip:9090/readyz" 1)
    if [ "$code" = 503 ]; then
      NOTREADY_MS=$(($(now_ms) - t_del))
      break
    fi
    sleep 0.05
  done
  gone() { ! kc -n "$NS" get pod "$1" >/dev/null 2>&1; }
  wait_until $((GRACE + 30)) 0.2 gone "$pod" || true
  DEL_MS=$(($(now_ms) - t_del))
  wait "$cpid" 2>/dev/null || true
  sleep 0.5
  kill "$wpid" 2>/dev/null || true
  SLOW_OUT=$(cat "$NODE_WORK/slow-$pod.out")
  EXIT_CODE=$(jq -rs '[.[] | .status.containerStatuses[]? | .state.terminated.exitCode // empty] | last // "none"' "$NODE_WORK/watch-$pod.json")
}
delete_with_request "$POD_A" 8000
if [ "$NOTREADY_MS" -ge 0 ] && [ "$NOTREADY_MS" -le 1500 ]; then
  pass "delete $POD_A: /readyz 503 $(secs "$NOTREADY_MS") after the delete (SIGTERM)"
else
  fail "delete: /readyz 503 at once" "readyz 503 after ${NOTREADY_MS} ms"
fi
check "delete $POD_A: the request in flight (GET /slow?ms=8000) completed: '$SLOW_OUT'" test "$SLOW_OUT" = "slept 8000 ms 200"
if [ "$EXIT_CODE" = 0 ] && [ "$DEL_MS" -lt $((GRACE * 1000)) ]; then
  pass "delete $POD_A: container exit code 0, pod gone $(secs "$DEL_MS") after delete (terminationGracePeriodSeconds $GRACE)"
  figure "kubectl delete pod with an 8 s request in flight → pod gone" "$(secs "$DEL_MS")"
else
  fail "delete: exit 0 within the grace period" "exit code $EXIT_CODE, gone after $(secs "$DEL_MS") (grace $GRACE s)"
fi
# A drain that cannot finish: a request longer than preStopDelay 5 s + drainTimeout 20 s.
wait_until 90 0.5 settled "$ECHO_SEL" 2 "$ECHO_IMAGE:0.1.0" || fail "Deployment back to 2 Ready pods"
POD_C=$(live_pods "$ECHO_SEL" | grep -v -x "$POD_B" | sed -n 1p)
delete_with_request "$POD_C" 60000
if [ "$EXIT_CODE" = 124 ] && [ "$DEL_MS" -lt $((GRACE * 1000)) ] && [ "$DEL_MS" -ge 24000 ]; then
  pass "drain timeout: $POD_C exited 124 (DrainTimeout) $(secs "$DEL_MS") after delete: pre-stop 5 s + drain 20 s, before the $GRACE s grace (no SIGKILL)"
  figure "kubectl delete pod, drain cannot finish → exit 124" "$(secs "$DEL_MS")"
else
  fail "drain timeout → exit 124 before the grace period" "exit code $EXIT_CODE after $(secs "$DEL_MS") (grace $GRACE s)"
fi

# ---- 4. rolling update under load ----------------------------------------------------------------
phase "4. rolling update under load through the ClusterIP (kube-proxy, iptables)"
wait_until 90 0.5 settled "$ECHO_SEL" 2 "$ECHO_IMAGE:0.1.0" || fail "Deployment back to 2 Ready pods"
CIP=$(kc -n "$NS" get svc echo-daemon -o jsonpath='{.spec.clusterIP}')
URL="http://$CIP:8080/echo?msg=load"
wait_until 30 0.5 body_is "$URL" "kubelet load" || e2e_die "ClusterIP $CIP:8080 does not answer"
pass "Service echo-daemon: ClusterIP $CIP:8080 answers from the host through kube-proxy's iptables DNAT ($(iptables-save -t nat | grep -c -- "-A KUBE-SVC-.*-j KUBE-SEP-") KUBE-SVC → KUBE-SEP rules)"
LOAD_WORKERS=4
load_worker() { # LOG STOPFILE
  local deadline=$(($(date +%s) + 300)) t0 code rc
  while [ ! -e "$2" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    t0=$(date +%s%3N)
    rc=0
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL") || rc=$?
    echo "$t0 $(date +%s%3N) $rc $code" >>"$1"
  done
}
# rollout_under_load LABEL TAG: helm upgrade to TAG with the load running until the old pods
# are gone; sets TOTAL FAILED ROLL_MS and prints the failures.
rollout_under_load() {
  local label=$1 tag=$2 dir=$NODE_WORK/load-$1 i workers=()
  mkdir -p "$dir"
  for i in $(seq 1 $LOAD_WORKERS); do
    load_worker "$dir/w$i.log" "$dir/stop" &
    workers+=($!)
    BG_PIDS+=($!)
  done
  sleep 2
  local t
  t=$(now_ms)
  H upgrade echo-daemon "$CHART" --reuse-values --set image.tag="$tag" --wait --timeout 3m >>"$NODE_WORK/helm.log" 2>&1 ||
    fail "$label: helm upgrade --wait" "$(tail -n 3 "$NODE_WORK/helm.log")"
  wait_until 120 0.3 settled "$ECHO_SEL" 2 "$ECHO_IMAGE:$tag" || fail "$label: rollout settled on $tag"
  ROLL_MS=$(($(now_ms) - t))
  sleep 2
  touch "$dir/stop"
  wait "${workers[@]}" 2>/dev/null || true
  TOTAL=$(cat "$dir"/w*.log | wc -l)
  FAILED=$(cat "$dir"/w*.log | awk '!($3 == 0 && $4 == "200")' | wc -l)
  FAIL_KINDS=$(cat "$dir"/w*.log | awk '!($3 == 0 && $4 == "200") { k["curl " $3 " http " $4]++ } END { for (x in k) printf "%s×%d ", x, k[x] }')
}
rollout_under_load generated 0.2.0
if [ "$TOTAL" -ge 200 ] && [ "$FAILED" -eq 0 ]; then
  pass "rolling update 0.1.0 → 0.2.0 under load (generated settings: preStopDelay 5s, drainTimeout 20s): $TOTAL requests, 0 failed (rollout $(secs "$ROLL_MS"))"
else
  fail "rolling update under load, generated settings" "$FAILED of $TOTAL failed: $FAIL_KINDS"
fi
figure "rolling update, generated settings: requests / failed" "$TOTAL / $FAILED (rollout $(secs "$ROLL_MS"))"
GEN_TOTAL=$TOTAL GEN_FAILED=$FAILED
# The same rollout with the pre-stop delay removed (grace kept in step: 0 + 20 + 5 s).
H upgrade echo-daemon "$CHART" --reuse-values --set shutdown.preStopDelay=0s \
  --set shutdown.terminationGracePeriodSeconds=25 --wait --timeout 3m >>"$NODE_WORK/helm.log" 2>&1 ||
  fail "helm upgrade preStopDelay=0s"
wait_until 120 0.3 settled "$ECHO_SEL" 2 "$ECHO_IMAGE:0.2.0" || fail "preStopDelay 0s rollout settled"
rollout_under_load nodelay 0.3.0
if [ "$TOTAL" -ge 200 ]; then
  pass "rolling update 0.2.0 → 0.3.0 under load with preStopDelay 0s: $TOTAL requests, $FAILED failed${FAIL_KINDS:+ ($FAIL_KINDS)} (rollout $(secs "$ROLL_MS")); with the generated 5 s delay: $GEN_FAILED of $GEN_TOTAL"
else
  fail "rolling update with preStopDelay 0s: load measured" "only $TOTAL requests"
fi
figure "rolling update, preStopDelay 0s: requests / failed" "$TOTAL / $FAILED (rollout $(secs "$ROLL_MS"))"

# ---- 5. DaemonSet --------------------------------------------------------------------------------
phase "5. node-agent DaemonSet"
AGENT_SEL=$(sel node-agent)
t=$(now_ms)
if H install node-agent "$AGENT_CHART" --wait --timeout 2m >>"$NODE_WORK/helm.log" 2>&1 &&
  wait_until 60 0.3 settled "$AGENT_SEL" 1 "$AGENT_IMAGE:0.1.0"; then
  ds=$(kc -n "$NS" get ds node-agent -o jsonpath='{.status.desiredNumberScheduled}/{.status.numberReady}')
  pass "helm install node-agent: DaemonSet desired/ready $ds on $NODE_NAME ($(secs $(($(now_ms) - t))))"
else
  fail "node-agent DaemonSet Ready" "$(tail -n 3 "$NODE_WORK/helm.log" | tr '\n' ' ')"
fi
AG=$(live_pods "$AGENT_SEL" | sed -n 1p)
AG_IP=$(pod_ip "$AG")
info_ok() { [ "$(metric "http://$AG_IP:9090/metrics" "node_agent_info{node=\"$NODE_NAME\",role=\"example\"}")" = 1 ]; }
check "node-agent metrics: node_agent_info{node=\"$NODE_NAME\",role=\"example\"} 1 (NODE_NAME from spec.nodeName)" wait_until 20 0.5 info_ok
load_matches() {
  local m h
  m=$(metric "http://$AG_IP:9090/metrics" node_agent_load1) || return 1
  h=$(cut -d' ' -f1 /proc/loadavg)
  LOAD_SEEN="metric $m, host $h"
  awk -v a="$m" -v b="$h" 'BEGIN { d = a - b; if (d < 0) d = -d; t = b * 0.15; if (t < 0.5) t = 0.5; exit !(d <= t) }'
}
if wait_until 20 1 load_matches; then
  pass "node-agent reads the host through its hostPath: node_agent_load1 = host /proc/loadavg ($LOAD_SEEN)"
else
  fail "node-agent node_agent_load1 from the host" "${LOAD_SEEN:-no metric}"
fi
t=$(now_ms)
if H upgrade node-agent "$AGENT_CHART" --reuse-values --set image.tag=0.2.0 --wait --timeout 2m >>"$NODE_WORK/helm.log" 2>&1 &&
  wait_until 90 0.3 settled "$AGENT_SEL" 1 "$AGENT_IMAGE:0.2.0" && [ "$(live_pods "$AGENT_SEL")" != "$AG" ]; then
  pass "helm upgrade node-agent 0.1.0 → 0.2.0: the DaemonSet rolled its pod ($(kc -n "$NS" get ds node-agent -o jsonpath='{.spec.updateStrategy.type} maxUnavailable {.spec.updateStrategy.rollingUpdate.maxUnavailable}'); $AG replaced, new pod Ready in $(secs $(($(now_ms) - t))))"
else
  fail "node-agent rolling update" "pods $(live_pods "$AGENT_SEL" | tr '\n' ' ')"
fi

# ---- 9. berth status on real failures ----------------------------------------------------------
phase "9. berth status --wait on real failures"
# status_failure LABEL NAMESPACE EDIT REASON: berth apply of a copy of echo-daemon's berth.yaml
# changed by the sed script EDIT; berth status --wait must exit 1 naming REASON and a pod.
status_failure() {
  local label=$1 ns=$2 edit=$3 reason=$4 dir=$NODE_WORK/status-$1 rc=0 t
  mkdir -p "$dir"
  cp -r examples/echo-daemon/berth.yaml examples/echo-daemon/config "$dir/"
  sed -i -e "$edit" "$dir/berth.yaml"
  "$BERTH" apply -f "$dir/berth.yaml" -n "$ns" --create-namespace >"$dir/apply.out" 2>&1 ||
    {
      fail "$label: berth apply" "$(tr '\n' ' ' <"$dir/apply.out")"
      return 0
    }
  t=$(now_ms)
  timeout 200 "$BERTH" status -f "$dir/berth.yaml" -n "$ns" --wait --timeout 30s >"$dir/status.out" 2>&1 || rc=$?
  local el=$(($(now_ms) - t))
  if [ "$rc" = 1 ] && [ "$el" -lt 45000 ] && grep -q "$reason" "$dir/status.out" && grep -q "pod echo-daemon-\|pods: echo-daemon-" "$dir/status.out"; then
    pass "$label: berth status --wait exits 1 after $(secs "$el") naming $(grep -o -m1 "$reason[^:]*" "$dir/status.out")"
  else
    fail "$label: berth status --wait exits 1 naming $reason" "rc=$rc after $(secs "$el"): $(tr '\n' ' ' <"$dir/status.out")"
  fi
  sed -n '/^error:/,$p' "$dir/status.out" | sed 's/^/    /'
}
# A daemon that exits at start: an unparsable listen address (exit code 2).
status_failure crashloop berth-crash 's|^env:$|env:\n  ECHO_LISTEN: not-an-address|' CrashLoopBackOff
# An image the node does not have; its registry is 127.0.0.1:1, which refuses at once.
status_failure missing-image berth-noimage 's|^image: .*|image: 127.0.0.1:1/berth-e2e/absent:0.0.0|' 'ErrImagePull\|ImagePullBackOff'

phase "done"
printf 'suite time: %s\n' "$(secs $(($(now_ms) - T0)))"
printf '\n--- figures ---\n'
printf '%s\n' "${FIG[@]}"
printf -- '---------------\n'
e2e_summary
