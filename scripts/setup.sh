#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine that already has
# a Rust toolchain, skipping whatever is present. Idempotent; runs as root.
set -euo pipefail

# command -> Debian package providing it
declare -A NEED=(
  [python3]=python3   # the verify harnesses and verify/check.py
  [cc]=gcc            # the linker driver rustc uses
)

missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}"
fi

command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found: install a Rust toolchain (rustup)" >&2; exit 1; }
