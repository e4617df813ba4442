#!/usr/bin/env bash
# Generates every golden fixture (tests/fixtures/*/berth.yaml) and every example
# (examples/*/berth.yaml) and checks the output with the tools its users run:
#   helm      `helm lint --strict` with Helm 3 (helm) and Helm 4 (helm4); `helm template`
#             (default values, and with the monitoring.coreos.com/v1 API so the ServiceMonitor
#             renders) for every Kubernetes version below with both: Helm 4's output must equal
#             Helm 3's line for line (blank lines aside: Helm 4 keeps each template's trailing
#             newline); piped through kubernetes-validate --strict per version
#   k8s       k8s/<name>.yaml through kubernetes-validate --strict, same versions
#   docker    hadolint (default level: any finding fails)
#   ci        `berth generate --only ci`: the GitHub Actions workflow through actionlint (any
#             finding fails)
#   systemd   systemd-analyze verify (exit 0 AND empty stderr) in a --root= with a stub
#             binary at the ExecStart path; systemd-analyze security --offline=true: a unit
#             without added capabilities must score <= 2.0, others are reported
#   linters   checkov (frameworks kubernetes, helm, dockerfile; one run over every case) and
#             kube-score (plain manifests and the chart's default render): any finding fails.
#             Deliberate choices are skips that carry their reason in the output (checkov.io/
#             skipN "ID=reason" annotations, `# checkov:skip=ID:reason` in the Dockerfile,
#             kube-score/ignore plus a kube-score.berth.io/<check> reason annotation each); a
#             skip without a reason fails too.
#   gaps      tests/lint-gaps/*/berth.yaml: descriptions with a deliberate unexplained finding
#             (and their Dockerfile's checkov skip comment removed). The linter check above must
#             flag each finding named in its `# expect-checkov:` / `# expect-kube-score:` lines,
#             proving that a new unexplained finding fails this script.
# Prints one table row per case, per-phase timings, and exits non-zero when any check fails.
# Tools come from .ci/install-deps.sh (run here when one is missing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
GOBIN_DIR="$(go env GOPATH 2>/dev/null || echo /root/go)/bin"
export PATH="$GOBIN_DIR:$PATH"
# The Helm binaries (.ci/install-deps.sh: helm = Helm 3, helm4 = Helm 4); HELM/HELM4 override.
HELM=${HELM:-helm}
HELM4=${HELM4:-helm4}

# The supported range (README): the oldest and newest Kubernetes berth promises, every minor between.
K8S_VERSIONS=(1.29.0 1.30.0 1.31.0 1.32.0 1.33.0 1.34.0 1.35.0 1.36.0 1.37.0)
CHECKOV=${CHECKOV:-${BERTH_E2E_CACHE:-/var/cache/berth-e2e}/checkov-venv/bin/checkov}
SECURITY_MAX=2.0   # systemd-analyze security exposure for a unit without added capabilities
STEP_TIMEOUT=120   # seconds, per tool invocation

