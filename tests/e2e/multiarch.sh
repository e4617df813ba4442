#!/usr/bin/env bash
# Multi-arch end-to-end suite: echo-daemon built for every platform of its build.platforms
# (linux/amd64, linux/arm64), assembled into one multi-arch OCI image by `berth build` (no
# buildx), pushed to a registry on 127.0.0.1, pulled back and run: amd64 natively, arm64 under
# qemu user emulation. The Helm chart is packaged and pushed to the same registry. Every step
# is a step of the GitHub Actions workflow `berth generate --only ci` writes, read from it and
# run here as written (tests/e2e/multiarch/workflow.py); the workflow passes actionlint.
#
#   bash tests/e2e/multiarch.sh            # as root
#
# 1. The workflow: generated, actionlint clean; each `run:` step is either run below or one of
#    the runner set-up steps listed in SETUP_STEPS (with what replaces it here).
# 2. Base images: the Docker suite's (docker/base-images.sh) for amd64 and an arm64 stand-in of
#    distroless (multiarch/base-arm64.sh), pushed to the local registry as one index: the
#    `RUNTIME_IMAGE` berth build uses (BERTH_RUNTIME_IMAGE).
# 3. build job, per platform: the workflow's compile step. amd64 with this machine's Rust;
#    arm64 with Debian's rustc 1.96 and -Zbuild-std (rustup cannot download targets here) and
#    Debian's aarch64 cross gcc. Build time and binary size reported.
# 4. publish job: login, `berth build --skip-compile --push`, helm package, helm push.
# 5. The index lists exactly the platforms of build.platforms; per platform the manifest's
#    config has that os/architecture; size per platform reported; berth's layer is tar+gzip,
#    its diff_id the uncompressed tar's digest, both sizes reported; pushing again gives the
#    same digest (reproducible).
# 6. Each platform pulled back: the binary in the image is an x86-64 / AArch64 ELF; the amd64
#    image runs natively and the arm64 image under qemu (binfmt_misc registered by this suite,
#    removed on exit): health `healthy` via `--berth-probe`, /readyz 200, the probe answers.
# 7. The image config equals the config of the image `docker build` makes from the generated
#    Dockerfile (labels, user, entrypoint, cmd, env, healthcheck, stop signal, ports, workdir):
#    the Docker suite's image, recorded by tests/e2e/docker.sh for the same Dockerfile and base
#    image; built here only when there is no such record.
# 8. The chart pulled back from the registry (helm show chart oci://...).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$PWD
# shellcheck source=tests/e2e/lib/common.sh
source tests/e2e/lib/common.sh

GOBIN_DIR="$(go env GOPATH 2>/dev/null || echo /root/go)/bin"
export PATH="$GOBIN_DIR:$PATH"
PREFIX=berth-e2e-multiarch
ECHO_DIR=examples/echo-daemon
WORKFLOW_PY=$REPO/tests/e2e/multiarch/workflow.py
# The workflow's runner set-up steps and what stands in for each on this machine.
declare -A SETUP_STEPS=(
  ["build|Rust target and C cross compiler"]="rustup cannot download targets here: Debian's rustc-web + rust-web-src (-Zbuild-std) and gcc-aarch64-linux-gnu from .ci/install-deps.sh"
  ["build|Install berth"]="target/debug/berth built from this checkout"
  ["publish|Install berth, crane and helm"]="crane and helm from .ci/install-deps.sh (same go install), berth from this checkout"
  # The windows job's steps run in the Windows suite (tests/e2e/windows.sh), read from the
  # same generated workflow.
  ["windows|Rust target and MinGW linker"]="tests/e2e/windows/setup.sh: Debian's rustc-web + rust-web-src (-Zbuild-std) and gcc-mingw-w64-x86-64"
  ["windows|Install berth"]="target/debug/berth built from this checkout (tests/e2e/windows.sh)"
  ["windows|Compile the Windows service"]="run as written by tests/e2e/windows.sh"
  ["windows|Windows service package"]="run as written by tests/e2e/windows.sh"
)

