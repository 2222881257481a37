"""``python -m benchmarks.report [--pick last|quietest] run1.json [run2.json …]``: Markdown tables for
docs/performance.md.

Several runs of ``benchmarks.runner --json`` (same day, same machine) become one table per
backend: the figures of one run (the last file given, or per backend the run whose load average
was lowest), plus the range of the ratio over all runs, so a reader sees how much of a ratio is
noise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _load(report: dict[str, Any]) -> float:
    loads = [x for x in report.get("load_average") or [] if x is not None]
    return sum(loads) / len(loads) if loads else 0.0


def markdown(runs: list[dict[str, Any]], pick: str = "last") -> str:
    out = []
    backends = [b for b in ("sqlite", "postgres", "mysql") if any(b in r["backends"] for r in runs)]
    for backend in backends:
        reports = [r["backends"][backend] for r in runs if backend in r["backends"]]
        best = reports[-1] if pick == "last" else min(reports, key=_load)
        load = best.get("load_average") or ["?", "?"]
        out.append(f"**{backend}** — {best['driver']} {best['driver_version']} on {best['server']}; "
                   f"median of {best['rounds']} rounds; load average {load[0]} → {load[1]}; "
                   f"ratio range over {len(reports)} run{'s' if len(reports) != 1 else ''}\n")
        out.append("| workload | ops/round | raw ops/s | farmorm ops/s | farmorm time ÷ raw | range |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for name, r in best["results"].items():
            ratios = [x["results"][name]["time_ratio"] for x in reports if name in x["results"]]
            out.append(f"| {name} | {r['ops']} | {r['raw_ops']:.0f} | {r['farmorm_ops']:.0f} | "
                       f"{r['time_ratio']:.2f}× | {min(ratios):.2f}–{max(ratios):.2f} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pick", choices=("last", "quietest"), default="last")
    ap.add_argument("runs", nargs="+", type=Path)
    args = ap.parse_args(argv)
    print(markdown([json.loads(p.read_text()) for p in args.runs], args.pick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
