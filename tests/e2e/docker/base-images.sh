#!/usr/bin/env bash
# Builds, locally and without any registry, the base images the generated Dockerfile names,
# under exactly those tags, and caches them in the local engine between runs:
#
#   debian:bookworm-slim                  debootstrap --variant=minbase bookworm
#   rust:<RUST_VERSION>-slim-bookworm     that + gcc libc6-dev pkg-config + this machine's
#                                         Rust toolchain + this machine's CA bundle
#   gcr.io/distroless/cc-debian12:nonroot only libc6, libgcc-s1, the CA bundle, passwd/group
#                                         with nonroot (65532), USER 65532
#
# An image that already exists is kept (delete it, or set BERTH_E2E_REBUILD_BASES=1, to
# rebuild). Prints the time of every step. Usage: bash tests/e2e/docker/base-images.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
# shellcheck source=tests/e2e/lib/common.sh
source tests/e2e/lib/common.sh

RUST_VERSION=${RUST_VERSION:-1.95}
SUITE=bookworm
DEBIAN_TAG=debian:bookworm-slim
RUST_TAG=rust:${RUST_VERSION}-slim-bookworm
DISTROLESS_TAG=gcr.io/distroless/cc-debian12:nonroot
ROOTFS=$BERTH_E2E_CACHE/rootfs/$SUITE-minbase
REBUILD=${BERTH_E2E_REBUILD_BASES:-0}

step() {
  STEP_NAME=$1
  STEP_T0=$(now_ms)
  e2e_log "base images: $STEP_NAME"
}
step_done() {
  local ms=$(($(now_ms) - STEP_T0))
  printf 'base images: %-55s %6.1f s\n' "$STEP_NAME" "$(awk -v m="$ms" 'BEGIN{print m/1000}')"
}
wanted() { [ "$REBUILD" = 1 ] || ! image_exists "$1"; }

