#!/usr/bin/env bash
# Generator faults on a real file system: `berth generate` into a small tmpfs that is full,
# nearly full (the run fails part-way) or read-only must exit 1 with a clear message and
# leave the output directory exactly as it was (no temporary, backup or journal left).
#
#   bash tests/e2e/generator-faults.sh     # as root (it mounts a tmpfs; always unmounted)
#
# kill -9 at every step and concurrent runs are tested by `cargo test -p berth --test tests generate_faults::`.
# Prints PASS/FAIL per case and `N passed, N failed`; exits 1 on a failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$PWD
# shellcheck source=tests/e2e/lib/common.sh
source tests/e2e/lib/common.sh

[ "$(id -u)" = 0 ] || e2e_die "run as root: the suite mounts a tmpfs"

WORK=$(mktemp -d /tmp/berth-faults-gen.XXXXXX)
MNT=$WORK/mnt
MOUNTED=0
cleanup() {
  local rc=$?
  if [ "$MOUNTED" = 1 ]; then
    umount "$MNT" 2>/dev/null || umount -l "$MNT" || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cargo build --locked -q --bin berth
BERTH=$REPO/target/debug/berth

# Two descriptions of one daemon: the example, and a copy with another tag and one replica
# (files updated and one removed).
A=$REPO/examples/echo-daemon/berth.yaml
mkdir -p "$WORK/b"
cp -r "$REPO/examples/echo-daemon/config" "$WORK/b/"
sed -e 's|^image: ghcr.io/acme/echo-daemon:0.1.0$|image: ghcr.io/acme/echo-daemon:0.2.0|' \
  -e 's|^replicas: 2$|replicas: 1|' "$A" >"$WORK/b/berth.yaml"
B=$WORK/b/berth.yaml
cmp -s "$A" "$B" && e2e_die "the second description is not different"

mkdir -p "$MNT"
mount -t tmpfs -o size=1m,mode=0755 berth-faults-gen "$MNT"
MOUNTED=1
OUT=$MNT/deploy

# state: every path under OUT with its type and content hash (sorted).
state() {
  (cd "$OUT" && find . -mindepth 1 -printf '%y %p\n' | sort | while read -r type path; do
    if [ "$type" = f ]; then
      printf '%s %s\n' "$path" "$(sha256sum <"$path" | cut -c1-64)"
    else
      printf '%s %s\n' "$path" "$type"
    fi
  done)
}

"$BERTH" generate -f "$A" -o "$OUT" >/dev/null
BEFORE=$(state)

# run_fails NAME WANT: berth generate B must exit 1 with WANT in its message and leave OUT
# exactly as it was.
run_fails() {
  local name=$1 want=$2 rc=0 t
  t=$(now_ms)
  "$BERTH" generate -f "$B" -o "$OUT" >"$WORK/out" 2>"$WORK/err" || rc=$?
  t=$(($(now_ms) - t))
  local msg
  msg=$(tr '\n' ' ' <"$WORK/err")
  if [ "$rc" != 1 ]; then
    fail "$name: exit 1" "exit $rc: $msg"
  elif ! grep -q "$want" "$WORK/err" || ! grep -q "nothing was changed" "$WORK/err"; then
    fail "$name: the message names the cause and says nothing changed" "$msg"
  elif grep -qi "panick" "$WORK/err"; then
    fail "$name: no panic" "$msg"
  elif [ "$(state)" != "$BEFORE" ]; then
    fail "$name: the output directory is as before" "$(diff <(echo "$BEFORE") <(state) | head -n 5 | tr '\n' ' ')"
  else
    pass "$name: exit 1 in $t ms, directory unchanged: $msg"
  fi
}

# 1. Full: not a byte left.
dd if=/dev/zero of="$MNT/filler" bs=4k status=none 2>/dev/null || true
run_fails "full file system" "No space left on device"
rm -f "$MNT/filler"

# 2. Nearly full: the journal and the first files fit, a later one does not (the run rolls
# back part-way through).
free_kb=$(df -k --output=avail "$MNT" | tail -n 1 | tr -d ' ')
dd if=/dev/zero of="$MNT/filler" bs=1k count=$((free_kb - 48)) status=none 2>/dev/null || true
run_fails "nearly full file system (fails part-way)" "No space left on device"
rm -f "$MNT/filler"

# 3. Read-only.
mount -o remount,ro "$MNT"
run_fails "read-only file system" "Read-only file system"
mount -o remount,rw "$MNT"

# 4. The same run succeeds once there is room, and the result is current.
if "$BERTH" generate -f "$B" -o "$OUT" >/dev/null 2>"$WORK/err" &&
  "$BERTH" diff -f "$B" -o "$OUT" >/dev/null 2>&1 &&
  [ -z "$(find "$OUT" -name '.berth-new-*' -o -name '.berth-old-*' -o -name '.berth-journal*')" ]; then
  pass "after the faults: berth generate succeeds and berth diff finds the directory current"
else
  fail "generate after the faults" "$(tr '\n' ' ' <"$WORK/err")"
fi

e2e_summary
