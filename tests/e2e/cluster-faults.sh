#!/usr/bin/env bash
# Cluster command faults: `berth apply` and `berth status` against a real API server (RBAC on)
# that is unreachable, silent, cut off mid-apply, restarted during `status --wait`, or that
# refuses the user (no RBAC rights, an invalid or revoked token), and a field-manager
# conflict. Each case: exit 1 within a bounded time, a message naming what failed and what to
# do, never a panic or a hang; `status --wait` rides out the restart and reports the outcome.
#
#   bash tests/e2e/cluster-faults.sh     # as root, after tests/e2e/k8s/build.sh (it calls it)
#
# Its own cluster (kwokctl, runtime binary, own name and work dir), stopped on exit (trap).
# Prints PASS/FAIL per case with its time, and `N passed, N failed`; exits 1 on a failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$PWD
# shellcheck source=tests/e2e/lib/common.sh
source tests/e2e/lib/common.sh

T0=$(now_ms)
phase() { printf '\n== [%6.1fs] %s\n' "$(awk -v a="$(now_ms)" -v b="$T0" 'BEGIN{print (a-b)/1000}')" "$*"; }

# The control plane of tests/e2e/k8s.sh: the versions and binaries of tests/e2e/k8s/build.sh.
k8s_versions

WORK=$(mktemp -d /tmp/berth-faults-k8s.XXXXXX)
CLUSTER=berth-faults-$$
export KWOK_WORKDIR=$WORK/kwok
export KUBECONFIG=$WORK/kubeconfig
CLUSTER_UP=0
PIDS=()
RELAUNCHED=()

