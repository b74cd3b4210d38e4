#!/usr/bin/env bash
# Measures the conntrack feed's poll cost (docs/conntrack.md): fills a network namespace
# made for it with N conntrack entries (netlink create requests, no traffic) and times
# full dumps and get-and-zero dumps through flowengine's request socket and rules.
# Root only. Raises the machine's net.netfilter.nf_conntrack_max (the limit of every
# namespace) for the run and puts it back. Sizes: SIZES="10000 100000 1000000".
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p flowengine-conntrack --examples
NS="ctbench-$$"
old_max=$(sysctl -n net.netfilter.nf_conntrack_max)
cleanup() {
  ip netns del "$NS" 2>/dev/null || true
  sysctl -qw net.netfilter.nf_conntrack_max="$old_max"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
printf 'table inet fe {\n  chain out { type filter hook output priority 0; ct state new,established,related accept; }\n}\n' \
  | ip netns exec "$NS" nft -f -
sysctl -qw net.netfilter.nf_conntrack_max=1100000
for n in ${SIZES:-10000 100000 1000000}; do
  ip netns exec "$NS" target/release/examples/dump_cost "$n" "${RUNS:-3}"
done
