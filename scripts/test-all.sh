#!/usr/bin/env bash
# Every check CI runs: set-up, formatting, lints, the release build, all tests (unit,
# integration, doc, the example), a check that the fuzz targets build, and both verify
# harnesses held to verify/floors.json.
# Needs ../shared beside the repository (or FLOWENGINE_SHARED pointing at it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# Each step's header shows the seconds since the start, so slow steps are easy to spot.
step() { printf '\n== %s (%ss)\n' "$*" "$SECONDS"; }

step "format";   cargo fmt --all -- --check
step "lint";     cargo clippy --workspace --all-targets --locked -- -D warnings
step "docs";     RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --locked -q
# The release build is what the verify step and the example run: pcap-replay and the
# engine's examples in one build (one feature resolution, so nothing is built twice;
# the plugins are built by their tests, in the test profile).
step "build";    cargo build --release --locked -p pcap-replay -p flowengine --bins --examples
step "tests";    cargo test --workspace --locked
# The fuzz targets are workspaces of their own (run with nightly cargo-fuzz); checking
# them here keeps them building as the APIs they drive change.
step "fuzz targets"
cargo check --locked --bins --manifest-path engine/fuzz/Cargo.toml
cargo check --locked --bins --manifest-path inspectors/fuzz/Cargo.toml
step "example";  target/release/examples/embed fixtures/sample.pcap >/dev/null
step "verify";   python3 verify/check.py --jobs 2
step "done"