cleanup() {
  local rc=$?
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # Components started again by this suite: kwokctl's delete removes their pid files.
  for p in "${RELAUNCHED[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [ "$CLUSTER_UP" = 1 ]; then
    # A stopped API server (SIGSTOP) must be able to die.
    for p in "$KWOK_WORKDIR"/clusters/*/pids/*.pid; do
      [ -f "$p" ] && kill -CONT "$(cat "$p")" 2>/dev/null || true
    done
    timeout 60 "$BIN/kwokctl" --name "$CLUSTER" delete cluster >/dev/null 2>&1 || true
    # Whatever kwokctl did not stop (components this suite started again, too).
    for p in "$KWOK_WORKDIR"/clusters/*/pids/*.pid; do
      [ -f "$p" ] && kill -KILL "$(cat "$p")" 2>/dev/null || true
    done
    # Last sweep: any process still running a binary of this suite's own (mktemp) work dir.
    for p in $(pgrep -f -- "$KWOK_WORKDIR/" || true); do
      kill -KILL "$p" 2>/dev/null || true
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

phase "control-plane binaries (tests/e2e/k8s/build.sh)"
bash tests/e2e/k8s/build.sh
export PATH="$BIN:$PATH"
KUBECTL=$BIN/kubectl
kc() { "$KUBECTL" --request-timeout=30s "$@"; }

phase "berth (cargo build)"
cargo build --locked -q --bin berth
BERTH=$REPO/target/debug/berth

phase "control plane with RBAC on 127.0.0.1 (kwokctl) and 1 fake node"
kwok_config "$WORK/kwok.yaml" "kubeAuthorization: true"
t=$(now_ms)
kwok_cluster_up "$WORK/kwok.yaml" 1
e2e_log "cluster up in $(($(now_ms) - t)) ms"

PIDDIR=$(echo "$KWOK_WORKDIR"/clusters/*/pids)
apiserver_pid() { cat "$PIDDIR/kube-apiserver.pid"; }
SERVER=$("$KUBECTL" config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
CA_DATA=$("$KUBECTL" config view --raw --minify --flatten -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
[ -n "$CA_DATA" ] || e2e_die "no CA in the cluster's kubeconfig"
API_PORT=${SERVER##*:}

# kubeconfig FILE SERVER [TOKEN]: a kubeconfig for SERVER (the cluster's CA) with a bearer
# token, or with the admin's credentials when TOKEN is empty.
kubeconfig() {
  local file=$1 server=$2 token=${3:-}
  if [ -z "$token" ]; then
    "$KUBECTL" config view --raw --minify --flatten >"$file"
    sed -i "s|server: .*|server: $server|" "$file"
    return
  fi
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$server", certificate-authority-data: "$CA_DATA"}
users:
- name: u
  user: {token: "$token"}
contexts:
- name: faults
  context: {cluster: c, user: u, namespace: faults}
current-context: faults
EOF
}

NS=faults
kc create namespace $NS >/dev/null
ECHO=$WORK/echo/berth.yaml
mkdir -p "$WORK/echo"
cp -r examples/echo-daemon/config "$WORK/echo/"
cp examples/echo-daemon/berth.yaml "$ECHO"

# expect_fail NAME LIMIT_S PATTERN... -- CMD...: CMD exits 1 within LIMIT_S, its stderr
# matches every PATTERN (extended regexps), and it does not panic.
expect_fail() {
  local name=$1 limit=$2
  shift 2
  local patterns=()
  while [ "$1" != -- ]; do
    patterns+=("$1")
    shift
  done
  shift
  local rc=0 t
  t=$(now_ms)
  timeout $((limit + 30)) "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  t=$(($(now_ms) - t))
  local msg p
  msg=$(tr '\n' ' ' <"$WORK/err")
  if [ "$rc" != 1 ]; then
    fail "$name: exit 1" "exit $rc after $t ms: $msg"
    return
  fi
  if [ "$t" -gt $((limit * 1000)) ]; then
    fail "$name: within $limit s" "took $t ms"
    return
  fi
  if grep -qi "panicked" "$WORK/err"; then
    fail "$name: no panic" "$msg"
    return
  fi
  for p in "${patterns[@]}"; do
    if ! grep -Eq -- "$p" "$WORK/err"; then
      fail "$name: the message matches /$p/" "$msg"
      return
    fi
  done
  pass "$name: exit 1 in $t ms: $(head -c 300 "$WORK/err" | tr '\n' ' ')"
}

phase "API server unreachable, silent, stopped"
kubeconfig "$WORK/kc-closed" "https://127.0.0.1:1"
expect_fail "apply, nothing listens on the API port" 20 \
  "cannot reach the Kubernetes API server at https://127.0.0.1:1" -- \
  env KUBECONFIG="$WORK/kc-closed" "$BERTH" apply -f "$ECHO" -n $NS

# A port that accepts connections and never answers (a hung API server or a black hole).
python3 - "$WORK/silent.port" >/dev/null 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
end = time.time() + 600
while time.time() < end:
    c, _ = s.accept(); held.append(c)
EOF
PIDS+=($!)
wait_until 10 0.1 test -s "$WORK/silent.port" || e2e_die "silent listener did not start"
kubeconfig "$WORK/kc-silent" "https://127.0.0.1:$(cat "$WORK/silent.port")"
expect_fail "apply, the API server accepts and never answers" 30 \
  "cannot reach the Kubernetes API server" "no answer within" "hint: " -- \
  env KUBECONFIG="$WORK/kc-silent" "$BERTH" apply -f "$ECHO" -n $NS
expect_fail "status --wait, the API server accepts and never answers" 30 \
  "cannot reach the Kubernetes API server" -- \
  env KUBECONFIG="$WORK/kc-silent" "$BERTH" status -f "$ECHO" -n $NS --wait --timeout 2m

# The real API server frozen (SIGSTOP): the same bound.
kill -STOP "$(apiserver_pid)"
expect_fail "apply, the API server process is stopped (SIGSTOP)" 30 \
  "cannot reach the Kubernetes API server at $SERVER" -- \
  "$BERTH" apply -f "$ECHO" -n $NS
kill -CONT "$(apiserver_pid)"
wait_until 30 0.5 kc get --raw /readyz || e2e_die "the API server did not recover from SIGCONT"

phase "API server cut off mid-apply"
# An L4 proxy in front of the API server that forwards the first LIMIT bytes the client sends,
# then closes every connection and stops listening: the API server goes away mid-apply.
cat >"$WORK/proxy.py" <<'EOF'
import socket, sys, threading, os
target_port, limit, port_file, count_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0)); ls.listen(64)
open(port_file, "w").write(str(ls.getsockname()[1]))
lock = threading.Lock(); sent = [0]; conns = []; dead = threading.Event()
def record():
    open(count_file, "w").write(str(sent[0]))
def kill_all():
    dead.set()
    for c in conns:
        try: c.shutdown(socket.SHUT_RDWR)
        except OSError: pass
        c.close()
    try: ls.close()
    except OSError: pass
def pump(src, dst, upstream):
    try:
        while not dead.is_set():
            data = src.recv(65536)
            if not data: break
            if upstream:
                with lock:
                    sent[0] += len(data); record()
                    if limit and sent[0] > limit:
                        kill_all(); return
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
while not dead.is_set():
    try: c, _ = ls.accept()
    except OSError: break
    u = socket.create_connection(("127.0.0.1", target_port))
    conns.extend([c, u])
    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
EOF
# proxy LIMIT: starts a proxy (0: no limit); sets PROXY_PORT.
proxy() {
  rm -f "$WORK/proxy.port" "$WORK/proxy.count"
  python3 "$WORK/proxy.py" "$API_PORT" "$1" "$WORK/proxy.port" "$WORK/proxy.count" >/dev/null 2>&1 &
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  wait_until 10 0.1 test -s "$WORK/proxy.port" || e2e_die "proxy did not start"
  PROXY_PORT=$(cat "$WORK/proxy.port")
}
# A full pass through the proxy: how many bytes a first apply sends (into a scratch namespace).
kc create namespace faults-measure >/dev/null
proxy 0
kubeconfig "$WORK/kc-proxy" "https://127.0.0.1:$PROXY_PORT"
KUBECONFIG="$WORK/kc-proxy" "$BERTH" apply -f "$ECHO" -n faults-measure >"$WORK/measure" 2>&1 ||
  e2e_die "apply through the proxy failed: $(cat "$WORK/measure")"
total=$(cat "$WORK/proxy.count")
kill "$PROXY_PID" 2>/dev/null || true
n_objects=$(wc -l <"$WORK/measure")
proxy $((total * 2 / 3))
kubeconfig "$WORK/kc-proxy" "https://127.0.0.1:$PROXY_PORT"
expect_fail "apply, the API server goes away mid-apply" 40 \
  "error: (get|apply) [a-z.]+/echo-daemon" "did not answer" "run the command again" -- \
  env KUBECONFIG="$WORK/kc-proxy" "$BERTH" apply -f "$ECHO" -n $NS
applied=$(wc -l <"$WORK/out")
if [ "$applied" -ge 1 ] && [ "$applied" -lt "$n_objects" ]; then
  pass "mid-apply: it stopped part-way ($applied of $n_objects objects applied and reported before the cut)"
else
  fail "mid-apply: the cut fell mid-apply" "$applied of $n_objects objects reported"
fi
if "$BERTH" apply -f "$ECHO" -n $NS >"$WORK/out" 2>&1 && [ "$(wc -l <"$WORK/out")" -eq "$n_objects" ]; then
  pass "after the cut: berth apply again applies everything ($(grep -c created "$WORK/out") created, $(grep -c unchanged "$WORK/out") unchanged)"
else
  fail "apply again after the cut" "$(tr '\n' ' ' <"$WORK/out")"
fi

phase "credentials and RBAC"
kc -n $NS create serviceaccount nobody >/dev/null
TOKEN=$(kc -n $NS create token nobody --duration 10m)
kubeconfig "$WORK/kc-nobody" "$SERVER" "$TOKEN"
expect_fail "apply as a user without RBAC rights" 20 \
  "forbidden" "kubectl auth can-i (get|patch) [a-z.]+ -n $NS" "Role" -- \
  env KUBECONFIG="$WORK/kc-nobody" "$BERTH" apply -f "$ECHO"
expect_fail "status as a user without RBAC rights" 20 \
  "forbidden" "kubectl auth can-i get deployments.apps -n $NS" -- \
  env KUBECONFIG="$WORK/kc-nobody" "$BERTH" status -f "$ECHO" --wait --timeout 1m
kubeconfig "$WORK/kc-garbage" "$SERVER" "not-a-token"
expect_fail "apply with an invalid token" 20 \
  "refused this kubeconfig user" "Unauthorized" "fresh credentials" -- \
  env KUBECONFIG="$WORK/kc-garbage" "$BERTH" apply -f "$ECHO"
# A token whose service account is gone: revoked.
kc -n $NS delete serviceaccount nobody >/dev/null
wait_until 30 1 bash -c "! KUBECONFIG='$WORK/kc-nobody' '$KUBECTL' get --raw /version" ||
  e2e_die "the deleted service account's token still works"
expect_fail "status with a revoked token (its service account deleted)" 20 \
  "refused this kubeconfig user" "fresh credentials" -- \
  env KUBECONFIG="$WORK/kc-nobody" "$BERTH" status -f "$ECHO"

phase "field-manager conflict"
kc -n $NS apply --server-side --field-manager=intruder --force-conflicts -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo-daemon}
spec: {replicas: 5}
EOF
expect_fail "apply when another field manager owns spec.replicas" 20 \
  "conflict" "intruder" "--force-conflicts" -- \
  "$BERTH" apply -f "$ECHO" -n $NS
