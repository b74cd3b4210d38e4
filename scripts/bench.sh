#!/usr/bin/env bash
# Throughput benchmark of pcap-replay on the deterministic 2,000,000-packet capture.
#
# Builds the release binaries, generates the benchmark capture with gen-bench-pcap
# (100,000 TCP + 50,000 UDP flows; once, then reused), replays it RUNS times in each
# mode: decode + flow tracking (inspection off, no EVE), + EVE flow records to
# /dev/null, and the full pipeline (reassembly, wizard, service inspectors, EVE flow
# records and events), and prints the median packets per second of each mode (whole
# run, and engine alone without file reading) and the flow slot size.
# With --criterion, also runs the engine's criterion benchmarks (decode, cache)
# afterwards.
#
# Usage: scripts/bench.sh [--criterion] [-h|--help]
# Environment:
#   BENCH_PCAP  capture to use (generated there when missing)
#               default: ${TMPDIR:-/tmp}/flowengine-bench/bench-2m.pcap
#   RUNS        replays per mode (default 5)
set -euo pipefail

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

criterion=0
for arg in "$@"; do
    case "$arg" in
        --criterion) criterion=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

runs="${RUNS:-5}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
    echo "bench.sh: RUNS must be a positive integer, not '$runs'" >&2
    exit 2
fi
pcap="${BENCH_PCAP:-${TMPDIR:-/tmp}/flowengine-bench/bench-2m.pcap}"

echo "== building (release)"
cargo build --release --quiet -p flowengine-tests -p pcap-replay
replay="$root/target/release/pcap-replay"
gen="$root/target/release/gen-bench-pcap"

if [[ ! -s "$pcap" ]]; then
    echo "== generating $pcap"
    mkdir -p "$(dirname "$pcap")"
    "$gen" "$pcap.tmp"
    mv "$pcap.tmp" "$pcap"
else
    echo "== using $pcap"
fi
# Warm the page cache so the first timed run reads from memory like the others.
cat "$pcap" >/dev/null

# The value of `name: value` in a pcap-replay summary (first field of the value).
field() {
    awk -v key="$1:" '$1 == key { print $2; exit }'
}

# The median of numbers on stdin, one per line.
median() {
    sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
}

# run_mode LABEL [pcap-replay options...]: RUNS replays, prints each and the median.
run_mode() {
    local label="$1"
    shift
    local out pps epps all=() eng=()
    for ((i = 1; i <= runs; i++)); do
        out="$("$replay" --deterministic "$@" "$pcap")"
        pps="$(field packets_per_second <<<"$out")"
        epps="$(field engine_packets_per_second <<<"$out")"
        if [[ -z "$pps" || -z "$epps" ]]; then
            echo "bench.sh: no packets_per_second lines in pcap-replay's summary" >&2
            exit 1
        fi
        all+=("$pps")
        eng+=("$epps")
        if ((i == 1)); then
            summary="$out"
        fi
    done
    printf '%-36s runs: %s\n' "$label" "${all[*]}"
    printf '%-36s median packets_per_second: %s\n' "$label" \
        "$(printf '%s\n' "${all[@]}" | median)"
    printf '%-36s engine runs: %s\n' "$label" "${eng[*]}"
    printf '%-36s median engine_packets_per_second: %s (no file reading)\n' "$label" \
        "$(printf '%s\n' "${eng[@]}" | median)"
}

summary=""
echo "== pcap-replay x $runs per mode"
run_mode "decode + tracking" --set app-layer.enabled=false
echo "   capture: $(field received <<<"$summary") packets," \
    "$(field flows <<<"$summary") flows," \
    "$(field flow_records <<<"$summary") records"
echo "   bytes_per_flow_slot: $(field bytes_per_flow_slot <<<"$summary")"
run_mode "decode + tracking + EVE (/dev/null)" --set app-layer.enabled=false --eve /dev/null
echo "   eve_records_written: $(field eve_records_written <<<"$summary")"
run_mode "full pipeline: + reassembly, wizard, inspectors, EVE" --eve /dev/null
echo "   eve_events_written: $(field eve_events_written <<<"$summary")"

if ((criterion)); then
    echo "== criterion benchmarks"
    cargo bench -p flowengine --bench decode --bench cache
fi
