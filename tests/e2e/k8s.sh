#!/usr/bin/env bash
# Kubernetes end-to-end suite: the generated charts and manifests against a real API server.
#
#   bash tests/e2e/k8s.sh           # as root; builds the control plane on first use (cached)
#
# 1. tests/e2e/k8s/build.sh: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#    (k8s.io/kubernetes v1.37.2, a build argument), etcd 3.5 and kwok from the Go module proxy, cached under
#    /var/cache/berth-e2e (a second run skips them).
# 2. kwokctl starts etcd and the control plane from those binaries on 127.0.0.1 (runtime
#    `binary`), and three fake nodes: kwok marks scheduled pods Running and Ready (no kubelet,
#    no images are pulled).
# 3. Helm 3 and Helm 4, each in its own namespace: both examples' charts install (DaemonSet:
#    one Ready pod on each of the 3 nodes; Deployment: its replicas; Helm 4 by server-side
#    apply), `helm upgrade --set image.tag=...` rolls out, `helm rollback` rolls back, `helm
#    test` runs the test pods (a kwok Stage completes them), `helm uninstall` leaves no object
#    behind. Then a release installed by Helm 3 is upgraded, rolled back, uninstalled by Helm 4.
#    From an OCI registry (crane registry serve on 127.0.0.1): the generated CI workflow's
#    chart steps (helm package, helm push) publish two chart versions; Helm 3 and Helm 4 each
#    `helm install oci://... --version` the first and upgrade to the second (--plain-http), and
#    the release and its pods carry exactly the version pushed.
# 4. Every fixture's chart (`helm template`) and plain manifests pass
#    `kubectl apply --dry-run=server` (admission, schema and strict field validation), and both
#    are the same objects after a server-side apply dry run (Helm's own labels aside).
# 5. berth apply: created, re-apply unchanged (also as a server dry run); a new image tag:
#    configured, `berth status --wait` succeeds; an unschedulable rollout (a node selector no
#    node matches): `berth status --wait --timeout 30s` exits 1 naming Unschedulable.
#
# Environment:
#   K8S_VERSION        the control plane's version (default v1.37.2)
#   HELM, HELM4        the Helm 3 and Helm 4 binaries (default: helm and helm4 on PATH)
#   BERTH_K8S_BIN      prebuilt binaries (default /var/cache/berth-e2e/k8s/bin-$K8S_VERSION, see build.sh)
#   BERTH_E2E_KEEP=1   leave the cluster running (prints how to reach and delete it)
# Prints PASS/FAIL per assertion, per-phase timings, and `N passed, N failed`; exits 1 on a
# failure. Everything it starts is stopped on exit (trap); every wait is bounded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$PWD
# shellcheck source=tests/e2e/lib/common.sh
source tests/e2e/lib/common.sh

T0=$(now_ms)
phase() { printf '\n== [%6.1fs] %s\n' "$(awk -v a="$(now_ms)" -v b="$T0" 'BEGIN{print (a-b)/1000}')" "$*"; }

# The control plane's version: the newest of the supported range (README), defined in
# tests/e2e/k8s/build.sh. A build argument: K8S_VERSION=v1.29.15 bash tests/e2e/k8s.sh runs the
# suite against the oldest.
k8s_versions

WORK=$(mktemp -d /tmp/berth-e2e-k8s.XXXXXX)
CLUSTER=berth-e2e-$$
CTX=kwok-$CLUSTER
export KWOK_WORKDIR=$WORK/kwok
export KUBECONFIG=$WORK/kubeconfig
CLUSTER_UP=0
REGISTRY_PID=

