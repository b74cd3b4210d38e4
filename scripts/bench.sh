#!/usr/bin/env bash
# Throughput benchmark of pcap-replay on the deterministic 2,000,000-packet capture.
#
# Builds the release binaries, generates the benchmark capture with gen-bench-pcap
# (100,000 TCP + 50,000 UDP flows; once, then reused), replays it RUNS times in each
# mode: decode only (`flow.tracking=false`), decode + flow tracking (inspection off, no
# EVE), + EVE flow records to
# /dev/null, and the full pipeline (reassembly, wizard, service inspectors, EVE flow
# records and events), each with 1 and with 2 worker threads (THREADS; the counts of
# a mode run interleaved, round by round, as the VM's speed drifts), and prints the
# median packets per second of each (whole run, and engine alone without file
# reading), the median of the per-round ratios of 2 threads to 1, the flow slot size,
# and what the inspectors add per packet over tracking alone (engine medians, first
# thread count). For the full pipeline, each round also runs two 1-thread replays at
# once and prints 2 x the slower one's packets/s over the 1-thread run's: what the
# machine gives two busy threads that round, the most any static split of the work
# between two threads can reach (a shared VM's cores do not always run alike).
# With --ndpi, the same for the merged nDPI corpus (every DIR/*/input.pcap* read in
# one run as one timeline, as `pcap-replay A B C` reads them; mid-stream pickup on).
# With --criterion, also runs the engine's criterion benchmarks (decode, cache)
# afterwards, and the capture reading benchmark (libpcap, buffered, mapped; pcap and
# pcapng) on the same capture, printing median packets/s of each reader.
#
# Usage: scripts/bench.sh [--ndpi[=DIR]] [--criterion] [-h|--help]
#   DIR defaults to ../shared/verify/ndpi/cases
# Environment:
#   BENCH_PCAP  capture to use (generated there when missing)
#               default: ${TMPDIR:-/tmp}/flowengine-bench/bench-2m.pcap
#   RUNS        replays per mode (default 5; the nDPI corpus, 58k packets, gets
#               twice as many)
#   THREADS     worker thread counts to run each mode with (default "1 2")
set -euo pipefail

usage() {
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
}

criterion=0
ndpi=""
for arg in "$@"; do
    case "$arg" in
        --criterion) criterion=1 ;;
        --ndpi) ndpi="../shared/verify/ndpi/cases" ;;
        --ndpi=*) ndpi="${arg#--ndpi=}" ;;
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
threads_list="${THREADS:-1 2}"

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

