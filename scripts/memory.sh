#!/usr/bin/env bash
# Memory figures of pcap-replay: peak resident set (the summary's peak_rss_bytes,
# Linux) at start-up with the default max_flows, and with N concurrent flows that are
# all alive at the end of the capture (gen-concurrent-pcap), for tracking + EVE records
# (app-layer off) and the full pipeline, UDP flows and TCP flows carrying HTTP, with 1
# and 2 threads. max_flows is raised to 1.1 N when N exceeds the default.
#
# Usage: scripts/memory.sh [N...]     (default: 150000 1000000)
# Environment:
#   MEM_DIR   where the captures are written (default ${TMPDIR:-/tmp}/flowengine-mem)
#   THREADS   worker thread counts (default "1 2")
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
counts=("$@")
((${#counts[@]})) || counts=(150000 1000000)
for n in "${counts[@]}"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "memory.sh: N must be a positive integer, not '$n'" >&2; exit 2; }
done
dir="${MEM_DIR:-${TMPDIR:-/tmp}/flowengine-mem}"
threads_list="${THREADS:-1 2}"
mkdir -p "$dir"

echo "== building (release)"
cargo build --release --quiet -p flowengine-tests -p pcap-replay
replay="$root/target/release/pcap-replay"
gen="$root/target/release/gen-concurrent-pcap"

field() {
    awk -v key="$1:" '$1 == key { print $2; exit }'
}

# run LABEL [pcap-replay options...]: one replay, its peak RSS and peak flows.
run() {
    local label="$1" out rss
    shift
    out="$("$replay" --set flow.hash_seed=1 --eve /dev/null "$@" 2>&1)"
    rss="$(field peak_rss_bytes <<<"$out")"
    if [[ -z "$rss" ]]; then
        echo "memory.sh: no peak_rss_bytes in pcap-replay's summary (Linux only)" >&2
        exit 1
    fi
    printf '%-52s peak_rss %5d MiB  peak_flows %s\n' "$label" $((rss >> 20)) \
        "$(field peak_flows <<<"$out")"
}

echo "== bytes_per_flow_slot: $("$replay" fixtures/sample.pcap 2>&1 | field bytes_per_flow_slot)"
for t in $threads_list; do
    run "start-up, default max_flows, $t thread(s)" --threads "$t" fixtures/sample.pcap
done
for n in "${counts[@]}"; do
    max=()
    ((n <= 476288)) || max=(--set "stream.max_flows=$((n + n / 10))")
    for kind in udp tcp; do
        pcap="$dir/concurrent-$kind-$n.pcap"
        if [[ ! -s "$pcap" ]]; then
            if [[ $kind == tcp ]]; then "$gen" --tcp "$n" "$pcap"; else "$gen" "$n" "$pcap"; fi
        fi
        for t in $threads_list; do
            run "$n $kind flows, tracking + EVE, $t thread(s)" --threads "$t" "${max[@]}" \
                --set app-layer.enabled=false "$pcap"
            run "$n $kind flows, full pipeline, $t thread(s)" --threads "$t" "${max[@]}" "$pcap"
        done
    done
done
