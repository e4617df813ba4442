#!/usr/bin/env bash
# Generates every golden fixture (tests/fixtures/*/berth.yaml) and every example
# (examples/*/berth.yaml) and checks the output with the tools its users run:
#   helm      helm lint --strict; helm template (default values, and with the
#             monitoring.coreos.com/v1 API so the ServiceMonitor renders) piped through
#             kubernetes-validate --strict for every Kubernetes version below
#   k8s       k8s/<name>.yaml through kubernetes-validate --strict, same versions
#   docker    hadolint (default level: any finding fails)
#   ci        `berth generate --only ci`: the GitHub Actions workflow through actionlint (any
#             finding fails)
#   systemd   systemd-analyze verify (exit 0 AND empty stderr) in a --root= with a stub
#             binary at the ExecStart path; systemd-analyze security --offline=true: a unit
#             without added capabilities must score <= 2.0, others are reported
# Prints one table row per case and exits non-zero when any check fails. Tools come from
# .ci/install-deps.sh (run here when one is missing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GOBIN_DIR="$(go env GOPATH 2>/dev/null || echo /root/go)/bin"
export PATH="$GOBIN_DIR:$PATH"

K8S_VERSIONS=(1.29.0 1.30.0 1.31.0 1.32.0 1.33.0)
SECURITY_MAX=2.0   # systemd-analyze security exposure for a unit without added capabilities
STEP_TIMEOUT=120   # seconds, per tool invocation

missing=()
for tool in helm kubernetes-validate hadolint systemd-analyze actionlint; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "validate-generated: missing ${missing[*]}; running .ci/install-deps.sh" >&2
  bash .ci/install-deps.sh
  for tool in "${missing[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "validate-generated: $tool is still missing" >&2; exit 1; }
  done
fi

echo "building berth (cargo build --locked)"
cargo build --locked -q --bin berth
BERTH="$ROOT/target/debug/berth"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-validate.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/out" "$WORK/logs" "$WORK/rendered"

# A root for systemd-analyze verify: the distribution's units (network-online.target ...)
# and, per case, a stub executable at the unit's ExecStart path.
SDROOT="$WORK/sdroot"
mkdir -p "$SDROOT/usr/lib/systemd" "$SDROOT/etc/systemd/system"
cp -a /usr/lib/systemd/system "$SDROOT/usr/lib/systemd/"

declare -A RESULT=()  # "<case>|<check>" -> cell text
declare -a CASES=()
failures=0

# Runs a check, records its cell, keeps its output as a log.
#   check CASE NAME -- command...
check() {
  local case=$1 name=$2
  shift 3
  local log="$WORK/logs/${case//\//_}.$name.log"
  if timeout "$STEP_TIMEOUT" "$@" >"$log" 2>&1; then
    RESULT["$case|$name"]=ok
  else
    RESULT["$case|$name"]=FAIL
    failures=$((failures + 1))
  fi
}

fail_cell() {
  local case=$1 name=$2 message=$3
  RESULT["$case|$name"]=FAIL
  printf '%s\n' "$message" >>"$WORK/logs/${case//\//_}.$name.log"
  failures=$((failures + 1))
}

descriptions=()
for f in tests/fixtures/*/berth.yaml examples/*/berth.yaml; do
  [ -f "$f" ] && descriptions+=("$f")