cleanup() {
  local rc=$?
  [ -z "$REGISTRY_PID" ] || kill "$REGISTRY_PID" 2>/dev/null || true
  if [ "$CLUSTER_UP" = 1 ]; then
    if [ "${BERTH_E2E_KEEP:-0}" = 1 ]; then
      e2e_log "cluster kept: KUBECONFIG=$KUBECONFIG KWOK_WORKDIR=$KWOK_WORKDIR; delete with: kwokctl --name $CLUSTER delete cluster"
      exit "$rc"
    fi
    timeout 60 "$BIN/kwokctl" --name "$CLUSTER" delete cluster >/dev/null 2>&1 || true
    # Whatever kwokctl did not stop (it records every process it starts in pids/).
    local f
    for f in "$KWOK_WORKDIR"/clusters/*/pids/*.pid; do
      [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- binaries ------------------------------------------------------------------------------
phase "control-plane binaries (tests/e2e/k8s/build.sh)"
t=$(now_ms)
bash tests/e2e/k8s/build.sh
e2e_log "build.sh: $(($(now_ms) - t)) ms"
GOBIN_DIR=$(go env GOPATH 2>/dev/null || echo /root/go)/bin
export PATH="$BIN:$GOBIN_DIR:$PATH"
# Helm 3 and Helm 4 (.ci/install-deps.sh installs them as helm and helm4; HELM/HELM4 override).
HELM=${HELM:-$(command -v helm)} || e2e_die "helm not found (bash .ci/install-deps.sh installs it)"
HELM4=${HELM4:-$(command -v helm4)} || e2e_die "helm4 not found (bash .ci/install-deps.sh installs it)"
KUBECTL=$BIN/kubectl

phase "berth (cargo build)"
cargo build --locked -q --bin berth
BERTH=$REPO/target/debug/berth

# ---- cluster -------------------------------------------------------------------------------
phase "control plane on 127.0.0.1 (kwokctl, runtime binary) and 3 fake nodes"
kwok_config "$WORK/kwok.yaml"
# Stages: kwok's own defaults (as kwokctl would use them: once any Stage is given, it adds none)
# plus one that completes `helm test` pods, so `helm test` can run on fake nodes. The defaults
# are read from the kwok module build.sh built from, so they always match the binary.
KWOK_SRC=${GOMODCACHE_OVERRIDE:-$BERTH_E2E_CACHE/go/mod}/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  [ -f "$KWOK_SRC/$f" ] || e2e_die "kwok stage $KWOK_SRC/$f not found (tests/e2e/k8s/build.sh fetches the module)"
  { echo "---"; cat "$KWOK_SRC/$f"; } >>"$WORK/kwok.yaml"
done
cat >>"$WORK/kwok.yaml" <<'EOF'
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: berth-e2e-helm-test
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  # Weight 1 against the default stages' 0: a scheduled test pod skips pod-ready and completes
  # at once (with both matching, kwok's pod-ready sometimes ran twice and set four pod IPs,
  # which the API server rejects).
  weight: 1
  # Completed after 3 s, not at once: Helm 4's kstatus watcher must see the pod before it is
  # Succeeded (and deleted by the hook-succeeded policy), or it waits for it until the timeout.
  delay:
    durationMilliseconds: 3000
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
      - 'Running'
    - key: '.metadata.annotations."helm.sh/hook"'
      operator: 'In'
      values:
      - 'test'
  next:
    statusTemplate: |
      {{ $now := Now }}
      startTime: {{ $now | Quote }}
      containerStatuses:
      {{ range $index, $item := .spec.containers }}
      - image: {{ $item.image | Quote }}
        name: {{ $item.name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Succeeded
EOF
t=$(now_ms)
# Fake nodes with the resources a real node reports, ephemeral storage included (kwok's default
# node has none, so the helm test pod's ephemeral-storage request would never schedule).
kwok_cluster_up "$WORK/kwok.yaml" 3 --param '.allocatable["ephemeral-storage"]="100Gi"'
pass "cluster up: API server $("$KUBECTL" version -o json | jq -r .serverVersion.gitVersion), 3 Ready nodes ($(($(now_ms) - t)) ms)"

# ---- helpers -------------------------------------------------------------------------------
# kc ARGS...: kubectl with a bounded request timeout.
kc() { "$KUBECTL" --request-timeout=30s "$@"; }

# ready_pods NS SELECTOR: number of pods with Ready=True.
ready_pods() {
  kc -n "$1" get pods -l "$2" -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null)
         | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length'
}
# pod_images NS SELECTOR: the sorted, distinct images of the live pods, space-separated.
pod_images() {
  kc -n "$1" get pods -l "$2" -o json |
    jq -r '[.items[] | .spec.containers[0].image] | unique | join(" ")'
}
# pod_count NS SELECTOR
pod_count() { kc -n "$1" get pods -l "$2" -o json | jq '.items | length'; }
# pods_settled NS SELECTOR COUNT IMAGE: exactly COUNT pods, all Ready, all running IMAGE.
pods_settled() {
  [ "$(pod_count "$1" "$2")" -eq "$3" ] && [ "$(ready_pods "$1" "$2")" -eq "$3" ] &&
    [ "$(pod_images "$1" "$2")" = "$4" ]
}
sel() { echo "app.kubernetes.io/instance=$1"; }

# ---- helm ----------------------------------------------------------------------------------
CHARTS=$WORK/charts
mkdir -p "$CHARTS"
for ex in echo-daemon node-agent; do
  if [ -f "examples/$ex/deploy/helm/$ex/Chart.yaml" ]; then
    cp -r "examples/$ex/deploy/helm/$ex" "$CHARTS/$ex"
  else
    "$BERTH" generate -f "examples/$ex/berth.yaml" -o "$WORK/gen-$ex" --only helm >/dev/null
    cp -r "$WORK/gen-$ex/helm/$ex" "$CHARTS/$ex"
  fi
done
# Every kind the charts can create, namespaced; what is left after uninstall must be empty.
KINDS=deployments.apps,daemonsets.apps,replicasets.apps,controllerrevisions.apps,pods,services,endpoints,endpointslices.discovery.k8s.io,configmaps,serviceaccounts,poddisruptionbudgets.policy,secrets

# helm_cycle LABEL HELM_BIN NS OPERATION: install both examples, upgrade (a new tag rolls out), rollback,
# `helm test`, uninstall (nothing left) with one Helm binary in its own namespace. Helm 4
# installs with server-side apply (its default) and its kstatus-based --wait; Helm 3 with a
# three-way client-side merge and its legacy --wait. Both must give the same result.
helm_cycle() {
  local label=$1 helm_bin=$2 NS=$3 want_op=$4 t
  H() { timeout 300 "$helm_bin" --kube-context "$CTX" -n "$NS" "$@"; }
  phase "$label: helm install / upgrade / rollback / test / uninstall of both examples"
  t=$(now_ms)
  if H install echo-daemon "$CHARTS/echo-daemon" --create-namespace --wait --timeout 3m >"$WORK/helm.log" 2>&1 &&
    H install node-agent "$CHARTS/node-agent" --wait --timeout 3m >>"$WORK/helm.log" 2>&1; then
    pass "$label install echo-daemon and node-agent ($(($(now_ms) - t)) ms)"
  else
    fail "$label install" "$(tail -n 5 "$WORK/helm.log" | tr '\n' ' ')"
  fi
  local ds_ready
  ds_ready=$(kc -n "$NS" get daemonset node-agent -o jsonpath='{.status.desiredNumberScheduled}/{.status.numberReady}' 2>/dev/null || true)
  if wait_until 60 1 pods_settled "$NS" "$(sel node-agent)" 3 ghcr.io/acme/node-agent:0.1.0 &&
    [ "$(kc -n "$NS" get pods -l "$(sel node-agent)" -o json | jq '[.items[].spec.nodeName] | unique | length')" -eq 3 ]; then
    pass "$label DaemonSet node-agent: exactly 3 Ready pods, one per node (desired/ready $ds_ready)"
  else
    fail "$label DaemonSet node-agent: 3 Ready pods on 3 nodes" "pods $(pod_count "$NS" "$(sel node-agent)"), ready $(ready_pods "$NS" "$(sel node-agent)"), status $ds_ready"
  fi
  local want
  want=$(kc -n "$NS" get deployment echo-daemon -o jsonpath='{.spec.replicas}' 2>/dev/null || echo '?')
  if [ "$want" = 2 ] && wait_until 60 1 pods_settled "$NS" "$(sel echo-daemon)" 2 ghcr.io/acme/echo-daemon:0.1.0; then
    pass "$label Deployment echo-daemon: its 2 replicas Ready"
  else
    fail "$label Deployment echo-daemon: 2 Ready replicas" "spec.replicas $want, ready $(ready_pods "$NS" "$(sel echo-daemon)")"
  fi
  # Who owns the fields: Helm 4 applies server-side (managedFields operation Apply), Helm 3
  # client-side (Update).
  local ops
  ops=$(kc -n "$NS" get deployment echo-daemon -o json --show-managed-fields |
    jq -r '[.metadata.managedFields[]? | select(.manager | test("helm")) | .operation] | unique | join(",")' || true)
  e2e_log "$label: field manager operations of helm on the Deployment: ${ops:-none}"
  if [ "$ops" = "$want_op" ]; then
    pass "$label applies as expected: helm's managedFields operation $ops"
  else
    fail "$label managedFields operation" "want $want_op, got ${ops:-none}"
  fi

  t=$(now_ms)
  if H upgrade echo-daemon "$CHARTS/echo-daemon" --reuse-values --set image.tag=0.2.0 --wait --timeout 3m >>"$WORK/helm.log" 2>&1 &&
    H upgrade node-agent "$CHARTS/node-agent" --reuse-values --set image.tag=0.2.0 --wait --timeout 3m >>"$WORK/helm.log" 2>&1 &&
    wait_until 90 1 pods_settled "$NS" "$(sel echo-daemon)" 2 ghcr.io/acme/echo-daemon:0.2.0 &&
    wait_until 90 1 pods_settled "$NS" "$(sel node-agent)" 3 ghcr.io/acme/node-agent:0.2.0; then
    pass "$label upgrade --set image.tag=0.2.0 rolls out: every pod replaced, Ready, on 0.2.0 ($(($(now_ms) - t)) ms)"
  else
    fail "$label upgrade rollout" "echo-daemon: $(pod_images "$NS" "$(sel echo-daemon)"); node-agent: $(pod_images "$NS" "$(sel node-agent)"); $(tail -n 3 "$WORK/helm.log" | tr '\n' ' ')"
  fi
  if [ "$(kc -n "$NS" get deployment echo-daemon -o jsonpath='{.metadata.labels.app\.kubernetes\.io/version}')" = 0.2.0 ]; then
    pass "$label upgrade: app.kubernetes.io/version follows the tag (0.2.0)"
  else
    fail "$label upgrade: version label 0.2.0"
  fi

  t=$(now_ms)
  if H rollback echo-daemon 1 --wait --timeout 3m >>"$WORK/helm.log" 2>&1 &&
    H rollback node-agent 1 --wait --timeout 3m >>"$WORK/helm.log" 2>&1 &&
    wait_until 90 1 pods_settled "$NS" "$(sel echo-daemon)" 2 ghcr.io/acme/echo-daemon:0.1.0 &&
    wait_until 90 1 pods_settled "$NS" "$(sel node-agent)" 3 ghcr.io/acme/node-agent:0.1.0; then
    pass "$label rollback: back on 0.1.0, every pod Ready ($(($(now_ms) - t)) ms)"
  else
    fail "$label rollback" "echo-daemon: $(pod_images "$NS" "$(sel echo-daemon)"); node-agent: $(pod_images "$NS" "$(sel node-agent)")"
  fi

  # helm test: the chart's test pod (the daemon's image in probe mode) is created, admitted and
  # run to completion. kwok runs no container: its berth-e2e-helm-test Stage (cluster setup
  # above) completes pods annotated helm.sh/hook=test, so this checks Helm's test flow and the
  # pod's admission, not the probe itself (the Docker suite runs the probe for real).
  t=$(now_ms)
  if H test echo-daemon --timeout 2m >>"$WORK/helm.log" 2>&1 &&
    H test node-agent --timeout 2m >>"$WORK/helm.log" 2>&1; then
    pass "$label test: the test pods of both releases admitted and Succeeded ($(($(now_ms) - t)) ms)"
  else
    fail "$label test" "$(tail -n 5 "$WORK/helm.log" | tr '\n' ' ')"
  fi

  leftovers() {
    # The namespace's own default ServiceAccount and kube-root-ca.crt ConfigMap are not ours.
    kc -n "$NS" get "$KINDS" -o json |
      jq -r '.items[] | select(
          (.kind == "ServiceAccount" and .metadata.name == "default") or
          (.kind == "ConfigMap" and .metadata.name == "kube-root-ca.crt") | not)
        | "\(.kind)/\(.metadata.name)"'
  }
  no_leftovers() { [ -z "$(leftovers)" ]; }
  local before
  before=$(leftovers | wc -l)
  [ "$before" -gt 10 ] || fail "$label objects of both releases listed before uninstall" "only $before"
  t=$(now_ms)
  if H uninstall echo-daemon --wait --timeout 3m >>"$WORK/helm.log" 2>&1 &&
    H uninstall node-agent --wait --timeout 3m >>"$WORK/helm.log" 2>&1 &&
    wait_until 90 1 no_leftovers; then
    pass "$label uninstall: all $before objects of both releases gone from $NS (release secrets, pods, ReplicaSets, revisions, ...) ($(($(now_ms) - t)) ms)"
  else
    fail "$label uninstall leaves nothing" "$(leftovers | tr '\n' ' ')"
  fi
}

helm_cycle "helm 3 ($("$HELM" version --short))" "$HELM" helm3-e2e Update
helm_cycle "helm 4 ($("$HELM4" version --short))" "$HELM4" helm4-e2e Apply

# A release installed by Helm 3 and upgraded by Helm 4 (what a user upgrading their Helm
# meets): Helm 4's --server-side=auto keeps such a release client-side; the rollout and the
# rollback to the Helm 3 revision must work.
phase "helm 3 install, helm 4 upgrade / rollback / uninstall (migration)"
NS=helm-migrate-e2e
t=$(now_ms)
if timeout 300 "$HELM" --kube-context "$CTX" -n $NS install echo-daemon "$CHARTS/echo-daemon" --create-namespace --wait --timeout 3m >"$WORK/helm-migrate.log" 2>&1 &&
  timeout 300 "$HELM4" --kube-context "$CTX" -n $NS upgrade echo-daemon "$CHARTS/echo-daemon" --reuse-values --set image.tag=0.2.0 --wait --timeout 3m >>"$WORK/helm-migrate.log" 2>&1 &&
  wait_until 90 1 pods_settled $NS "$(sel echo-daemon)" 2 ghcr.io/acme/echo-daemon:0.2.0 &&
  timeout 300 "$HELM4" --kube-context "$CTX" -n $NS rollback echo-daemon 1 --wait --timeout 3m >>"$WORK/helm-migrate.log" 2>&1 &&
  wait_until 90 1 pods_settled $NS "$(sel echo-daemon)" 2 ghcr.io/acme/echo-daemon:0.1.0 &&
  timeout 300 "$HELM4" --kube-context "$CTX" -n $NS uninstall echo-daemon --wait --timeout 3m >>"$WORK/helm-migrate.log" 2>&1; then
  pass "helm 3 release upgraded, rolled back and uninstalled by helm 4 ($(($(now_ms) - t)) ms)"
else
  fail "helm 3 -> helm 4 migration" "$(tail -n 5 "$WORK/helm-migrate.log" | tr '\n' ' ')"
fi

# ---- the chart from an OCI registry (what the generated CI workflow publishes) ----------------
# The workflow's own chart steps ("Package the chart", "Push the chart"), read from the workflow
# berth generates and run as written (tests/e2e/multiarch/workflow.py; the push with
# --plain-http, lib/common.sh plain_http_push), push two chart versions to a registry on
# 127.0.0.1; each Helm major installs the first from oci:// and upgrades to the second
# (--plain-http), and the release runs exactly the version pushed.
phase "helm install / upgrade from oci:// (the CI workflow's chart push, crane registry serve)"
command -v crane >/dev/null || e2e_die "crane not found (bash .ci/install-deps.sh installs it)"
start_registry "$WORK/registry"
pass "registry: crane registry serve on $REG"
OCI=$WORK/oci
"$BERTH" generate -f examples/echo-daemon/berth.yaml --only ci -o "$OCI/wf" >/dev/null
WF=$OCI/wf/ci/echo-daemon.yml
WF_PY=$REPO/tests/e2e/multiarch/workflow.py
OCI_CHART=$(python3 "$WF_PY" "$WF" env | sed -n 's/^CHART=//p')
V1=$(python3 "$WF_PY" "$WF" env | sed -n 's/^CHART_VERSION=//p')
[ "$OCI_CHART" = echo-daemon ] && [ "$V1" = "$(sed -n 's/^version: //p' "$CHARTS/echo-daemon/Chart.yaml")" ] ||
  e2e_die "the workflow's CHART/CHART_VERSION ($OCI_CHART $V1) are not the chart's"
# The second version: the same chart, its version bumped (what the next release publishes).
V2=${V1%.*}.$((${V1##*.} + 1))
CHART_REPO=oci://$REG/acme/charts
# Helm's registry state in this run's directory, not the user's.
export HELM_REGISTRY_CONFIG=$OCI/helm/registry.json HELM_REPOSITORY_CACHE=$OCI/helm/cache \
  HELM_CACHE_HOME=$OCI/helm/cachehome HELM_CONFIG_HOME=$OCI/helm/config
# chart_push VERSION: the workflow's package and push steps in a directory laid out as the
# workflow expects (deploy/helm/$CHART beside berth.yaml), the chart's version set to VERSION.
chart_push() {
  local v=$1 dir=$OCI/src-$1 step script
  mkdir -p "$dir/deploy/helm"
  cp -r "$CHARTS/echo-daemon" "$dir/deploy/helm/$OCI_CHART"
  sed -i "s/^version: .*/version: $v/" "$dir/deploy/helm/$OCI_CHART/Chart.yaml"
  for step in "Package the chart" "Push the chart"; do
    script=$(python3 "$WF_PY" "$WF" run publish "$step") || return 1
    [ "$step" != "Push the chart" ] || script=$(plain_http_push "$script") || return 1
    (cd "$dir" && CHART=$OCI_CHART CHART_VERSION=$v CHART_REPO=$CHART_REPO \
      timeout 120 bash -euo pipefail -c "$script") >>"$OCI/push.log" 2>&1 || return 1
  done
}
if chart_push "$V1" && chart_push "$V2" &&
  [ "$(crane ls "$REG/acme/charts/$OCI_CHART" | sort -V | tr '\n' ' ')" = "$V1 $V2 " ]; then
  pass "chart pushed by the workflow's steps (helm package, helm push): $CHART_REPO/$OCI_CHART tags $V1 $V2"
