#!/usr/bin/env python3
"""compare_reports.py - put moesim JSON reports side by side.

usage: compare_reports.py REPORT.json [REPORT.json ...]

Prints, for each report (schema moesim.report/1), the headline figures and
their ratio to the first report: throughput, simulated time, dropped share,
dispatch and combine p50/p99, and the worst per-layer expert-load imbalance.
Standard library only.
"""
import json
import sys


def load(path):
    with open(path) as f:
        r = json.load(f)
    if not str(r.get("schema", "")).startswith("moesim.report/"):
        sys.exit(f"{path}: not a moesim report (schema {r.get('schema')!r})")
    return r


def row(r):
    t = r["totals"]
    layers = r.get("layers", [])
    return {
        "throughput tok/s": t["throughput_tokens_per_s"],
        "sim time s": t["sim_time_s"],
        "dropped share": t["dropped_share"],
        "dispatch p50 us": t["dispatch_s"]["p50"] * 1e6,
        "dispatch p99 us": t["dispatch_s"]["p99"] * 1e6,
        "combine p50 us": t["combine_s"]["p50"] * 1e6,
        "combine p99 us": t["combine_s"]["p99"] * 1e6,
        "worst load max/mean": max((l["load_max_over_mean"] for l in layers), default=0.0),
    }


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    reports = [(p, row(load(p))) for p in argv[1:]]
    keys = list(reports[0][1].keys())
    width = max(len(p) for p, _ in reports)
    print(f"{'report':<{width}}  " + "  ".join(f"{k:>20}" for k in keys))
    base = reports[0][1]
    for path, r in reports:
        cells = []
        for k in keys:
            ratio = r[k] / base[k] if base[k] else float("nan")
            cells.append(f"{r[k]:>12.4g} ({ratio:4.2f}x)")
        print(f"{path:<{width}}  " + "  ".join(f"{c:>20}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
