"""``python -m benchmarks.report [--pick last|quietest] run1.json [run2.json …]``: Markdown tables for
docs/performance.md.

Several runs of ``benchmarks.runner --json`` (same day, same machine) become, per backend: the
ops/s of every system with its ops/s ÷ the raw driver's, the ops/s of the farmorm variant that
returns what each peer returns ÷ the peer's, and the issue #21 targets with the measured value and whether it was met. Figures come from one run (the
last file given, or per backend the run whose load average was lowest); where several runs are
given, each ratio also shows its range over all of them, so a reader sees how much of it is noise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .runner import BACKENDS, BASELINE, FARMORM_ASYNCMY, FARMORM_LEAN, LABELS, PEERS, evaluate_targets


def _load(report: dict[str, Any]) -> float:
    loads = [x for x in report.get("load_average") or [] if x is not None]
    return sum(loads) / len(loads) if loads else 0.0


def _range(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else ""


def markdown(runs: list[dict[str, Any]], pick: str = "last") -> str:
    out = []
    for backend in [b for b in BACKENDS if any(b in r["backends"] for r in runs)]:
        reports = [r["backends"][backend] for r in runs if backend in r["backends"]]
        best = reports[-1] if pick == "last" else min(reports, key=_load)
        systems = list(best["systems"])
        load = best.get("load_average") or ["?", "?"]
        versions = ", ".join(f"{LABELS[s]} {best['systems'][s]['version']}"
                             + (f" on {best['systems'][s]['driver']}" if s in PEERS or s == FARMORM_ASYNCMY else "")
                             for s in systems if s != "raw")
        out.append(f"**{backend}** — {best['driver']} {best['driver_version']} on {best['server']}; {versions}; "
                   f"median of {best['rounds']} rounds; load average {load[0]}–{load[1]}"
                   + (f"; ranges over {len(reports)} runs" if len(reports) > 1 else "") + "\n")
        others = [s for s in systems if s != "raw"]
        out.append("| workload | ops/round | raw ops/s | " + " | ".join(f"{LABELS[s]} ops/s (÷ raw)" for s in others) + " |")
        out.append("|---|---:|---:|" + "---:|" * len(others))
        for name, r in best["results"].items():
            cells = []
            for s in others:
                ratios = [x["results"][name]["speed"][s] for x in reports
                          if name in x["results"] and s in x["results"][name].get("speed", {})]
                rng = _range(ratios)
                cells.append(f"{r['ops_s'][s]:.0f} ({r['speed'][s]:.2f}{', ' + rng if rng else ''})")
            out.append(f"| {name} | {r['ops']} | {r['ops_s']['raw']:.0f} | " + " | ".join(cells) + " |")
        out.append("")
        if BASELINE in systems and "farmorm" in systems:
            out.append("farmorm's time per operation ÷ the baseline's, paired per round (above 1 is slower):\n")
            out.append("| workload | this ÷ baseline |")
            out.append("|---|---:|")
            for name, r in best["results"].items():
                vals = [x["results"][name]["farmorm_vs_baseline"] for x in reports
                        if name in x["results"] and "farmorm_vs_baseline" in x["results"][name]]
                rng = _range(vals)
                out.append(f"| {name} | {r['farmorm_vs_baseline']:.3f}{' (' + rng + ')' if rng else ''} |")
            out.append("")
        peers = [s for s in others if s in PEERS]
        if peers and "farmorm" in systems:
            out.append("ops/s of the farmorm variant that returns what the peer returns ÷ the peer's "
                       "(higher is better for farmorm; * = farmorm lean):\n")
            out.append("| workload | " + " | ".join(LABELS[s] for s in peers) + " |")
            out.append("|---|" + "---:|" * len(peers))
            for name, r in best["results"].items():
                cells = []
                for s in peers:
                    variant = r.get("comparable", {}).get(s, "farmorm")
                    key = f"{variant}_vs"
                    vals = [x["results"][name][key][s] for x in reports
                            if name in x["results"] and s in x["results"][name].get(key, {})]
                    rng = _range(vals)
                    mark = "*" if variant == FARMORM_LEAN else "×"
                    cells.append(f"{r[key][s]:.2f}{mark}{' (' + rng + ')' if rng else ''}")
                out.append(f"| {name} | " + " | ".join(cells) + " |")
            out.append("")
        out.append(targets_markdown(reports, best))
    notes = [n for r in runs for n in r.get("notes", [])]
    for note in dict.fromkeys(notes):
        out.append(f"- {note}")
    return "\n".join(out)


def targets_markdown(reports: list[dict[str, Any]], best: dict[str, Any]) -> str:
    """The targets of one backend: target, measured (and range), met in the picked run."""
    rows = ["| target | measured | met? | the peer's ops/s ÷ raw |", "|---|---:|:---:|---:|"]
    all_runs = [{t["target"]: t for t in evaluate_targets(r)} for r in reports]
    for t in evaluate_targets(best):
        if t["measured"] is None:
            continue
        values = [run[t["target"]]["measured"] for run in all_runs
                  if t["target"] in run and run[t["target"]]["measured"] is not None]
        rng = _range(values)
        verdict = "yes" if t["met"] else "**no**"
        if len(values) > 1 and any(v >= t["bound"] for v in values) and not all(v >= t["bound"] for v in values):
            verdict += " (not in every run)"
        ceiling = f"{t['ceiling']:.2f}×" if t.get("ceiling") else ""
        rows.append(f"| {t['target']} | {t['measured']:.2f}×{' (' + rng + ')' if rng else ''} | {verdict} | {ceiling} |")
    return "\n".join(rows) + "\n"


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
