#!/usr/bin/env bash
# Installs and prepares everything the Windows suite needs, idempotently (root, Debian 12):
#   - apt: rustc-web, cargo-web, rust-web-src, rust-web-clippy (Debian's 1.96 toolchain, which
#     can build std for Windows from source), gcc-mingw-w64-x86-64 (linker), wine64 8.0;
#   - $WIN_CACHE/support/: bcryptprimitives.dll (wine 8.0 lacks ProcessPrng, see
#     processprng.c), keepalive.exe (wine stops its services when no program runs) and
#     svcctl.exe (sends PARAMCHANGE and other controls: wine's sc.exe has no `sc control`),
#     conctl.exe (runs a console program and sends it Ctrl-C / Ctrl-Break);
#   - $WIN_CACHE/prefix-template/: a wine prefix made by `wineboot -i` with the DLL in
#     system32; each suite run copies it, so every run starts from a clean registry.
#
#   bash tests/e2e/windows/setup.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/windows/env.sh
source "$HERE/env.sh"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[windows-setup] %s\n' "$*" >&2; }

PACKAGES=(rustc-web cargo-web rust-web-src rust-web-clippy gcc-mingw-w64-x86-64 wine64)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt: ${missing[*]}"
  # Other jobs on the machine may hold the dpkg lock for a while: wait for it (bounded).
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$WIN_CACHE/support"
SUPPORT=$WIN_CACHE/support
if [ ! -s "$SUPPORT/bcryptprimitives.dll" ] || [ "$HERE/processprng.c" -nt "$SUPPORT/bcryptprimitives.dll" ]; then
  log "building bcryptprimitives.dll (ProcessPrng shim)"
  x86_64-w64-mingw32-gcc -O2 -shared -o "$SUPPORT/bcryptprimitives.dll.tmp" \
    "$HERE/processprng.c" "$HERE/processprng.def" -ladvapi32
  mv "$SUPPORT/bcryptprimitives.dll.tmp" "$SUPPORT/bcryptprimitives.dll"
fi
if [ ! -s "$SUPPORT/keepalive.exe" ] || [ "$HERE/keepalive.c" -nt "$SUPPORT/keepalive.exe" ]; then
  log "building keepalive.exe"
  x86_64-w64-mingw32-gcc -O2 -o "$SUPPORT/keepalive.exe.tmp" "$HERE/keepalive.c"
  mv "$SUPPORT/keepalive.exe.tmp" "$SUPPORT/keepalive.exe"
fi

if [ ! -s "$SUPPORT/svcctl.exe" ] || [ "$HERE/svcctl.c" -nt "$SUPPORT/svcctl.exe" ]; then
  log "building svcctl.exe"
  x86_64-w64-mingw32-gcc -O2 -o "$SUPPORT/svcctl.exe.tmp" "$HERE/svcctl.c" -ladvapi32
  mv "$SUPPORT/svcctl.exe.tmp" "$SUPPORT/svcctl.exe"
fi

if [ ! -s "$SUPPORT/conctl.exe" ] || [ "$HERE/conctl.c" -nt "$SUPPORT/conctl.exe" ]; then
  log "building conctl.exe"
  x86_64-w64-mingw32-gcc -O2 -o "$SUPPORT/conctl.exe.tmp" "$HERE/conctl.c"
  mv "$SUPPORT/conctl.exe.tmp" "$SUPPORT/conctl.exe"
fi

TEMPLATE=$WIN_CACHE/prefix-template
if [ ! -f "$TEMPLATE/.berth-ready" ] || [ "$SUPPORT/bcryptprimitives.dll" -nt "$TEMPLATE/.berth-ready" ]; then
  log "creating the wine prefix template (wineboot -i)"
  rm -rf "$TEMPLATE.tmp"
  mkdir -p "$TEMPLATE.tmp"
  (
    win_env "$TEMPLATE.tmp"
    timeout 300 wine64 wineboot -i
    timeout 60 wineserver -w || true
  )
  cp "$SUPPORT/bcryptprimitives.dll" "$TEMPLATE.tmp/drive_c/windows/system32/"
  touch "$TEMPLATE.tmp/.berth-ready"
  rm -rf "$TEMPLATE"
  mv "$TEMPLATE.tmp" "$TEMPLATE"
fi
log "ready: toolchain $(/usr/bin/rustc --version), $(/usr/lib/wine/wine64 --version), prefix $TEMPLATE"
