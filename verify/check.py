#!/usr/bin/env python3
"""Runs both verify harnesses from ../shared/verify against target/release/pcap-replay
and holds their scores to the floors recorded in verify/floors.json.

A score below its floor fails. A score above its floor also fails until the floor is
raised (run with --update and commit verify/floors.json), so fidelity only ratchets up.

Usage: verify/check.py [--shared DIR] [--jobs N] [--update]
Exit status: 0 when every score equals its floor (or --update wrote new floors),
1 when a score moved, 2 when a harness could not run.  Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOORS = os.path.join(ROOT, "verify", "floors.json")


def run_harness(shared, name, cmd, jobs):
    tool = os.path.join(shared, "verify", name)
    cases = os.path.join(shared, "verify",
                         "suricata-verify" if name == "sv-flow-check" else "ndpi", "cases")
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        report = f.name
    try:
        p = subprocess.run([sys.executable, tool, "--cases", cases, "--cmd", cmd,
                            "--jobs", str(jobs), "--json", report],
                           cwd=ROOT, capture_output=True, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stdout[-2000:] + p.stderr[-2000:])
            raise SystemExit("verify: %s failed to run (exit %d)" % (name, p.returncode))
        tail = [l for l in p.stdout.splitlines() if l.strip()][-1:]
        print("%s: %s" % (name, tail[0] if tail else "?"))
        with open(report) as f:
            return json.load(f)
    finally:
        os.unlink(report)


def pct(a, b):
    return round(100.0 * a / b, 2) if b else 0.0


def scores(shared, jobs):
    binary = "target/release/pcap-replay"
    if not os.path.exists(os.path.join(ROOT, binary)):
        raise SystemExit("verify: %s is missing: run cargo build --release" % binary)
    # {config} is the case's suricata.yaml, shell-quoted, or nothing at all when the
    # case has none: the `=` form keeps an empty one from taking the next option.
    sv = run_harness(shared, "sv-flow-check",
                     binary + " --suricata-config={config} --eve {eve} {args} {pcap}", jobs)
    nd = run_harness(shared, "ndpi-check", binary + " --eve {eve} {pcap}", jobs)
    t = nd["totals"]
    return {
        "suricata_verify_passed": sv["passed"],
        "suricata_verify_filters_passed": sv["filters_passed"],
        "ndpi_cases_passed": nd["passed"],
        # Found flows over expected ones plus the engine's unexcused extra flows.
        "ndpi_flows_pct": pct(t["flows_found"], t["flows_expected"] + t["flows_extra"]),
        "ndpi_counts_pct": pct(t["counts_ok"], t["counts_checked"]),
        "ndpi_proto_pct": pct(t["proto_ok"], t["proto_scored"]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=os.environ.get(
        "FLOWENGINE_SHARED", os.path.join(ROOT, "..", "shared")))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--update", action="store_true",
                    help="write the current scores as the new floors")
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.shared, "verify")):
        raise SystemExit("verify: no %s/verify (set FLOWENGINE_SHARED)" % a.shared)
    got = scores(a.shared, a.jobs)
    with open(FLOORS) as f:
        floors = json.load(f)
    if a.update:
        for k, v in got.items():
            if v < floors.get(k, v):
                raise SystemExit("verify: refusing to lower %s from %s to %s"
                                 % (k, floors[k], v))
        with open(FLOORS, "w") as f:
            json.dump(got, f, indent=2, sort_keys=True)
            f.write("\n")
        print("verify: floors updated:", json.dumps(got, sort_keys=True))
        return 0
    moved = False
    for k in sorted(got):
        floor = floors.get(k)
        status = "ok"
        if floor is None:
            status = "NO FLOOR (run verify/check.py --update)"
            moved = True
        elif got[k] < floor:
            status = "BELOW FLOOR %s" % floor
            moved = True
        elif got[k] > floor:
            status = "ABOVE FLOOR %s: raise it (verify/check.py --update)" % floor
            moved = True
        print("  %-34s %8s  %s" % (k, got[k], status))
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