if "$BERTH" apply -f "$ECHO" -n $NS --force-conflicts >"$WORK/out" 2>&1 &&
  grep -qx 'deployment.apps/echo-daemon configured' "$WORK/out" &&
  [ "$(kc -n $NS get deployment echo-daemon -o jsonpath='{.spec.replicas}')" = 2 ]; then
  pass "apply --force-conflicts takes spec.replicas back (2)"
else
  fail "apply --force-conflicts" "$(tr '\n' ' ' <"$WORK/out")"
fi

phase "status --wait across an API server restart"
wait_until 90 1 bash -c "'$BERTH' status -f '$ECHO' -n $NS | grep -q 'successfully rolled out'" ||
  e2e_die "echo-daemon did not roll out"
# A rollout that waits for a node label; the API server restarts while status --wait watches,
# then the label arrives and the rollout completes.
cat >>"$ECHO" <<'EOF'
scheduling:
  nodeSelector:
    berth-faults/pool: later
EOF
"$BERTH" apply -f "$ECHO" -n $NS >/dev/null
# gone PID: not running (a zombie counts: its parent, kwokctl, is gone and may not reap it).
gone() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
# save_cmdline NAME / relaunch NAME: start a control-plane component again exactly as kwokctl
# did (what a kubelet does for a static pod); its pid file is updated, so cleanup stops it.
save_cmdline() {
  local pid
  pid=$(cat "$PIDDIR/$1.pid")
  cp "/proc/$pid/cmdline" "$WORK/$1.cmdline"
  readlink "/proc/$pid/cwd" >"$WORK/$1.cwd"
}
relaunch() {
  local args=() arg
  while IFS= read -r -d '' arg; do args+=("$arg"); done <"$WORK/$1.cmdline"
  (cd "$(cat "$WORK/$1.cwd")" && setsid "${args[@]}" >>"$WORK/$1-restart.log" 2>&1 </dev/null &
    echo $! >"$PIDDIR/$1.pid")
  RELAUNCHED+=("$(cat "$PIDDIR/$1.pid")")
}
for c in kube-apiserver kube-scheduler kube-controller-manager; do save_cmdline $c; done
t=$(now_ms)
"$BERTH" status -f "$ECHO" -n $NS --wait --timeout 3m >"$WORK/status.out" 2>"$WORK/status.err" &
STATUS_PID=$!
PIDS+=("$STATUS_PID")
sleep 3
pid=$(apiserver_pid)
kill "$pid"
wait_until 20 0.2 gone "$pid" || { kill -KILL "$pid" 2>/dev/null || true; wait_until 10 0.2 gone "$pid"; } ||
  e2e_die "the API server did not stop"
