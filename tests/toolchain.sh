#!/usr/bin/env bash
# Makes the toolchain pinned in rust-toolchain.toml available to rustup; tests/run.sh, .ci/run and bench/run call
# it before their first cargo. Without network access to Rust's dist server, a `stable` toolchain of the same
# version is linked under the pinned name (rustup's own `toolchain link` refuses names like 1.95.0, so the link is
# made the way rustup lays out an installed toolchain); otherwise the pinned version is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(sed -n 's/^channel *= *"\([^"]*\)".*/\1/p' rust-toolchain.toml)
[ -n "$want" ] || { echo "tests/toolchain.sh: no channel in rust-toolchain.toml" >&2; exit 1; }

if ! command -v rustup >/dev/null 2>&1; then
  # No rustup: the toolchain on PATH is the one used; it must be the pinned one.
  rustc -V | grep -q "^rustc $want " && exit 0
  echo "tests/toolchain.sh: rustc $want is needed (found: $(rustc -V 2>&1))" >&2
  exit 1
fi

works() {
  cargo "+$want" -V >/dev/null 2>&1 && cargo "+$want" clippy -V >/dev/null 2>&1 &&
    cargo "+$want" fmt --version >/dev/null 2>&1
}
works && exit 0

if rustup toolchain list | grep -q "^$want-"; then
  # Installed, but without a component (a minimal install): add them.
  rustup component add --toolchain "$want" rustfmt clippy
elif rustc +stable -V 2>/dev/null | grep -q "^rustc $want "; then
  host=$(rustc +stable -vV | sed -n 's/^host: //p')
  link="${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$want-$host"
  echo "tests/toolchain.sh: linking the stable toolchain (rustc $want) as $want-$host"
  ln -sfn "$(rustc +stable --print sysroot)" "$link"
else
  echo "tests/toolchain.sh: installing Rust $want"
  rustup toolchain install "$want" --profile minimal -c rustfmt,clippy
fi
works || { echo "tests/toolchain.sh: toolchain $want is still not usable" >&2; cargo "+$want" -V >&2 || true; exit 1; }
echo "tests/toolchain.sh: $(cargo "+$want" -V)"