T0=$(date +%s)
phase_time() { printf '[validate-generated %4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }

missing=()
for tool in "$HELM" "$HELM4" kube-score kubernetes-validate hadolint actionlint systemd-analyze "$CHECKOV"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "validate-generated: missing ${missing[*]}; running .ci/install-deps.sh" >&2
  bash .ci/install-deps.sh
  for tool in "${missing[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "validate-generated: $tool is still missing" >&2; exit 1; }
  done
fi
echo "tools: $("$HELM" version --short) and $("$HELM4" version --short), kubernetes-validate $(python3 -m pip show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p'), checkov $("$CHECKOV" --version), kube-score $(kube-score version | head -n 1)"

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

# Linter findings without a reason, one per line as "<tool> <id> <object or file>", for the
# files of one case. kube_score CASE FILE...: kube-score, every WARNING or CRITICAL.
unexplained_kube_score() {
  local log=$1
  shift
  set +e
  timeout "$STEP_TIMEOUT" kube-score score --output-format json "$@" >"$log" 2>"$log.err"
  local rc=$?
  set -e
  # Each check of each object: a grade below 10 (7 almost OK, 5 warning, 1 critical) on a
  # check that is not skipped (kube-score/ignore or not applicable) is a finding.
  if ! jq -r '.[] | (.type_meta.kind + "/" + .object_name) as $obj | .checks[]
      | select(.skipped | not) | select(.grade < 10)
      | "kube-score \(.check.id) \($obj): \([.comments[]?.summary] | join("; "))"' "$log" 2>/dev/null; then
    echo "kube-score error rc=$rc: $(tail -n 3 "$log.err" | tr '\n' ' ')"
  fi
}
kube_score() {
  local log=$1
  shift
  set +e
  timeout "$STEP_TIMEOUT" kube-score score --output-format ci "$@" >"$log" 2>&1
  local rc=$?
  set -e
  # ci format: "[CRITICAL] <object>: <message>"; the check ID is not printed, so name the
  # finding by its message (kube-score's check names are in the json format, used for gaps).
  grep -E '^\[(WARNING|CRITICAL)\]' "$log" | sed 's/^\[\([A-Z]*\)\] /kube-score \1 /' || true
  # Anything else kube-score could not score (a parse error) is a failure too.
  if [ "$rc" -ne 0 ] && ! grep -qE '^\[(WARNING|CRITICAL)\]' "$log"; then
    echo "kube-score error rc=$rc: $(tail -n 3 "$log" | tr '\n' ' ')"
  fi
}
kube_score() {
  local case_name=$1
  shift
  local log="$WORK/logs/${case_name//\//_}.kube-score.log"
  local found
  found=$(unexplained_kube_score "$log.raw" "$@")
  if [ -n "$found" ]; then
    fail_cell "$case_name" kube-score "findings without a reason:
$found"
  else
    RESULT["$case_name|kube-score"]=ok
  fi
}

# Every skip must carry its reason: checkov.io/skipN "CKV..=reason", every kube-score/ignore ID
# a non-empty kube-score.berth.io/<ID>, every `# checkov:skip=ID:reason` in a Dockerfile.
# Prints "<file>: <problem>" per skip without a reason.
skips_without_reason() {
  python3 - "$@" <<'PY'
import re, sys, yaml
for path in sys.argv[1:]:
    text = open(path).read()
    if path.endswith("Dockerfile"):
        for m in re.finditer(r"checkov:skip=([A-Z0-9_]*)(:?)(.*)", text):
            if not m.group(1) or not m.group(2) or not m.group(3).strip():
                print(f"{path}: checkov skip without a reason: {m.group(0)}")
        continue
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict):
            continue
        metas = [doc.get("metadata") or {}]
        template = ((doc.get("spec") or {}).get("template") or {}).get("metadata")
        if template:
            metas.append(template)
        where = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        for meta in metas:
            ann = meta.get("annotations") or {}
            for key, value in ann.items():
                if key.startswith("checkov.io/skip") and not re.fullmatch(r"CKV2?_[A-Z0-9_]+=\S.*", str(value)):
                    print(f"{path}: {where}: {key} without a reason: {value!r}")
            for check in filter(None, str(ann.get("kube-score/ignore", "")).split(",")):
                reason = ann.get(f"kube-score.berth.io/{check.strip()}")
                if not reason or not str(reason).strip():
                    print(f"{path}: {where}: kube-score/ignore {check} without a kube-score.berth.io/{check} reason")
PY
}

descriptions=()
for f in tests/fixtures/*/berth.yaml examples/*/berth.yaml; do
  [ -f "$f" ] && descriptions+=("$f")