down=$(now_ms)
sleep 3
relaunch kube-apiserver
wait_until 60 0.5 kc get --raw /readyz || e2e_die "the restarted API server is not ready"
e2e_log "API server down for $(($(now_ms) - down)) ms"
# The scheduler and the controller-manager exit when they cannot renew their leader lease
# during the outage (renew deadline 10 s); nothing supervises them here, so once that
# deadline has passed, start again whichever exited.
sleep 12
for c in kube-scheduler kube-controller-manager; do
  if gone "$(cat "$PIDDIR/$c.pid")"; then
    relaunch $c
    e2e_log "$c exited during the outage (leader election lost); started it again"
  fi
done
node=$(kc get nodes -o jsonpath='{.items[0].metadata.name}')
kc label node "$node" berth-faults/pool=later >/dev/null
rc=0
wait "$STATUS_PID" || rc=$?
el=$(($(now_ms) - t))
if [ "$rc" = 0 ] && grep -q 'deployment.apps/echo-daemon successfully rolled out' "$WORK/status.out" &&
  grep -q 'did not answer' "$WORK/status.err" && grep -q 'answers again' "$WORK/status.err"; then
  pass "status --wait rode out the API server restart and reported the rollout in $((el / 1000)) s: $(grep -E 'did not answer|answers again' "$WORK/status.err" | cut -c1-160 | tr '\n' '|')"
else
  fail "status --wait across a restart" "rc=$rc: $(cat "$WORK/status.out" "$WORK/status.err" | tr '\n' ' ' | head -c 600)"
fi

phase "done"
printf 'suite time: %s s\n' "$(awk -v a="$(now_ms)" -v b="$T0" 'BEGIN{printf "%.1f", (a-b)/1000}')"
e2e_summary
