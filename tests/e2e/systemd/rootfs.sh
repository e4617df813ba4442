#!/usr/bin/env bash
# Builds (once) the cached Debian bookworm root file system with systemd that the systemd
# end-to-end suite boots with systemd-nspawn. Rebuilt only when missing or incomplete: the
# stamp file is written last, after a successful debootstrap and a sanity check.
#
#   bash tests/e2e/systemd/rootfs.sh            # prints the root path on stdout
#   BERTH_E2E_ROOTFS=/path  BERTH_E2E_MIRROR=http://...  (optional overrides)
set -euo pipefail

ROOT=${BERTH_E2E_ROOTFS:-${BERTH_E2E_CACHE:-/var/cache/berth-e2e}/systemd-rootfs}
SUITE=bookworm
PACKAGES=systemd,systemd-sysv,dbus,curl,procps
# Bump when PACKAGES or the post-install steps change: a different stamp forces a rebuild.
STAMP_VERSION="v1 ${SUITE} ${PACKAGES}"
STAMP="$ROOT/.berth-rootfs-complete"

log() { printf '[systemd-rootfs] %s\n' "$*" >&2; }

# The mirror this machine's apt uses (deb822 "URIs:" or one-line "deb URL bookworm"),
# falling back to deb.debian.org.
detect_mirror() {
  local f url
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    if [[ $f == *.sources ]]; then
      url=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f" |
        grep -E '/debian/?$' | head -n1 || true)
    else
      url=$(awk '$1 == "deb" && $3 == "bookworm" {print $2}' "$f" | grep -E '/debian/?$' | head -n1 || true)
    fi
    if [ -n "$url" ]; then
      echo "${url%/}"
      return
    fi
  done
  echo "http://deb.debian.org/debian"
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_VERSION" ] && [ -x "$ROOT/lib/systemd/systemd" ]; then
  log "cached: $ROOT"
  echo "$ROOT"
  exit 0
fi

command -v debootstrap >/dev/null || { log "debootstrap missing (bash .ci/install-deps.sh)"; exit 1; }
MIRROR=${BERTH_E2E_MIRROR:-$(detect_mirror)}
log "building $ROOT from $MIRROR (cold build, about a minute)"
t0=$(date +%s)
# Incomplete or outdated: start from scratch (debootstrap refuses a half-populated target).
if [ -e "$ROOT" ]; then
  rm -rf --one-file-system "$ROOT"
fi
mkdir -p "$(dirname "$ROOT")"
tmp="$ROOT.partial"
rm -rf --one-file-system "$tmp"
mkdir -p "$tmp"
if ! timeout 900 debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp" "$MIRROR" \
  >"$tmp.log" 2>&1; then
  log "debootstrap failed, last lines of $tmp.log:"
  tail -n 20 "$tmp.log" >&2
  exit 1
fi

# Post-install: a quiet, fast, deterministic boot.
# - no getty on the console (nspawn gives a read-only console anyway)
# - a machine-id is created at first boot by systemd (empty file = "uninitialized")
# - no timers that would start apt/man-db work during the tests
chroot "$tmp" systemctl mask --quiet \
  console-getty.service getty@tty1.service \
  apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer \
  systemd-timesyncd.service 2>/dev/null || true
: >"$tmp/etc/machine-id"
echo berth-e2e >"$tmp/etc/hostname"
rm -rf "$tmp/var/cache/apt/archives/"*.deb

for f in lib/systemd/systemd bin/systemctl bin/journalctl usr/bin/curl usr/bin/systemd-analyze; do
  [ -e "$tmp/$f" ] || { log "incomplete root file system: /$f missing"; exit 1; }
done
mv "$tmp" "$ROOT"
mv "$tmp.log" "$ROOT.debootstrap.log"
echo "$STAMP_VERSION" >"$STAMP"
log "built in $(($(date +%s) - t0)) s ($(du -sh --one-file-system "$ROOT" | cut -f1))"
echo "$ROOT"