done
gaps=()
for f in tests/lint-gaps/*/berth.yaml; do
  [ -f "$f" ] && gaps+=("$f")
done
((${#gaps[@]})) || { echo "validate-generated: no tests/lint-gaps/*/berth.yaml" >&2; exit 1; }
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

  # Helm, both majors.
  check "$case_name" lint -- "$HELM" lint --strict "$chart"
  check "$case_name" lint4 -- "$HELM4" lint --strict "$chart"
  # Rendered for each Kubernetes version (.Capabilities.KubeVersion), with default values
  # and with the Prometheus operator's API present (so the ServiceMonitor renders too), by
  # Helm 3; Helm 4 must render the very same bytes.
  RESULT["$case_name|template"]=ok
  RESULT["$case_name|template4"]=ok
  for version in "${K8S_VERSIONS[@]}"; do
    base="$WORK/rendered/${case_name//\//_}.$version"
    for variant in helm helm-monitoring; do
      api=()
      [ "$variant" = helm-monitoring ] && api=(--api-versions monitoring.coreos.com/v1)
      if timeout "$STEP_TIMEOUT" "$HELM" template "$name" "$chart" --kube-version "$version" "${api[@]}" \
        >"$base.$variant.yaml" 2>"$base.err"; then
        KV_FILES+=("$version|$case_name|template|$base.$variant.yaml")
      else
        fail_cell "$case_name" template "helm template --kube-version $version ${api[*]} failed: $(cat "$base.err")"
        continue
      fi
      if ! timeout "$STEP_TIMEOUT" "$HELM4" template "$name" "$chart" --kube-version "$version" "${api[@]}" \
        >"$base.$variant.helm4.yaml" 2>"$base.err4"; then
        fail_cell "$case_name" template4 "helm4 template --kube-version $version ${api[*]} failed: $(cat "$base.err4")"
      elif ! cmp -s <(grep -v '^$' "$base.$variant.yaml") <(grep -v '^$' "$base.$variant.helm4.yaml"); then
        # Blank lines aside: Helm 4 keeps each template's trailing newline (Helm 3 trims it).
        fail_cell "$case_name" template4 "helm4 template --kube-version $version ${api[*]} differs from helm's: $(diff <(grep -v '^$' "$base.$variant.yaml") <(grep -v '^$' "$base.$variant.helm4.yaml") | head -n 20)"
      fi
    done
  done
  # kube-score on the plain manifests and the chart's default render.
  kube_score "$case_name" "$out/k8s/$name.yaml" "$WORK/rendered/${case_name//\//_}.${K8S_VERSIONS[-1]}.helm.yaml"

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

phase_time "cases generated and checked with helm, helm4, hadolint, systemd-analyze, kube-score"