WORK=$(mktemp -d /tmp/berth-e2e-multiarch.XXXXXX)
REGISTRY_PID=
CONTAINERS=()
IMAGES=()
BINFMT_MOUNTED=0
BINFMT_ENTRY=
DIST_CREATED=()

cleanup() {
  local rc=$?
  local c
  for c in "${CONTAINERS[@]}"; do "$DOCKER" rm -f "$c" >/dev/null 2>&1 || true; done
  for c in "${IMAGES[@]}"; do "$DOCKER" rmi -f "$c" >/dev/null 2>&1 || true; done
  [ -z "$REGISTRY_PID" ] || kill "$REGISTRY_PID" 2>/dev/null || true
  if [ -n "$BINFMT_ENTRY" ] && [ -e "/proc/sys/fs/binfmt_misc/$BINFMT_ENTRY" ]; then
    echo -1 >"/proc/sys/fs/binfmt_misc/$BINFMT_ENTRY" || true
  fi
  [ "$BINFMT_MOUNTED" = 0 ] || umount /proc/sys/fs/binfmt_misc || true
  for c in "${DIST_CREATED[@]}"; do rm -rf "$c"; done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FIG=()
figure() {
  FIG+=("$(printf '%-52s %s' "$1" "$2")")
  printf 'figure: %-52s %s\n' "$1" "$2"
}

# -- tools -------------------------------------------------------------------------------------
missing=()
for tool in crane actionlint helm qemu-aarch64-static aarch64-linux-gnu-gcc /usr/bin/cargo /usr/bin/rustc python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -d /usr/lib/rustlib/src/rust/library ] || missing+=(rust-web-src)
if ((${#missing[@]})); then
  e2e_log "missing ${missing[*]}: running .ci/install-deps.sh"
  bash .ci/install-deps.sh
fi
python3 -c 'import yaml' 2>/dev/null || e2e_die "python3 yaml module missing (pip install pyyaml)"

e2e_log "building berth"
cargo build --locked -q --bin berth
BERTH=$REPO/target/debug/berth
# The workflow's steps call `berth` from PATH (its install step puts it there in CI).
export PATH="$REPO/target/debug:$PATH"

# -- 1. the workflow ---------------------------------------------------------------------------
grep -q '^  platforms: \[linux/amd64, linux/arm64\]$' "$ECHO_DIR/berth.yaml" ||
  e2e_die "$ECHO_DIR/berth.yaml does not build for linux/amd64 and linux/arm64"
"$BERTH" generate -f "$ECHO_DIR/berth.yaml" --only ci -o "$WORK/generated" >"$WORK/generate.log" 2>&1 ||
  {
    cat "$WORK/generate.log" >&2
    e2e_die "berth generate --only ci failed"
  }
WF=$WORK/generated/ci/echo-daemon.yml
[ -f "$WF" ] || e2e_die "berth generate --only ci wrote no $WF"
if out=$(actionlint -no-color "$WF" 2>&1) && [ -z "$out" ]; then
  pass "workflow: actionlint $(actionlint -version | head -n 1) reports nothing"
else
  fail "workflow: actionlint reports nothing" "$out"
fi

# The workflow's environment, then the values this machine uses instead.
while IFS= read -r kv; do export "${kv?}"; done < <(python3 "$WORKFLOW_PY" "$WF" env)
WF_IMAGE=$IMAGE
WF_CHART_REPO=$CHART_REPO
# "job|step" of every step run (a file: run_step also runs in $(...) subshells).
RAN_STEPS=$WORK/ran-steps
: >"$RAN_STEPS"

# run_step JOB STEP [VAR=value...]: the step's `run:` script, in the description's directory,
# with the step's own env (matrix/secrets expressions replaced by the given values).
run_step() {
  local job=$1 step=$2 script log rc
  shift 2
  script=$(python3 "$WORKFLOW_PY" "$WF" run "$job" "$step") || return 1
  # The local registry serves plain HTTP (lib/common.sh plain_http_push).
  [ "$job|$step" != "publish|Push the chart" ] || script=$(plain_http_push "$script") || return 1
  log=$WORK/step-${job}-$(echo "$step" | tr -c 'a-zA-Z0-9' '_').log
  printf '%s|%s\n' "$job" "$step" >>"$RAN_STEPS"
  set +e
  (
    cd "$REPO/$ECHO_DIR"
    for kv in "$@"; do export "${kv?}"; done
    timeout 3600 bash -euo pipefail -c "$script"
  ) >"$log" 2>&1
  rc=$?
  set -e
  STEP_LOG=$log
  if [ "$rc" -ne 0 ]; then
    tail -n 25 "$log" >&2
  fi
  return "$rc"
}

# -- 2. registry and base images ---------------------------------------------------------------
ensure_dockerd
bash tests/e2e/docker/base-images.sh

start_registry "$WORK/registry"
pass "registry: crane registry serve on $REG"
export DOCKER_CONFIG=$WORK/docker-config HELM_REGISTRY_CONFIG=$WORK/helm/registry.json
export HELM_REPOSITORY_CACHE=$WORK/helm/cache HELM_CONFIG_HOME=$WORK/helm/config HELM_CACHE_HOME=$WORK/helm/cachehome
mkdir -p "$DOCKER_CONFIG"

BASE_REF=$REG/distroless/cc-debian12:nonroot
t0=$(now_ms)
"$DOCKER" tag gcr.io/distroless/cc-debian12:nonroot "$BASE_REF-amd64"
IMAGES+=("$BASE_REF-amd64")
timeout 300 "$DOCKER" push "$BASE_REF-amd64" >"$WORK/push-base-amd64.log" 2>&1 ||
  {
    cat "$WORK/push-base-amd64.log" >&2
    e2e_die "docker push of the amd64 base failed"
  }
bash tests/e2e/multiarch/base-arm64.sh "$WORK/base-arm64.tar"
crane append --platform linux/arm64 -f "$WORK/base-arm64.tar" -t "$BASE_REF-arm64-layer" >/dev/null
crane mutate "$BASE_REF-arm64-layer" --set-platform linux/arm64 --user 65532 --workdir /home/nonroot \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt -t "$BASE_REF-arm64" >/dev/null
crane index append -m "$BASE_REF-amd64" -m "$BASE_REF-arm64" -t "$BASE_REF" >/dev/null
base_platforms=$(crane manifest "$BASE_REF" | jq -r '[.manifests[].platform | "\(.os)/\(.architecture)"] | sort | join(" ")')
if [ "$base_platforms" = "linux/amd64 linux/arm64" ]; then
  pass "base: $BASE_REF is an index of linux/amd64 and linux/arm64 ($(secs $(($(now_ms) - t0))))"
else
  fail "base: index of linux/amd64 and linux/arm64" "got '$base_platforms'"
fi
export BERTH_RUNTIME_IMAGE=$BASE_REF

# -- 3. build job: one compile per platform ---------------------------------------------------
DIST=$REPO/$ECHO_DIR/dist
[ -e "$DIST" ] && e2e_die "$DIST exists: remove it (the suite writes the build's dist/ there)"
DIST_CREATED+=("$DIST")
declare -A BUILD_ENV=(
  [linux/amd64]=""
  # Debian's Rust 1.96 with its std source; RUSTC_BOOTSTRAP enables -Zbuild-std on a stable
  # compiler; the unstable table of Cargo's config comes from CARGO_UNSTABLE_*. The target
  # directory is the Windows suite's (lib/common.sh BUILD_STD_TARGET_DIR).
  [linux/arm64]="CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort CARGO_TARGET_DIR=$BUILD_STD_TARGET_DIR"
)
PLATFORMS=()
while IFS= read -r entry; do
  platform=$(tr ';' '\n' <<<"$entry" | sed -n 's/^platform=//p')
  PLATFORMS+=("$platform")
  read -r -a extra <<<"${BUILD_ENV[$platform]:-}"
  t0=$(now_ms)
  if run_step build "Compile for the platform" "PLATFORM=$platform" "${extra[@]}"; then
    ms=$(($(now_ms) - t0))
    size=$(stat -c %s "$DIST/${platform/\//-}/echo-daemon")
    pass "build $platform: berth build --no-image in $(secs "$ms"), binary $(mb "$size") MB"
    figure "compile echo-daemon for $platform" "$(secs "$ms")"
    figure "echo-daemon binary $platform" "$(mb "$size") MB"
  else
    fail "build $platform: the workflow's compile step" "see $STEP_LOG"
  fi
done < <(python3 "$WORKFLOW_PY" "$WF" matrix build)
[ "${PLATFORMS[*]}" = "linux/amd64 linux/arm64" ] ||
  fail "workflow: build matrix is linux/amd64 linux/arm64" "got ${PLATFORMS[*]}"

# -- 4. publish job ---------------------------------------------------------------------------
IMAGE=$REG/acme/echo-daemon:0.1.0
CHART_REPO=oci://$REG/acme/charts
REGISTRY=$REG
export IMAGE CHART_REPO REGISTRY
check "publish: log in to the registry (crane auth login, helm registry login)" \
  run_step publish "Log in to the registry" REGISTRY_USER=berth REGISTRY_PASSWORD=berth-e2e
t0=$(now_ms)
if run_step publish "Multi-arch image"; then
  pass "publish: berth build --skip-compile --push $IMAGE in $(secs $(($(now_ms) - t0)))"
  sed 's/^/    /' "$STEP_LOG"
else
  fail "publish: berth build --push" "see $STEP_LOG"
fi
check "publish: helm package" run_step publish "Package the chart"
check "publish: helm push to $CHART_REPO" run_step publish "Push the chart"
[ "$WF_IMAGE" = "ghcr.io/acme/echo-daemon:0.1.0" ] && [ "$WF_CHART_REPO" = "oci://ghcr.io/acme/charts" ] ||
  fail "workflow: IMAGE and CHART_REPO from berth.yaml's image" "$WF_IMAGE $WF_CHART_REPO"

# The test job's command is the first thing tests/run.sh runs.
check "workflow: cargo test step is what tests/run.sh runs" \
  grep -qx 'cargo test --workspace --locked' <(python3 "$WORKFLOW_PY" "$WF" run test "cargo test")
grep -qx 'cargo test --workspace --locked' tests/run.sh && echo "test|cargo test" >>"$RAN_STEPS"
# Every `run:` step of the workflow ran here, or is a runner set-up step with its stand-in.
while IFS=$'\t' read -r job step; do
  key="$job|$step"
  if grep -qxF "$key" "$RAN_STEPS"; then
    continue
  elif [ -n "${SETUP_STEPS[$key]:-}" ]; then
    printf '  set-up step %-45s here: %s\n' "'$step'" "${SETUP_STEPS[$key]}"
  else
    fail "workflow: step '$step' of job $job is run by this suite" "neither run nor a set-up step"
  fi
done < <(python3 "$WORKFLOW_PY" "$WF" steps)

# -- 5. the index ------------------------------------------------------------------------------
index=$(crane manifest "$IMAGE")
digest=$(crane digest "$IMAGE")
got=$(jq -r '[.manifests[] | "\(.platform.os)/\(.platform.architecture)"] | join(" ")' <<<"$index")
if [ "$(jq -r .mediaType <<<"$index")" = application/vnd.oci.image.index.v1+json ] && [ "$got" = "${PLATFORMS[*]}" ]; then
  pass "index: $IMAGE@$digest lists exactly ${PLATFORMS[*]}"
else
  fail "index lists exactly ${PLATFORMS[*]}" "got '$got' ($(jq -r .mediaType <<<"$index"))"
fi
for platform in "${PLATFORMS[@]}"; do
  manifest=$(crane manifest --platform "$platform" "$IMAGE")
  config=$(crane config --platform "$platform" "$IMAGE")
  size=$(jq '([.layers[].size] | add) + .config.size' <<<"$manifest")
  own=$(jq '.layers[-1].size' <<<"$manifest")
  check "index: $platform manifest's config says $(jq -r '"\(.os)/\(.architecture)"' <<<"$config")" \
    test "$(jq -r '"\(.os)/\(.architecture)"' <<<"$config")" = "$platform"
  figure "image size $platform (compressed base + berth layer)" "$(mb "$size") MB (berth's layer $(mb "$own") MB)"
  # berth's layer: gzip (deterministic, lib src/image.rs), its diff_id the uncompressed tar's.
  layer_digest=$(jq -r '.layers[-1].digest' <<<"$manifest")
  crane blob "${IMAGE%:*}@$layer_digest" >"$WORK/layer.tgz"
  tar_size=$(gzip -dc <"$WORK/layer.tgz" | wc -c)
  tar_digest=sha256:$(gzip -dc <"$WORK/layer.tgz" | sha256sum | cut -d' ' -f1)
  if [ "$(jq -r '.layers[-1].mediaType' <<<"$manifest")" = application/vnd.oci.image.layer.v1.tar+gzip ] &&
    [ "$(jq -r '.rootfs.diff_ids[-1]' <<<"$config")" = "$tar_digest" ] && [ "$own" -lt "$tar_size" ]; then
    pass "layer $platform: tar+gzip, $(mb "$own") MB from a $(mb "$tar_size") MB tar ($((own * 100 / tar_size)) %), diff_id = the tar's digest"
  else
    fail "layer $platform: tar+gzip with the tar's diff_id" "$(jq -r '.layers[-1].mediaType' <<<"$manifest") $own of $tar_size bytes; diff_id $(jq -r '.rootfs.diff_ids[-1]' <<<"$config") vs $tar_digest"
  fi
  figure "berth's layer $platform: gzip / uncompressed tar" "$(mb "$own") MB / $(mb "$tar_size") MB"
done
# Reproducible: assembling again from the same binaries and base gives the same index digest.
if run_step publish "Multi-arch image" && [ "$(crane digest "$IMAGE")" = "$digest" ]; then
  pass "index: a second berth build --push gives the same digest $digest"
else
  fail "index: reproducible digest" "now $(crane digest "$IMAGE" 2>&1), was $digest"
fi

# -- 6. pull each platform back and run it ------------------------------------------------------
elf_of() { # FILE → "ELF 64-bit LSB x86-64" ...
  python3 - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(20)
if b[:4] != b"\x7fELF":
    print("not ELF"); sys.exit()
machine = struct.unpack("<H" if b[5] == 1 else ">H", b[18:20])[0]
names = {0x3E: "x86-64", 0xB7: "AArch64"}
print("ELF %s-bit %s %s" % (32 * b[4], "LSB" if b[5] == 1 else "MSB", names.get(machine, hex(machine))))
PY
}

# binfmt_misc: qemu-aarch64-static for AArch64 ELF files, with the F flag (the interpreter is
# opened now, so it also works inside containers). Removed again on exit.
register_qemu() {
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || return 1
    BINFMT_MOUNTED=1
  fi
  local existing
  for existing in /proc/sys/fs/binfmt_misc/*; do
    if grep -qs '^magic 7f454c460201010000000000000000000200b700' "$existing" &&
      grep -qs '^enabled' "$existing" && grep -qs '^flags: .*F' "$existing"; then
      e2e_log "binfmt_misc already runs AArch64 binaries through $(sed -n 's/^interpreter //p' "$existing")"
      return 0
    fi
  done
  BINFMT_ENTRY=$PREFIX-aarch64
  local conf
  conf=$(sed -E "s/^:qemu-aarch64:/:$BINFMT_ENTRY:/; s#:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF#:$(command -v qemu-aarch64-static):F#" \
    /usr/lib/binfmt.d/qemu-aarch64.conf)
  printf '%s' "$conf" >/proc/sys/fs/binfmt_misc/register
}

for platform in "${PLATFORMS[@]}"; do
  arch=${platform#linux/}
  rootfs=$WORK/rootfs-$arch
  mkdir -p "$rootfs"
  crane export --platform "$platform" "$IMAGE" - | tar -C "$rootfs" -x usr/local/bin/echo-daemon
  want=$([ "$arch" = arm64 ] && echo "ELF 64-bit LSB AArch64" || echo "ELF 64-bit LSB x86-64")
  check "pull $platform: /usr/local/bin/echo-daemon is an $want" test "$(elf_of "$rootfs/usr/local/bin/echo-daemon")" = "$want"
done

if register_qemu; then
  pass "qemu: binfmt_misc runs AArch64 ELF files with $(qemu-aarch64-static --version | head -n 1)"
else
  fail "qemu: binfmt_misc registration" "could not mount or register binfmt_misc"
fi

run_platform() {
  local platform=$1 arch=${1#linux/}
  local tag=$PREFIX/echo-daemon:$arch name=$PREFIX-echo-$arch
  timeout 300 "$DOCKER" pull --platform "$platform" "$IMAGE" >"$WORK/pull-$arch.log" 2>&1 || {
    fail "$platform: docker pull --platform" "$(tail -n 3 "$WORK/pull-$arch.log")"
    return 0
  }
  "$DOCKER" tag "$IMAGE" "$tag"
  IMAGES+=("$tag" "$IMAGE")
  check "$platform: the pulled image is $platform" \
    test "$("$DOCKER" image inspect -f '{{.Os}}/{{.Architecture}}' "$tag")" = "$platform"
  local cfgdir=$WORK/echo-config
  mkdir -p "$cfgdir"
  cp "$ECHO_DIR/config/echo.toml" "$cfgdir/echo.toml"
  chmod 0644 "$cfgdir/echo.toml"
  "$DOCKER" rm -f "$name" >/dev/null 2>&1 || true
  CONTAINERS+=("$name")
  local t0 h deadline
  t0=$(now_ms)
  "$DOCKER" run -d --name "$name" --read-only --stop-timeout 30 --platform "$platform" \
    -p 127.0.0.1::9090 -p 127.0.0.1::8080 -v "$cfgdir:/etc/echo-daemon:ro" "$tag" >/dev/null
  # Under emulation the daemon starts slower: allow the image's start period (60 s) plus margin.
  deadline=$((t0 + 120000))
  h=starting
  while [ "$(now_ms)" -lt "$deadline" ]; do
    h=$(container_health "$name")
    [ "$h" = starting ] || break
    sleep 0.5
  done
  if [ "$h" = healthy ]; then
    pass "$platform: health 'healthy' (HEALTHCHECK runs the binary's --berth-probe) after $(secs $(($(now_ms) - t0)))"
    figure "docker run → healthy ($platform)" "$(secs $(($(now_ms) - t0)))"
  else
    fail "$platform: health 'healthy'" "status $h; $("$DOCKER" logs --tail 5 "$name" 2>&1 | tr '\n' ' ')"
    return 0
  fi
  local admin app
  admin=http://127.0.0.1:$("$DOCKER" port "$name" 9090/tcp | head -n 1 | sed 's/.*://')
  app=http://127.0.0.1:$("$DOCKER" port "$name" 8080/tcp | head -n 1 | sed 's/.*://')
  check "$platform: /readyz 200" curl -sf --max-time 10 "$admin/readyz"
  check "$platform: GET /echo?msg=$arch → 'echo $arch'" test "$(curl -sS --max-time 10 "$app/echo?msg=$arch")" = "echo $arch"
  check "$platform: docker exec <bin> --berth-probe readyz exits 0" \
    "$DOCKER" exec "$name" /usr/local/bin/echo-daemon --berth-probe readyz
  if [ "$arch" = arm64 ]; then
    # The process in the container is the AArch64 binary run by qemu (the F flag's interpreter).
    local pid exe
    pid=$("$DOCKER" inspect -f '{{.State.Pid}}' "$name")
    exe=$(readlink "/proc/$pid/exe" || true)
    check "$platform: the container's process runs under qemu ($exe)" grep -q qemu-aarch64 <<<"$exe"
  fi
  local t1
  t1=$(now_ms)
  "$DOCKER" stop -t 30 "$name" >/dev/null
  check "$platform: docker stop → exit code 0 (drained on SIGTERM) in $(secs $(($(now_ms) - t1)))" \
    test "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$name")" = 0
}
for platform in "${PLATFORMS[@]}"; do run_platform "$platform"; done

# -- 7. the same configuration as the Dockerfile's image --------------------------------------
# The Docker suite's image of the same Dockerfile on the same base when it recorded one (it runs
# first in tests/run.sh; lib/common.sh), else `docker build` of the Dockerfile here.
DOCKERFILE=$ECHO_DIR/deploy/docker/Dockerfile
fields='{Labels, User, Entrypoint, Cmd, Env, Healthcheck, StopSignal, ExposedPorts, WorkingDir}'
config_from=
if [ -f "$ECHO_CONFIG_RECORD" ] && [ "$(jq -r .key "$ECHO_CONFIG_RECORD")" = "$(dockerfile_config_key "$DOCKERFILE")" ]; then
  jq .config "$ECHO_CONFIG_RECORD" >"$WORK/config-dockerfile.raw"
  config_from="the Docker suite's image $(jq -r .image "$ECHO_CONFIG_RECORD" | cut -c1-19) of the same Dockerfile and base"
else
  DOCKERFILE_TAG=$PREFIX/echo-daemon:dockerfile
  t0=$(now_ms)
  if timeout 1800 "$DOCKER" build --progress=plain -f "$DOCKERFILE" -t "$DOCKERFILE_TAG" . \
    >"$WORK/docker-build.log" 2>&1; then
    IMAGES+=("$DOCKERFILE_TAG")
    figure "docker build of the Dockerfile (BuildKit, cache warm or cold)" "$(secs $(($(now_ms) - t0)))"
    "$DOCKER" image inspect -f '{{json .Config}}' "$DOCKERFILE_TAG" >"$WORK/config-dockerfile.raw"
    config_from="docker build's (no record of the Docker suite for this Dockerfile and base)"
  else
    tail -n 30 "$WORK/docker-build.log" >&2
    fail "config: docker build of the generated Dockerfile"
  fi
fi
if [ -n "$config_from" ]; then
  jq -S "$fields | .Env |= sort" "$WORK/config-dockerfile.raw" >"$WORK/config-dockerfile.json"
  crane config --platform linux/amd64 "$IMAGE" | jq -S ".config | $fields | .Env |= sort" >"$WORK/config-berth.json"
  if diff -u "$WORK/config-dockerfile.json" "$WORK/config-berth.json" >"$WORK/config.diff"; then
    pass "config: berth build's image config = $config_from ($(jq -c 'keys' "$WORK/config-berth.json"))"
  else
    fail "config: berth build's image config = $config_from" "$(head -n 30 "$WORK/config.diff" | tr '\n' ' ')"
  fi
fi

# -- 8. the chart back from the registry -------------------------------------------------------
chart_version=$(sed -n 's/^version: //p' "$ECHO_DIR/deploy/helm/echo-daemon/Chart.yaml")
if out=$(timeout 120 helm show chart "$CHART_REPO/echo-daemon" --version "$chart_version" --plain-http 2>&1) &&
  grep -qx 'name: echo-daemon' <<<"$out"; then
  pass "chart: helm show chart $CHART_REPO/echo-daemon --version $chart_version --plain-http"
else
  fail "chart: pulled back from the registry" "$out"
fi

printf '\nfigures:\n'
printf '  %s\n' "${FIG[@]}"
e2e_summary
