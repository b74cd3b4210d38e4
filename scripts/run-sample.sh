#!/usr/bin/env bash
# The main job: set up, build pcap-replay, replay the bundled capture, print its flows
# (EVE JSON lines on stdout) and the summary (on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p pcap-replay
exec target/release/pcap-replay --eve - "${@:-fixtures/sample.pcap}"