# Skips must carry reasons: the plain manifests, the chart's renders and the Dockerfile.
for c in "${CASES[@]}"; do
  [ "${RESULT["$c|generate"]:-}" = ok ] || continue
  o="$WORK/out/${c//\//_}"
  r="$WORK/rendered/${c//\//_}.${K8S_VERSIONS[-1]}"
  found=$(skips_without_reason "$o"/k8s/*.yaml "$r.helm.yaml" "$r.helm-monitoring.yaml" "$o/docker/Dockerfile" 2>&1)
  if [ -n "$found" ]; then
    fail_cell "$c" reasons "$found"
  else
    RESULT["$c|reasons"]=ok
  fi
done

# The gap cases: generated next to the others (out/gap_<name>), their Dockerfile's checkov
# skip comments removed, scanned by the same checks; each expected finding must be reported.
declare -a GAP_CASES=()
for desc in "${gaps[@]}"; do
  g="gap_$(basename "$(dirname "$desc")")"
  GAP_CASES+=("$g")
  if ! timeout "$STEP_TIMEOUT" "$BERTH" generate -f "$desc" -o "$WORK/out/$g" --only docker,helm,k8s \
    >"$WORK/logs/$g.generate.log" 2>&1; then
    fail_cell "$g" gap "berth generate failed: $(tail -n 3 "$WORK/logs/$g.generate.log")"
    continue
  fi
  sed -i '/checkov:skip=/d' "$WORK/out/$g/docker/Dockerfile"
done

# checkov: one run over every case (7 s instead of 7 s per case); findings are attributed to
# their case by the first component of their path.
CHECKOV_JSON="$WORK/logs/checkov.json"
set +e
timeout 600 "$CHECKOV" -d "$WORK/out" --framework kubernetes helm dockerfile --skip-download \
  -o json >"$CHECKOV_JSON" 2>"$WORK/logs/checkov.err"
set -e
if ! jq -e 'if type == "array" then . else [.] end | length == 3' "$CHECKOV_JSON" >/dev/null 2>&1; then
  echo "validate-generated: checkov did not report the three frameworks:" >&2
  tail -n 20 "$WORK/logs/checkov.err" >&2
  failures=$((failures + 1))
fi
checkov_findings() { # CASE_DIR: "checkov <ID> <resource> (<file>)" per failed check or parse error
  jq -r --arg dir "$1" 'if type == "array" then .[] else . end
    | (.results.failed_checks[]?
        | select(.file_path | ltrimstr("/") | startswith($dir + "/"))
        | "checkov \(.check_id) \(.resource) (\(.file_path))"),
      (.results.parsing_errors[]? | select(ltrimstr("/") | startswith($dir + "/"))
        | "checkov parsing-error \(.)")' "$CHECKOV_JSON" 2>/dev/null || true
}
for c in "${CASES[@]}"; do
  [ "${RESULT["$c|generate"]:-}" = ok ] || continue
  found=$(checkov_findings "${c//\//_}")
  if [ -n "$found" ]; then
    fail_cell "$c" checkov "findings without a reason:
$found"
  else
    RESULT["$c|checkov"]=ok
  fi
done
for g in "${GAP_CASES[@]}"; do
  [ -d "$WORK/out/$g/k8s" ] || continue
  desc="tests/lint-gaps/${g#gap_}/berth.yaml"
  name=$(basename "$WORK/out/$g"/k8s/*.yaml .yaml)
  if ! "$HELM" template "$name" "$WORK/out/$g/helm/$name" >"$WORK/rendered/$g.helm.yaml" 2>>"$WORK/logs/$g.gap.log"; then
    fail_cell "$g" gap "helm template failed"
    continue
  fi
  found="$(checkov_findings "$g")
$(unexplained_kube_score "$WORK/logs/$g.kube-score.json" "$WORK/out/$g/k8s/$name.yaml" "$WORK/rendered/$g.helm.yaml")"
  printf '%s\n' "$found" >"$WORK/logs/$g.findings.log"
  missed=()
  for id in $(sed -n 's/^# expect-checkov://p' "$desc"); do
    grep -q "^checkov $id " <<<"$found" || missed+=("checkov $id")
  done
  for id in $(sed -n 's/^# expect-kube-score://p' "$desc"); do
    grep -q "^kube-score $id " <<<"$found" || missed+=("kube-score $id")
  done
  n=$(grep -c . <<<"$found" || true)
  if ((${#missed[@]})); then
    fail_cell "$g" gap "not caught: ${missed[*]}; reported: $found"
  elif [ "$n" -eq 0 ]; then
    fail_cell "$g" gap "no finding reported at all"
  else
    RESULT["$g|gap"]="caught ($n findings)"
  fi
done
phase_time "checkov and the gap cases"

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

phase_time "kubernetes-validate ${K8S_VERSIONS[*]}"

kv_range="${K8S_VERSIONS[0]%.0}-${K8S_VERSIONS[-1]%.0}"
row='%-38s %-8s %-6s %-6s %-14s %-9s %-14s %-9s %-10s %-7s %-13s %-8s %-10s %s\n'
# shellcheck disable=SC2059
printf "\n$row" case generate lint lint4 "template $kv_range" template4 "k8s $kv_range" \
  hadolint actionlint verify "security<=$SECURITY_MAX" checkov kube-score reasons
for c in "${CASES[@]}"; do
  # shellcheck disable=SC2059
  printf "$row" "$c" \
    "${RESULT["$c|generate"]:--}" "${RESULT["$c|lint"]:--}" "${RESULT["$c|lint4"]:--}" \
    "${RESULT["$c|template"]:--}" "${RESULT["$c|template4"]:--}" "${RESULT["$c|k8s"]:--}" \
    "${RESULT["$c|hadolint"]:--}" "${RESULT["$c|actionlint"]:--}" "${RESULT["$c|verify"]:--}" \
    "${RESULT["$c|security"]:--}" "${RESULT["$c|checkov"]:--}" "${RESULT["$c|kube-score"]:--}" "${RESULT["$c|reasons"]:--}"
done
echo
for g in "${GAP_CASES[@]}"; do
  printf '%-38s deliberate gap: %s\n' "$g" "${RESULT["$g|gap"]:--}"
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
echo "validate-generated: ${#CASES[@]} cases, every check passed (helm and helm4, kubernetes-validate ${K8S_VERSIONS[*]}, checkov, kube-score); ${#GAP_CASES[@]} deliberate gap(s) caught; $(($(date +%s) - T0)) s"