else
  fail "chart push to $CHART_REPO" "$(tail -n 5 "$OCI/push.log" | tr '\n' ' ')"
fi
# release_chart HELM NS: the chart (name-version) of the release echo-daemon, as Helm lists it.
release_chart() { "$1" --kube-context "$CTX" -n "$2" list -o json | jq -r '.[] | select(.name == "echo-daemon") | .chart'; }
# runs_chart NS CHART: the release's Deployment and Services are labelled helm.sh/chart=CHART
# and the Deployment's 2 pods are Ready on the image the chart names.
runs_chart() {
  [ "$(kc -n "$1" get deployment,service -l "$(sel echo-daemon)" -o json |
    jq -r '[.items[].metadata.labels["helm.sh/chart"]] | unique | join(" ")')" = "$2" ] &&
    pods_settled "$1" "$(sel echo-daemon)" 2 ghcr.io/acme/echo-daemon:0.1.0
}
pod_names() { kc -n "$1" get pods -l "$(sel echo-daemon)" -o jsonpath='{.items[*].metadata.name}'; }
oci_cycle() {
  local label=$1 helm_bin=$2 NS=$3 t digest pods
  H() { timeout 300 "$helm_bin" --kube-context "$CTX" -n "$NS" "$@"; }
  t=$(now_ms)
  if H install echo-daemon "$CHART_REPO/$OCI_CHART" --version "$V1" --plain-http --create-namespace \
    --wait --timeout 3m >"$OCI/$NS.log" 2>&1 &&
    [ "$(release_chart "$helm_bin" "$NS")" = "$OCI_CHART-$V1" ] &&
    wait_until 60 1 runs_chart "$NS" "$OCI_CHART-$V1"; then
    digest=$(sed -n 's/^Digest: //p' "$OCI/$NS.log" | head -n 1)
    pass "$label install oci://…/$OCI_CHART --version $V1: the release and its objects are chart $OCI_CHART-$V1, 2 Ready pods${digest:+ (pulled $digest)} ($(($(now_ms) - t)) ms)"
  else
    fail "$label install from oci://" "release chart $(release_chart "$helm_bin" "$NS"); objects $(kc -n "$NS" get deployment,service -l "$(sel echo-daemon)" -o jsonpath='{.items[*].metadata.labels.helm\.sh/chart}'); ready $(ready_pods "$NS" "$(sel echo-daemon)"); $(tail -n 3 "$OCI/$NS.log" | tr '\n' ' ')"
  fi
  pods=$(pod_names "$NS")
  t=$(now_ms)
  if H upgrade echo-daemon "$CHART_REPO/$OCI_CHART" --version "$V2" --plain-http --reuse-values \
    --wait --timeout 3m >>"$OCI/$NS.log" 2>&1 &&
    [ "$(release_chart "$helm_bin" "$NS")" = "$OCI_CHART-$V2" ] &&
    wait_until 60 1 runs_chart "$NS" "$OCI_CHART-$V2" && [ "$(pod_names "$NS")" = "$pods" ]; then
    pass "$label upgrade from oci:// to --version $V2: revision $(H history echo-daemon -o json | jq 'length'), the release and its objects are chart $OCI_CHART-$V2; the same 2 pods serve (the pod template carries no chart version) ($(($(now_ms) - t)) ms)"
  else
    fail "$label upgrade from oci://" "release chart $(release_chart "$helm_bin" "$NS"); objects $(kc -n "$NS" get deployment,service -l "$(sel echo-daemon)" -o jsonpath='{.items[*].metadata.labels.helm\.sh/chart}'); pods before '$pods', now '$(pod_names "$NS")'; $(tail -n 3 "$OCI/$NS.log" | tr '\n' ' ')"
  fi
  if H uninstall echo-daemon --wait --timeout 3m >>"$OCI/$NS.log" 2>&1; then
    pass "$label uninstall of the oci:// release"
  else
    fail "$label uninstall of the oci:// release" "$(tail -n 3 "$OCI/$NS.log" | tr '\n' ' ')"
  fi
}
oci_cycle "helm 3 ($("$HELM" version --short))" "$HELM" oci-helm3-e2e
oci_cycle "helm 4 ($("$HELM4" version --short))" "$HELM4" oci-helm4-e2e
kill "$REGISTRY_PID" 2>/dev/null || true
REGISTRY_PID=

