# shellcheck shell=bash
# The Windows cross toolchain and wine, as the suite and developers use them (sourced).
#
#   source tests/e2e/windows/env.sh
#   win_cargo build --release -p echo-daemon      # -> $WIN_TARGET_DIR/x86_64-pc-windows-gnu/release
#   win_cargo clippy -p berth-sidecar --features windows -- -D warnings
#
# rustup cannot download the Windows target or rust-src here, Debian can: rustc-web 1.96 with
# rust-web-src builds std for x86_64-pc-windows-gnu itself (`-Zbuild-std`, allowed on a stable
# compiler by RUSTC_BOOTSTRAP=1), mingw links. rustup's cargo stays first on PATH for the Linux
# build, so the Debian tools are called by absolute path. See tests/e2e/windows/README.md.

# BERTH_E2E_CACHE and BUILD_STD_TARGET_DIR (shared with the arm64 build of the multi-arch suite).
# shellcheck source=tests/e2e/lib/common.sh
declare -F e2e_log >/dev/null || source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
WIN_CACHE=$BERTH_E2E_CACHE/windows
WIN_TARGET=x86_64-pc-windows-gnu
# The -Zbuild-std target directory: the std built from source and every dependency for Windows
# under x86_64-pc-windows-gnu/ in it.
WIN_TARGET_DIR=${WIN_TARGET_DIR:-$BUILD_STD_TARGET_DIR}
# wine 8.0 lives here (wine64, wineserver); the wine64 package has no /usr/bin shims. Its
# Windows programs run as `wine64 wineboot`, `wine64 sc`, `wine64 cmd /c ...`.
WINE_DIR=/usr/lib/wine

# win_cargo_env: exports what makes a plain `cargo` build for Windows here (the generated CI
# workflow's compile step runs with it; on GitHub's runner rustup's target does the same):
# Debian's cargo and rustc first on PATH (`cargo clippy` runs the cargo-clippy found there, and
# rustup's proxy in ~/.cargo/bin would pick rustup's toolchain), std built from source
# (CARGO_UNSTABLE_BUILD_STD is cargo's `-Zbuild-std`, allowed by RUSTC_BOOTSTRAP=1), the MinGW
# linker, the suite's target directory.
win_cargo_env() {
  export PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
    CARGO_UNSTABLE_BUILD_STD=std,panic_abort \
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
    CARGO_TARGET_DIR="$WIN_TARGET_DIR"
}

# win_cargo SUBCOMMAND ARGS...: cargo SUBCOMMAND --target x86_64-pc-windows-gnu ARGS... with
# win_cargo_env, in a subshell.
win_cargo() {
  local sub=$1
  shift
  (
    win_cargo_env
    /usr/bin/cargo "$sub" --target "$WIN_TARGET" "$@"
  )
}

# win_env PREFIX: the environment every wine call of the suite runs with.
win_env() {
  export WINEPREFIX=$1 WINEDEBUG=${WINEDEBUG:--all} WINEARCH=win64
  export PATH="$WINE_DIR:$PATH"
}
