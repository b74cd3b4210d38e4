#!/usr/bin/env bash
# Replays every verify capture (../shared/verify/ndpi/cases and
# ../shared/verify/suricata-verify/cases, the latter named sv-CASE) with pcap-replay and
# with a Suricata binary, both with their default configuration, and compares the flow
# records field by field (verify/compare_flows.py). docs/fidelity.md gives the result
# for Suricata 8.0.7 and the reasons for each difference.
#
# Usage: scripts/compare-suricata.sh SURICATA_BIN SURICATA_YAML [OUT_DIR]
#   SURICATA_BIN   a suricata binary (not installed by setup.sh: this is a development
#                  check, not part of CI)
#   SURICATA_YAML  its configuration (its shipped suricata.yaml, with eve-log on)
#   OUT_DIR        where both sides' EVE files go (default ${TMPDIR:-/tmp}/fe-vs-suricata)
# Environment: SHARED (default ../shared), JOBS (default 2).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
SURICATA=$1
YAML=$2
OUT=${3:-${TMPDIR:-/tmp}/fe-vs-suricata}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
JOBS=${JOBS:-2}
REPLAY=$ROOT/target/release/pcap-replay

cargo build --release --locked --manifest-path "$ROOT/Cargo.toml" -p pcap-replay >&2
mkdir -p "$OUT/ours" "$OUT/theirs"

# One "NAME PCAP" line per capture.
jobs_list() {
  local c
  for c in "$SHARED"/verify/ndpi/cases/*/; do
    set -- "$c"input.pcap*
    [[ -e $1 ]] && echo "$(basename "$c") $1"
  done
  for c in "$SHARED"/verify/suricata-verify/cases/*/; do
    set -- "$c"input.pcap*
    [[ -e $1 ]] && echo "sv-$(basename "$c") $1"
  done
}

export SURICATA YAML OUT REPLAY
jobs_list | xargs -P "$JOBS" -n 2 sh -c '
  "$REPLAY" --eve "$OUT/ours/$0.json" "$1" >/dev/null 2>&1 || echo "pcap-replay failed on $0" >&2
  mkdir -p "$OUT/theirs/$0"
  rm -f "$OUT/theirs/$0/eve.json"
  "$SURICATA" -c "$YAML" -S /dev/null -k none -r "$1" -l "$OUT/theirs/$0" \
    --set unix-command.enabled=false >/dev/null 2>&1 || echo "suricata failed on $0" >&2
'
python3 "$ROOT/verify/compare_flows.py" "$OUT/ours" "$OUT/theirs"
