"""Paired comparison of run directories on the tasks they share.

Reads `responses.jsonl` of each run directory (from `eval`, `demo`, `lab`, `gates`), keeps
the tasks every run judged, and prints each run's rates (95% Wilson) and its paired
difference against the first run (Agresti–Min interval, exact McNemar p), as `eval`'s and
the demo's reports do. It is for runs made by different commands on the same model,
engine, judge and budgets: it does not check that they were, so say how each run was made
when you report.

    .venv/bin/python bench/paired_runs.py runs/demo165/none runs/demo165/ping runs/cc-suffix
"""

from __future__ import annotations

import argparse
from pathlib import Path

from judge_shift import load  # bench/ is the script's directory

from neutrophil.metrics import RATE_SHORT_LABELS, rates
from neutrophil.paired import compare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "runs", nargs="+", type=Path, help="run directories; the first is the reference"
    )
    args = ap.parse_args()
    loaded = {run: load(run) for run in args.runs}
    shared = set.intersection(*({t.task_id for t in ts} for ts in loaded.values()))
    runs = {r: [t for t in ts if t.task_id in shared] for r, ts in loaded.items()}
    ref_name, ref = next(iter(runs.items()))
    print(f"{len(shared)} tasks in every run; differences against {ref_name}")
    print()
    names = list(RATE_SHORT_LABELS)[:4]
    print("| run | " + " | ".join(RATE_SHORT_LABELS[n] for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for run, ts in runs.items():
        r = rates(ts)
        print(f"| {run} | " + " | ".join(str(r[n]) for n in names) + " |")
    print()
    print("| run − reference | " + " | ".join(RATE_SHORT_LABELS[n] for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for run, ts in list(runs.items())[1:]:
        diffs = compare(ts, ref)
        print(f"| {run} | " + " | ".join(str(diffs[n]) for n in names) + " |")


if __name__ == "__main__":
    main()