# -- 1. the Debian root file system (shared by all three images) -------------------------
ensure_rootfs() {
  if [ -f "$ROOTFS/.berth-complete" ] && [ "$REBUILD" != 1 ]; then
    return 0
  fi
  command -v debootstrap >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  local mirror
  mirror=$(debian_mirror)
  step "debootstrap --variant=minbase $SUITE ($mirror)"
  rm -rf "$ROOTFS"
  mkdir -p "$(dirname "$ROOTFS")"
  # ca-certificates: the distroless stand-in takes Debian's CA bundle from this tree.
  timeout 900 debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$ROOTFS" "$mirror" \
    >"$BERTH_E2E_CACHE/debootstrap.log" 2>&1 ||
    {
      tail -n 20 "$BERTH_E2E_CACHE/debootstrap.log" >&2
      e2e_die "debootstrap failed"
    }
  # Slim it like the official -slim image: no package caches, apt lists, docs or man pages.
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/*
  # debootstrap copies the machine's resolv.conf and hostname; docker provides its own.
  rm -f "$ROOTFS"/etc/resolv.conf "$ROOTFS"/etc/hostname
  touch "$ROOTFS/.berth-complete"
  step_done
}

# -- 2. debian:bookworm-slim ------------------------------------------------------------------
build_debian() {
  wanted "$DEBIAN_TAG" || {
    e2e_log "base images: $DEBIAN_TAG cached"
    return 0
  }
  ensure_rootfs
  step "docker import $DEBIAN_TAG"
  tar -C "$ROOTFS" --exclude=./.berth-complete -c . |
    "$DOCKER" import --change 'CMD ["bash"]' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      - "$DEBIAN_TAG" >/dev/null
  step_done
}

# -- 3. rust:<version>-slim-bookworm ------------------------------------------------------------
build_rust() {
  wanted "$RUST_TAG" || {
    e2e_log "base images: $RUST_TAG cached"
    return 0
  }
  local sysroot host
  sysroot=$(rustc "+$RUST_VERSION" --print sysroot 2>/dev/null || rustc --print sysroot)
  sysroot=$(readlink -f "$sysroot")
  host=$(rustc --print host-tuple 2>/dev/null || rustc -vV | sed -n 's/^host: //p')
  local have
  have=$("$sysroot/bin/rustc" --version | awk '{print $2}')
  case "$have" in
  "$RUST_VERSION" | "$RUST_VERSION".*) ;;
  *) e2e_die "this machine's toolchain is $have, not $RUST_VERSION: cannot make $RUST_TAG" ;;
  esac
  local ca=/etc/ssl/certs/ca-certificates.crt
  [ -f "$ca" ] || e2e_die "$ca missing (apt-get install ca-certificates)"

  step "$RUST_TAG: apt-get install gcc libc6-dev pkg-config"
  local cname=berth-e2e-mkrust-$$
  "$DOCKER" rm -f "$cname" >/dev/null 2>&1 || true
  # The machine's toolchain (without its 800 MB of HTML docs) and CA bundle come in through
  # read-only bind mounts; the container's apt reaches the same Debian mirror as the machine.
  "$DOCKER" run -d --name "$cname" \
    -v "$sysroot:/mnt/toolchain:ro" -v "$ca:/mnt/ca-certificates.crt:ro" \
    "$DEBIAN_TAG" sleep 3600 >/dev/null
  # shellcheck disable=SC2064
  trap "'$DOCKER' rm -f '$cname' >/dev/null 2>&1 || true" EXIT
  "$DOCKER" exec "$cname" sh -ec '
    mkdir -p /etc/ssl/certs
    cp /mnt/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -qq
    timeout 600 apt-get install -y -qq --no-install-recommends gcc libc6-dev pkg-config ca-certificates >/dev/null
    # ca-certificates regenerates the bundle from Debian'"'"'s CAs: put the machine'"'"'s back
    # (it also trusts whatever proxy this machine reaches crates.io through).
    cp /mnt/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
    apt-get clean
    rm -rf /var/lib/apt/lists/*
  '
  step_done

  step "$RUST_TAG: copy toolchain $(basename "$sysroot") + commit"
  "$DOCKER" exec -e HOST="$host" -e TC="$RUST_VERSION-$host" "$cname" sh -ec '
    dest=/usr/local/rustup/toolchains/$TC
    mkdir -p "$dest" /usr/local/cargo/bin
    cd /mnt/toolchain
    tar -c --exclude=./share/doc . | tar -C "$dest" -x
    for b in "$dest"/bin/*; do ln -sf "$b" /usr/local/cargo/bin/; done
    /usr/local/cargo/bin/cargo --version
    /usr/local/cargo/bin/rustc --version
  '
  "$DOCKER" stop -t 0 "$cname" >/dev/null
  "$DOCKER" commit \
    --change 'ENV RUSTUP_HOME=/usr/local/rustup' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV RUST_VERSION=$RUST_VERSION" \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["bash"]' \
    "$cname" "$RUST_TAG" >/dev/null
  "$DOCKER" rm -f "$cname" >/dev/null
  trap - EXIT
  step_done
}

# -- 4. gcr.io/distroless/cc-debian12:nonroot -----------------------------------------------
# Only the files of libc6 and libgcc-s1 (from dpkg's own file lists), the CA bundle, and the
# few /etc files distroless ships: the size of this image is meaningful.
build_distroless() {
  wanted "$DISTROLESS_TAG" || {
    e2e_log "base images: $DISTROLESS_TAG cached"
    return 0
  }
  ensure_rootfs
  step "$DISTROLESS_TAG: minimal root file system + import"
  local stage
  stage=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$stage'" RETURN
  (
    cd "$ROOTFS"
    local list p dir real
    for list in var/lib/dpkg/info/libc6:amd64.list var/lib/dpkg/info/libc6.list \
      var/lib/dpkg/info/libgcc-s1:amd64.list var/lib/dpkg/info/libgcc-s1.list; do
      [ -f "$list" ] || continue
      while IFS= read -r p; do
        [ -n "$p" ] && [ "$p" != "/." ] || continue
        # Resolve the directory part (merged /usr: /lib64 -> usr/lib64) and keep the name.
        dir=$(dirname "$p")
        real=$(readlink -f "./$dir")
        real=${real#"$PWD"}
        p="$real/$(basename "$p")"
        [ -e ".$p" ] || [ -L ".$p" ] || continue
        [ -d ".$p" ] && [ ! -L ".$p" ] && continue
        # Documentation is not in distroless either.
        case "$p" in /usr/share/doc/* | /usr/share/lintian/* | /usr/share/man/*) continue ;; esac
        cp -a --parents ".$p" "$stage/"
      done <"$list"
    done
    # The merged-/usr links, the CA bundle, and the name service files.
    cp -a lib lib64 bin sbin "$stage/" 2>/dev/null || true
    cp -a --parents ./etc/ssl/certs/ca-certificates.crt ./etc/nsswitch.conf ./etc/os-release \
      ./usr/lib/os-release "$stage/"
  )
  mkdir -p "$stage/tmp" "$stage/home/nonroot" "$stage/root" "$stage/etc"
  chmod 1777 "$stage/tmp"
  chmod 0700 "$stage/root"
  chown 65532:65532 "$stage/home/nonroot"
  cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$stage/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
  tar -C "$stage" -c . |
    "$DOCKER" import \
      --change 'USER 65532' \
      --change 'WORKDIR /home/nonroot' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
      - "$DISTROLESS_TAG" >/dev/null
  step_done
}

main() {
  local t0
  t0=$(now_ms)
  ensure_dockerd
  build_debian
  build_rust
  build_distroless
  local tag
  for tag in "$DEBIAN_TAG" "$RUST_TAG" "$DISTROLESS_TAG"; do
    printf 'base images: %-40s %8s MB\n' "$tag" "$(mb "$(image_size_bytes "$tag")")"
  done
  printf 'base images: ready in %.1f s\n' "$(awk -v m="$(($(now_ms) - t0))" 'BEGIN{print m/1000}')"
}

main "$@"