# ---- every fixture: server-side validation and chart == manifests --------------------------
phase "fixtures: kubectl apply --dry-run=server, and helm template == plain manifests"
kc create namespace berth-dry >/dev/null
# normalize: the objects as the server would store them, minus what differs by nature:
# server-set metadata, Helm's own labels (helm.sh/chart, managed-by Helm vs berth), the
# helm test hook pod (Helm only), and the virtual IPs a dry run allocates at random.
NORMALIZE='
  [ (if .kind == "List" then .items[] else . end)
    | select((.metadata.annotations["helm.sh/hook"] // "") == "")
    | del(.metadata.managedFields, .metadata.creationTimestamp, .metadata.uid,
          .metadata.resourceVersion, .metadata.generation, .metadata.namespace,
          .metadata.labels["helm.sh/chart"], .metadata.labels["app.kubernetes.io/managed-by"],
          .spec.template.metadata.labels["helm.sh/chart"],
          .spec.template.metadata.labels["app.kubernetes.io/managed-by"], .status)
    | if .kind == "Service" and .spec.clusterIP != "None"
      then del(.spec.clusterIP, .spec.clusterIPs) else . end ]
  | sort_by(.kind, .metadata.name)'
n_fix=0
for desc in tests/fixtures/*/berth.yaml examples/*/berth.yaml; do
  fx=$(basename "$(dirname "$desc")")
  out=$WORK/fx/$fx
  if ! "$BERTH" generate -f "$desc" -o "$out" --only helm,k8s >"$WORK/gen.log" 2>&1; then
    fail "$fx: berth generate" "$(tail -n 3 "$WORK/gen.log" | tr '\n' ' ')"
    continue
  fi
  name=$(basename "$out"/k8s/*.yaml .yaml)
  manifest=$out/k8s/$name.yaml
  chart=$out/helm/$name
  if ! "$HELM" template "$name" "$chart" >"$out/helm.yaml" 2>"$out/helm.err"; then
    fail "$fx: helm template" "$(tail -n 3 "$out/helm.err" | tr '\n' ' ')"
    continue
  fi
  kind=$(grep -m1 -E '^kind: (Deployment|DaemonSet)' "$manifest" | cut -d' ' -f2)
  # The chart's `helm test` pod names the release's ServiceAccount, which admission looks up:
  # a dry run stores nothing, so that one object exists for real (helm installs it before
  # any test runs).
  kc -n berth-dry create serviceaccount "$name" >/dev/null 2>&1 || true
  check "$fx ($kind): plain manifests pass kubectl apply --dry-run=server" \
    kc -n berth-dry apply --dry-run=server --validate=strict -f "$manifest"
  check "$fx ($kind): chart (helm template) passes kubectl apply --dry-run=server" \
    kc -n berth-dry apply --dry-run=server --validate=strict -f "$out/helm.yaml"
  if kc -n berth-dry apply --server-side --dry-run=server --field-manager=berth-e2e -o json -f "$manifest" >"$out/k8s.json" 2>"$out/k8s.err" &&
    kc -n berth-dry apply --server-side --dry-run=server --field-manager=berth-e2e -o json -f "$out/helm.yaml" >"$out/helm.json" 2>"$out/helm.err" &&
    jq -S "$NORMALIZE" "$out/k8s.json" >"$out/k8s.norm" && jq -S "$NORMALIZE" "$out/helm.json" >"$out/helm.norm" &&
    [ "$(jq length "$out/k8s.norm")" -ge 3 ] && diff -u "$out/k8s.norm" "$out/helm.norm" >"$out/diff"; then
    pass "$fx ($kind): chart and manifests are the same $(jq length "$out/k8s.norm") objects after a server-side apply dry run"
  else
    fail "$fx ($kind): chart == manifests after server-side apply" "$(cat "$out/k8s.err" "$out/helm.err" 2>/dev/null; head -n 20 "$out/diff" 2>/dev/null | tr '\n' ' ')"
  fi
  n_fix=$((n_fix + 1))
done
e2e_log "$n_fix descriptions checked"

# ---- berth apply / berth status ------------------------------------------------------------
phase "berth apply / berth status"
BNS=berth-e2e
for ex in echo-daemon node-agent; do
  cp -r "examples/$ex" "$WORK/ex-$ex"
  rm -rf "$WORK/ex-$ex/target" "$WORK/ex-$ex/deploy"
done
ECHO=$WORK/ex-echo-daemon/berth.yaml
AGENT=$WORK/ex-node-agent/berth.yaml
B() { timeout 180 "$BERTH" "$@"; }
# all_lines FILE WORD: every line of FILE ends with WORD (and there is at least one).
all_lines() { [ -s "$1" ] && ! grep -v -E " $2( \\(server dry run\\))?\$" "$1" >/dev/null; }

n_objects=$("$BERTH" generate -f "$ECHO" -o "$WORK/echo-out" --only k8s >/dev/null && grep -c '^---$' "$WORK/echo-out/k8s/echo-daemon.yaml")
if B apply -f "$ECHO" -n $BNS --create-namespace >"$WORK/apply1" 2>&1 &&
  grep -qx "namespace/$BNS created" "$WORK/apply1" &&
  [ "$(grep -c ' created$' "$WORK/apply1")" -eq $((n_objects + 1)) ]; then
  pass "berth apply --create-namespace: namespace + $n_objects objects created"
else
  fail "berth apply: created" "$(tr '\n' ' ' <"$WORK/apply1")"
fi
if B apply -f "$ECHO" -n $BNS >"$WORK/apply2" 2>&1 && all_lines "$WORK/apply2" unchanged &&
  [ "$(wc -l <"$WORK/apply2")" -eq "$n_objects" ]; then
  pass "berth apply again: every object unchanged"
else
  fail "berth apply again: unchanged" "$(tr '\n' ' ' <"$WORK/apply2")"
fi
if B apply -f "$ECHO" -n $BNS --dry-run >"$WORK/apply3" 2>&1 && all_lines "$WORK/apply3" unchanged &&
  grep -q '(server dry run)$' "$WORK/apply3"; then
  pass "berth apply --dry-run of the same description: unchanged (server dry run)"
else
  fail "berth apply --dry-run: unchanged" "$(tr '\n' ' ' <"$WORK/apply3")"
fi
if B status -f "$ECHO" -n $BNS --wait --timeout 2m >"$WORK/status1" 2>&1 &&
  grep -q 'deployment.apps/echo-daemon successfully rolled out (desired 2, updated 2, ready 2, available 2)' "$WORK/status1"; then
  pass "berth status --wait: the new Deployment rolled out (2/2)"
else
  fail "berth status --wait after create" "$(tr '\n' ' ' <"$WORK/status1")"
fi

# A change: a new image tag.
sed -i 's|^image: ghcr.io/acme/echo-daemon:0.1.0$|image: ghcr.io/acme/echo-daemon:0.1.1|' "$ECHO"
gen_before=$(kc -n $BNS get deployment echo-daemon -o jsonpath='{.metadata.generation}')
if B apply -f "$ECHO" -n $BNS --dry-run >"$WORK/apply4" 2>&1 &&
  grep -qx 'deployment.apps/echo-daemon configured (server dry run)' "$WORK/apply4" &&
  [ "$(kc -n $BNS get deployment echo-daemon -o jsonpath='{.metadata.generation}')" = "$gen_before" ]; then
  pass "berth apply --dry-run of a new tag: configured (server dry run), nothing stored"
else
  fail "berth apply --dry-run of a change" "$(tr '\n' ' ' <"$WORK/apply4")"
fi
t=$(now_ms)
if B apply -f "$ECHO" -n $BNS >"$WORK/apply5" 2>&1 &&
  grep -qx 'deployment.apps/echo-daemon configured' "$WORK/apply5" &&
  B status -f "$ECHO" -n $BNS --wait --timeout 2m >"$WORK/status2" 2>&1 &&
  grep -q 'successfully rolled out' "$WORK/status2" &&
  wait_until 60 1 pods_settled $BNS "$(sel echo-daemon)" 2 ghcr.io/acme/echo-daemon:0.1.1; then
  pass "berth apply of a new tag: configured; berth status --wait exits 0 when rolled out ($(($(now_ms) - t)) ms)"
else
  fail "berth apply change + status --wait" "$(cat "$WORK/apply5" "$WORK/status2" | tr '\n' ' ')"
fi
if B status -f "$ECHO" -n $BNS >"$WORK/status3" 2>&1 &&
  grep -q 'desired 2, updated 2, ready 2, available 2' "$WORK/status3" &&
  grep -q 'successfully rolled out' "$WORK/status3"; then
  pass "berth status (no wait): desired/updated/ready/available 2/2/2/2"
else
  fail "berth status" "$(tr '\n' ' ' <"$WORK/status3")"
fi

# The DaemonSet through berth: created, one Ready pod per node.
if B apply -f "$AGENT" -n $BNS >"$WORK/apply6" 2>&1 && all_lines "$WORK/apply6" created &&
  B status -f "$AGENT" -n $BNS --wait --timeout 2m >"$WORK/status4" 2>&1 &&
  grep -q 'daemonset.apps/node-agent successfully rolled out (desired 3, updated 3, ready 3, available 3)' "$WORK/status4"; then
  pass "berth apply + status --wait of the DaemonSet: 3/3 rolled out"
else
  fail "berth DaemonSet apply + status" "$(cat "$WORK/apply6" "$WORK/status4" | tr '\n' ' ')"
fi

# A rollout that cannot finish: the new pods need a node label no node has. kwok makes every
# scheduled pod Running/Ready whatever its image, so an unschedulable pod is the failure the
# fake nodes honour; maxUnavailable 0 keeps the old pods serving.
cat >>"$ECHO" <<'EOF'
scheduling:
  nodeSelector:
    berth-e2e/pool: nowhere
EOF
sed -i 's|^image: ghcr.io/acme/echo-daemon:0.1.1$|image: ghcr.io/acme/echo-daemon:0.1.2|' "$ECHO"
t=$(now_ms)
rc=0
B apply -f "$ECHO" -n $BNS >"$WORK/apply7" 2>&1 &&
  { B status -f "$ECHO" -n $BNS --wait --timeout 30s >"$WORK/status5" 2>&1 || rc=$?; }
el=$(($(now_ms) - t))
if [ "$rc" = 1 ] && grep -q 'rollout did not finish within 30s' "$WORK/status5" &&
  grep -q 'Unschedulable' "$WORK/status5" && grep -q "didn't match Pod's node affinity/selector" "$WORK/status5" &&
  [ "$el" -lt 60000 ]; then
  pass "unschedulable rollout: berth status --wait --timeout 30s exits 1 in $((el / 1000)) s naming Unschedulable"
else
  fail "unschedulable rollout: status exits 1 with the reason" "rc=$rc after ${el} ms: $(tr '\n' ' ' <"$WORK/status5" 2>/dev/null)"
fi
sed -n '/^error:/,$p' "$WORK/status5" | sed 's/^/    /'
if [ "$(ready_pods $BNS "$(sel echo-daemon)")" -eq 2 ] &&
  [ "$(pod_images $BNS "$(sel echo-daemon)")" = "ghcr.io/acme/echo-daemon:0.1.1 ghcr.io/acme/echo-daemon:0.1.2" ]; then
  pass "unschedulable rollout: the 2 old pods stay Ready (maxUnavailable 0), the new one Pending"
else
  fail "unschedulable rollout keeps the old pods" "ready $(ready_pods $BNS "$(sel echo-daemon)"), images $(pod_images $BNS "$(sel echo-daemon)")"
fi

phase "done"
printf 'suite time: %s s\n' "$(awk -v a="$(now_ms)" -v b="$T0" 'BEGIN{printf "%.1f", (a-b)/1000}')"
e2e_summary
