#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine that already has
# a Rust toolchain, skipping whatever is present. Idempotent; runs as root.
set -euo pipefail

# command -> Debian package providing it
declare -A NEED=(
  [python3]=python3   # the verify harnesses and verify/check.py
  [cc]=gcc            # the linker driver rustc uses
  [c++]=g++           # libfuzzer-sys builds libFuzzer when the fuzz targets are checked
  [ip]=iproute2       # network namespaces for pcap-replay's live-capture test
  [kill]=procps       # the live-capture test stops pcap-replay with SIGTERM
  [nft]=nftables      # the conntrack feed's tests: a `ct state` rule makes a namespace track
  [conntrack]=conntrack # the conntrack feed's tests read the kernel's own counters with it
)
# Debian packages with no command to look for
PACKAGES=(
  libpcap-dev         # libpcap for pcap-replay's --interface and --bpf (the `pcap` crate)
)

missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done
for pkg in "${PACKAGES[@]}"; do
  dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$pkg")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}"
fi

command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found: install a Rust toolchain (rustup)" >&2; exit 1; }