# run_mode LABEL [pcap-replay options...]: RUNS replays of the inputs in the array
# `inputs` at each thread count of `modes_threads` (default: 1), interleaved (run i at
# every count, then run i + 1), since the VM's speed drifts over minutes; prints each
# count's runs and medians, and, with several counts, the median over the runs of the
# ratio of each count's packets/s to the first count's in the same round. The engine
# median of each count is left in `engine_median[COUNT]`, the first run's summary of
# the last count in `summary`.
declare -A engine_median
run_mode() {
    local label="$1"
    shift
    local counts=(${modes_threads:-1})
    local out pps epps t i
    local -A all eng
    local ratios=() ceilings=()
    for ((i = 1; i <= runs; i++)); do
        local first=""
        for t in "${counts[@]}"; do
            # Exit status 1 (an unreadable input among many) still has a summary. A
            # fixed hash seed, not --deterministic (which sorts the whole output in
            # memory).
            out="$("$replay" --set flow.hash_seed=1 --threads "$t" "$@" "${inputs[@]}" 2>/dev/null || true)"
            pps="$(field packets_per_second <<<"$out")"
            epps="$(field engine_packets_per_second <<<"$out")"
            if [[ -z "$pps" || -z "$epps" ]]; then
                echo "bench.sh: no packets_per_second lines in pcap-replay's summary" >&2
                exit 1
            fi
            all[$t]+="$pps "
            eng[$t]+="$epps "
            if [[ -z "$first" ]]; then
                first="$pps"
            else
                ratios+=("$(awk -v a="$pps" -v b="$first" 'BEGIN { printf "%.3f", a / b }')")
            fi
            if ((i == 1)); then
                summary="$out"
            fi
        done
        if [[ -n "${pair_check:-}" && ${#counts[@]} == 2 ]]; then
            # What the machine gives two busy threads this round: two independent
            # 1-thread replays at once. A static split of the work between two
            # threads cannot beat 2 x (the slower of the two) / (one alone).
            local pa pb
            pa="$(mktemp)"
            pb="$(mktemp)"
            "$replay" --set flow.hash_seed=1 --threads 1 "$@" "${inputs[@]}" >"$pa" 2>/dev/null &
            "$replay" --set flow.hash_seed=1 --threads 1 "$@" "${inputs[@]}" >"$pb" 2>/dev/null &
            wait
            local slower
            slower="$( (field packets_per_second <"$pa"; field packets_per_second <"$pb") | sort -n | head -1)"
            rm -f "$pa" "$pb"
            ceilings+=("$(awk -v a="$slower" -v b="$first" 'BEGIN { printf "%.3f", 2 * a / b }')")
        fi
    done
    for t in "${counts[@]}"; do
        local name="$label, $t thread(s)"
        printf '%-44s runs: %s
' "$name" "${all[$t]% }"
        printf '%-44s median packets_per_second: %s
' "$name" \
            "$(tr ' ' '\n' <<<"${all[$t]% }" | median)"
        printf '%-44s engine runs: %s
' "$name" "${eng[$t]% }"
        engine_median[$t]="$(tr ' ' '\n' <<<"${eng[$t]% }" | median)"
        printf '%-44s median engine_packets_per_second: %s (no file reading)
' "$name" \
            "${engine_median[$t]}"
    done
    if ((${#counts[@]} == 2)); then
        printf '%-44s %s threads / %s thread(s), per round: %s; median %s
' "$label" \
            "${counts[1]}" "${counts[0]}" "${ratios[*]}" \
            "$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
                if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    fi
    if ((${#ceilings[@]} > 0)); then
        printf '%-44s two 1-thread replays at once, 2 x slower / alone, per round: %s; median %s\n' \
            "$label" "${ceilings[*]}" \
            "$(printf '%s\n' "${ceilings[@]}" | sort -n | awk '{ v[NR] = $1 } END {
                if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    fi
}

# inspection_cost TRACKING_PPS FULL_PPS: nanoseconds the inspectors add per packet.
inspection_cost() {
    awk -v t="$1" -v f="$2" 'BEGIN { printf "%.0f ns per packet (%.0f ns tracking alone, %.0f ns full)\n", 1e9 / f - 1e9 / t, 1e9 / t, 1e9 / f }'
}

summary=""
inputs=("$pcap")
modes_threads="$threads_list"
first_count="${threads_list%% *}"
echo "== pcap-replay x $runs per mode and thread count ($threads_list), interleaved"
run_mode "decode only" --set flow.tracking=false
run_mode "decode + tracking" --set app-layer.enabled=false
echo "   capture: $(field received <<<"$summary") packets," \
    "$(field flows <<<"$summary") flows," \
    "$(field flow_records <<<"$summary") records"
echo "   bytes_per_flow_slot: $(field bytes_per_flow_slot <<<"$summary")"
run_mode "decode + tracking + EVE (/dev/null)" --set app-layer.enabled=false --eve /dev/null
echo "   eve_records_written: $(field eve_records_written <<<"$summary")"
tracking_eve="${engine_median[$first_count]}"
pair_check=1 run_mode "full pipeline: + reassembly, wizard, inspectors, EVE" --eve /dev/null
echo "   eve_events_written: $(field eve_events_written <<<"$summary")"
echo "   peak_rss_bytes ($(field threads <<<"$summary") threads): $(field peak_rss_bytes <<<"$summary")"
echo "   inspectors add ($first_count thread(s)): $(inspection_cost "$tracking_eve" "${engine_median[$first_count]}")"

if [[ -n "$ndpi" ]]; then
    shopt -s nullglob
    inputs=("$ndpi"/*/input.pcap*)
    shopt -u nullglob
    if ((${#inputs[@]} == 0)); then
        echo "bench.sh: no captures under $ndpi/*/input.pcap*" >&2
        exit 2
    fi
    cat "${inputs[@]}" >/dev/null
    runs=$((runs * 2))
    echo "== merged nDPI corpus: ${#inputs[@]} captures, x $runs per mode"
    modes_threads=1
    run_mode "nDPI: tracking + EVE" --set stream.midstream=true \
        --set app-layer.enabled=false --eve /dev/null
    echo "   capture: $(field received <<<"$summary") packets," \
        "$(field flows <<<"$summary") flows"
    tracking_eve="${engine_median[1]}"
    run_mode "nDPI: full pipeline" --set stream.midstream=true --eve /dev/null
    echo "   eve_events_written: $(field eve_events_written <<<"$summary")"
    echo "   inspectors add: $(inspection_cost "$tracking_eve" "${engine_median[1]}")"
fi

if ((criterion)); then
    echo "== criterion benchmarks"
    cargo bench -p flowengine --bench decode --bench cache
    BENCH_PCAP="$pcap" cargo bench -p flowengine-tests --bench feed -- --medians "$runs"
fi
