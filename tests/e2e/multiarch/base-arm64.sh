#!/usr/bin/env bash
# Makes the linux/arm64 stand-in of gcr.io/distroless/cc-debian12:nonroot as a root file
# system tarball, without a registry or emulation, the way docker/base-images.sh makes the
# amd64 one: only the files of Debian's arm64 libc6 and libgcc-s1 packages, the CA bundle,
# passwd/group with nonroot (65532).
#
#   bash tests/e2e/multiarch/base-arm64.sh OUT.tar
#
# The packages come from `debootstrap --foreign --arch=arm64` (first stage only: download and
# unpack, nothing runs under emulation), cached in $BERTH_E2E_CACHE/multiarch. The CA bundle
# is the one of the amd64 root file system docker/base-images.sh made (it is the same file on
# every architecture). Prints the time it took.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
# shellcheck source=tests/e2e/lib/common.sh
source tests/e2e/lib/common.sh

OUT=${1:?usage: base-arm64.sh OUT.tar}
SUITE=bookworm
ROOTFS=$BERTH_E2E_CACHE/multiarch/rootfs-arm64
CA=$BERTH_E2E_CACHE/rootfs/$SUITE-minbase/etc/ssl/certs/ca-certificates.crt
t0=$(now_ms)

[ -f "$CA" ] || e2e_die "$CA missing: run tests/e2e/docker/base-images.sh first"
if [ ! -f "$ROOTFS/.berth-complete" ]; then
  mirror=$(debian_mirror)
  e2e_log "debootstrap --foreign --arch=arm64 $SUITE ($mirror)"
  rm -rf "$ROOTFS"
  mkdir -p "$(dirname "$ROOTFS")"
  timeout 900 debootstrap --arch=arm64 --foreign --variant=minbase "$SUITE" "$ROOTFS" "$mirror" \
    >"$BERTH_E2E_CACHE/multiarch/debootstrap-arm64.log" 2>&1 || {
    tail -n 20 "$BERTH_E2E_CACHE/multiarch/debootstrap-arm64.log" >&2
    e2e_die "debootstrap --foreign --arch=arm64 failed"
  }
  touch "$ROOTFS/.berth-complete"
fi

stage=$(mktemp -d /tmp/berth-e2e-arm64-base.XXXXXX)
trap 'rm -rf "$stage"' EXIT
for pkg in libc6 libgcc-s1; do
  deb=$(find "$ROOTFS/var/cache/apt/archives" -name "${pkg}_*_arm64.deb" | head -n 1)
  [ -n "$deb" ] || e2e_die "no ${pkg} arm64 package in $ROOTFS/var/cache/apt/archives"
  dpkg-deb -x "$deb" "$stage"
done
# Documentation is not in distroless either; merged /usr as in bookworm.
rm -rf "$stage/usr/share/doc" "$stage/usr/share/lintian" "$stage/usr/share/man"
for d in lib bin sbin; do
  if [ -d "$stage/$d" ] && [ ! -L "$stage/$d" ]; then
    mkdir -p "$stage/usr/$d"
    cp -a "$stage/$d/." "$stage/usr/$d/"
    rm -rf "${stage:?}/$d"
  fi
  ln -sfn "usr/$d" "$stage/$d"
done
[ -e "$stage/usr/lib/ld-linux-aarch64.so.1" ] || e2e_die "no aarch64 dynamic loader in the stage"
install -D -m 0644 "$CA" "$stage/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$stage/tmp" "$stage/home/nonroot" "$stage/root"
chmod 1777 "$stage/tmp"
chmod 0700 "$stage/root"
chown 65532:65532 "$stage/home/nonroot"
cat >"$stage/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$stage/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
GROUP
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$stage/etc/nsswitch.conf"
tar -C "$stage" --numeric-owner -cf "$OUT" .
printf 'arm64 base: %s (%s MB) in %.1f s\n' "$OUT" "$(mb "$(stat -c %s "$OUT")")" \
  "$(awk -v m="$(($(now_ms) - t0))" 'BEGIN{print m/1000}')"