done
if ((${#descriptions[@]} == 0)); then
  echo "validate-generated: no description found" >&2
  exit 1
fi

# kubernetes-validate inputs, validated per version in one run at the end: "case|check|file".
declare -a KV_FILES=()

for desc in "${descriptions[@]}"; do
  dir=$(dirname "$desc")
  case_name="$(basename "$(dirname "$dir")")/$(basename "$dir")"
  case_name=${case_name/#tests\//}
  CASES+=("$case_name")
  out="$WORK/out/${case_name//\//_}"
  gen_log="$WORK/logs/${case_name//\//_}.generate.log"
  if ! timeout "$STEP_TIMEOUT" "$BERTH" generate -f "$desc" -o "$out" >"$gen_log" 2>&1; then
    fail_cell "$case_name" generate "berth generate failed"
    continue
  fi
  RESULT["$case_name|generate"]=ok

  chart=$(find "$out/helm" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -n 1 || true)
  unit=$(find "$out/systemd" -name '*.service' 2>/dev/null | head -n 1 || true)
  if [ -z "$chart" ] || [ -z "$unit" ] || [ ! -f "$out/docker/Dockerfile" ]; then
    fail_cell "$case_name" generate "berth generate did not write a chart, a unit and a Dockerfile"
    continue
  fi
  name=$(basename "$chart")

  # Helm.
  check "$case_name" lint -- helm lint --strict "$chart"
  # Rendered for each Kubernetes version (.Capabilities.KubeVersion), with default values
  # and with the Prometheus operator's API present (so the ServiceMonitor renders too).
  RESULT["$case_name|template"]=ok
  for version in "${K8S_VERSIONS[@]}"; do
    base="$WORK/rendered/${case_name//\//_}.$version"
    if timeout "$STEP_TIMEOUT" helm template "$name" "$chart" --kube-version "$version" \
      >"$base.helm.yaml" 2>"$base.err" &&
      timeout "$STEP_TIMEOUT" helm template "$name" "$chart" --kube-version "$version" \
        --api-versions monitoring.coreos.com/v1 >"$base.helm-monitoring.yaml" 2>>"$base.err"; then
      KV_FILES+=("$version|$case_name|template|$base.helm.yaml" "$version|$case_name|template|$base.helm-monitoring.yaml")
    else
      fail_cell "$case_name" template "helm template --kube-version $version failed: $(cat "$base.err")"
    fi
  done

  # Plain manifests.
  if [ -f "$out/k8s/$name.yaml" ]; then
    for version in "${K8S_VERSIONS[@]}"; do
      KV_FILES+=("$version|$case_name|k8s|$out/k8s/$name.yaml")
    done
    RESULT["$case_name|k8s"]=ok
  else
    fail_cell "$case_name" k8s "k8s/$name.yaml was not generated"
  fi

  # Dockerfile: any finding at hadolint's default level fails.
  # (run outside the repository, so no local .hadolint.yaml relaxes the rules)
  check "$case_name" hadolint -- env -C "$WORK" hadolint "$out/docker/Dockerfile"
  if [ "${RESULT["$case_name|hadolint"]:-}" = ok ] && [ -s "$WORK/logs/${case_name//\//_}.hadolint.log" ]; then
    fail_cell "$case_name" hadolint "hadolint printed findings"
  fi

  # CI workflow (a target only written when asked for): actionlint, any finding fails.
  ci_log="$WORK/logs/${case_name//\//_}.actionlint.log"
  if timeout "$STEP_TIMEOUT" "$BERTH" generate -f "$desc" -o "$out" --only ci >"$ci_log" 2>&1 &&
    [ -f "$out/ci/$name.yml" ] &&
    timeout "$STEP_TIMEOUT" actionlint -no-color "$out/ci/$name.yml" >"$ci_log" 2>&1 && [ ! -s "$ci_log" ]; then
    RESULT["$case_name|actionlint"]=ok
  else
    fail_cell "$case_name" actionlint "berth generate --only ci or actionlint failed"
  fi

  # systemd unit.
  unit_name=$(basename "$unit")
  # Every Exec*= command (ExecStart, ExecReload ...) gets a stub executable in the root.
  mapfile -t exec_paths < <(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\(\/[^ ]*\).*/\1/p' "$unit" | sort -u)
  for exec_path in "${exec_paths[@]}"; do
    install -D -m 0755 /dev/null "$SDROOT$exec_path"
    printf '#!/bin/sh\nexit 0\n' >"$SDROOT$exec_path"
  done
  cp "$unit" "$SDROOT/etc/systemd/system/$unit_name"
  verify_log="$WORK/logs/${case_name//\//_}.verify.log"
  if timeout "$STEP_TIMEOUT" systemd-analyze verify --root="$SDROOT" "/etc/systemd/system/$unit_name" \
    >"$verify_log" 2>&1 && [ ! -s "$verify_log" ]; then
    RESULT["$case_name|verify"]=ok
  else
    fail_cell "$case_name" verify "systemd-analyze verify: non-zero exit or output"
  fi
  rm -f "$SDROOT/etc/systemd/system/$unit_name"
  for exec_path in "${exec_paths[@]}"; do rm -f "$SDROOT$exec_path"; done

  security_log="$WORK/logs/${case_name//\//_}.security.log"
  caps=$(sed -n 's/^AmbientCapabilities=//p' "$unit" | tail -n 1)
  threshold=100
  [ -z "$caps" ] && threshold=$(awk -v m="$SECURITY_MAX" 'BEGIN { printf "%d", m * 10 }')
  set +e
  timeout "$STEP_TIMEOUT" systemd-analyze security --offline=true --threshold="$threshold" "$unit" >"$security_log" 2>&1
  rc=$?
  set -e
  score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$security_log" | tail -n 1)
  if [ -z "$score" ]; then
    fail_cell "$case_name" security "no exposure level in the output"
  elif [ -z "$caps" ]; then
    if [ "$rc" -eq 0 ]; then
      RESULT["$case_name|security"]="$score ok"
    else
      fail_cell "$case_name" security "exposure $score above $SECURITY_MAX"
      RESULT["$case_name|security"]="$score FAIL"
    fi
  else
    RESULT["$case_name|security"]="$score caps"
  fi
done

# kubernetes-validate --strict: one run per version over every file rendered or written for
# it; errors name their file. Entries are "version|case|check|file".
for version in "${K8S_VERSIONS[@]}"; do
  files=()
  for entry in "${KV_FILES[@]}"; do
    [ "${entry%%|*}" = "$version" ] && files+=("${entry##*|}")
  done
  ((${#files[@]})) || continue
  kv_log="$WORK/logs/kubernetes-validate-$version.log"
  set +e
  timeout "$STEP_TIMEOUT" kubernetes-validate --strict --quiet -k "$version" "${files[@]}" >"$kv_log" 2>&1
  rc=$?
  set -e
  attributed=0
  for entry in "${KV_FILES[@]}"; do
    [ "${entry%%|*}" = "$version" ] || continue
    file=${entry##*|}
    rest=${entry%|*}
    rest=${rest#*|}
    case_name=${rest%|*}
    what=${rest##*|}
    if grep -v '^WARN' "$kv_log" | grep -qF "$file"; then
      attributed=1
      RESULT["$case_name|$what"]=FAIL
      grep -F "$file" "$kv_log" | sed "s/^/[$version] /" >>"$WORK/logs/${case_name//\//_}.$what.log"
      failures=$((failures + 1))
    fi
  done
  if [ "$rc" -ne 0 ] && [ "$attributed" -eq 0 ]; then
    echo "kubernetes-validate $version failed without naming a file:" >&2
    cat "$kv_log" >&2
    failures=$((failures + 1))
  fi
done

kv_range="${K8S_VERSIONS[0]%.0}-${K8S_VERSIONS[-1]%.0}"
printf '\n%-38s %-8s %-6s %-14s %-14s %-9s %-10s %-7s %s\n' case generate lint \
  "template $kv_range" "k8s $kv_range" hadolint actionlint verify "security (max $SECURITY_MAX)"
for c in "${CASES[@]}"; do
  printf '%-38s %-8s %-6s %-14s %-14s %-9s %-10s %-7s %s\n' "$c" \
    "${RESULT["$c|generate"]:--}" "${RESULT["$c|lint"]:--}" "${RESULT["$c|template"]:--}" \
    "${RESULT["$c|k8s"]:--}" "${RESULT["$c|hadolint"]:--}" "${RESULT["$c|actionlint"]:--}" \
    "${RESULT["$c|verify"]:--}" "${RESULT["$c|security"]:--}"
done

if ((failures)); then
  echo
  echo "validate-generated: $failures failure(s); the output of each failed check:"
  for key in "${!RESULT[@]}"; do
    [[ ${RESULT[$key]} == *FAIL* ]] || continue
    c=${key%|*}
    what=${key##*|}
    log="$WORK/logs/${c//\//_}.$what.log"
    echo "---- $c: $what"
    [ -f "$log" ] && head -n 40 "$log"
  done
  exit 1
fi
echo
echo "validate-generated: ${#CASES[@]} cases, every check passed (kubernetes-validate ${K8S_VERSIONS[*]})"
