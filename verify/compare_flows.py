#!/usr/bin/env python3
"""Compares flow records field by field: ours against another engine's (Suricata's).

Usage: verify/compare_flows.py OURS_DIR THEIRS_DIR [--show FIELD [N]] [--cases GLOB]

Each directory holds one EVE file per capture, named alike: CASE.json, or CASE/eve.json
(as Suricata writes it with -l CASE). Flow records are matched by protocol and the
unordered pair of endpoints; where both sides have the same number of records for a
key they are paired in file order and each field below is compared:

  dir            the client (src_ip, src_port)
  app_proto, app_proto_ts, app_proto_tc
  pkts_toserver, pkts_toclient, bytes_toserver, bytes_toclient
  state, reason, age

Prints the number of records compared, those only one side has, and per field the
number that differ. --show FIELD N prints the first N differences of FIELD (or of
`count`: keys with a different number of records) as (case, key, theirs, ours).
Standard library only; reads, writes nothing. docs/fidelity.md says what the
differences against Suricata 8.0.7 are and why.
"""
import argparse
import collections
import fnmatch
import json
import os

FIELDS = ["dir", "app_proto", "app_proto_ts", "app_proto_tc", "pkts_toserver",
          "pkts_toclient", "bytes_toserver", "bytes_toclient", "state", "reason", "age"]


def key(e):
    a = (e.get("src_ip"), e.get("src_port"))
    b = (e.get("dest_ip"), e.get("dest_port"))
    return (e.get("proto"),) + tuple(sorted([a, b], key=str))


def record(e):
    f = e.get("flow", {})
    r = {"dir": (e.get("src_ip"), e.get("src_port"))}
    for k in ("app_proto", "app_proto_ts", "app_proto_tc"):
        r[k] = e.get(k)
    for k in FIELDS[4:]:
        r[k] = f.get(k)
    return r


def load(path):
    out = collections.defaultdict(list)
    with open(path, errors="replace") as fh:
        for line in fh:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict) and e.get("event_type") == "flow":
                out[key(e)].append(record(e))
    return out


def eve_files(d):
    """CASE -> path, for CASE.json and CASE/eve.json."""
    found = {}
    for name in os.listdir(d):
        p = os.path.join(d, name)
        if name.endswith(".json") and os.path.isfile(p):
            found[name[:-5]] = p
        elif os.path.isfile(os.path.join(p, "eve.json")):
            found[name] = os.path.join(p, "eve.json")
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ours")
    ap.add_argument("theirs")
    ap.add_argument("--show", nargs="+", metavar=("FIELD", "N"))
    ap.add_argument("--cases", default="*")
    a = ap.parse_args()
    ours, theirs = eve_files(a.ours), eve_files(a.theirs)
    bad = collections.Counter()
    shown = collections.defaultdict(list)
    compared = only_theirs = only_ours = 0
    for case in sorted(set(ours) & set(theirs)):
        if not fnmatch.fnmatch(case, a.cases):
            continue
        o, t = load(ours[case]), load(theirs[case])
        for k in set(o) | set(t):
            x, y = t.get(k, []), o.get(k, [])
            if len(x) != len(y):
                only_theirs += max(0, len(x) - len(y))
                only_ours += max(0, len(y) - len(x))
                shown["count"].append((case, k, len(x), len(y)))
                continue
            for rt, ro in zip(x, y):
                compared += 1
                for f in FIELDS:
                    if rt[f] != ro[f]:
                        bad[f] += 1
                        shown[f].append((case, k, rt[f], ro[f]))
    print("compared %d records in %d captures; only theirs %d, only ours %d"
          % (compared, len(set(ours) & set(theirs)), only_theirs, only_ours))
    for f in FIELDS:
        print("  %-15s %d" % (f, bad[f]))
    if a.show:
        n = int(a.show[1]) if len(a.show) > 1 else 20
        for row in shown[a.show[0]][:n]:
            print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
