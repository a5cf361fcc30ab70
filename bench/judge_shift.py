"""How much the judge decides the result: rescore runs' responses with another judge.

Reads `responses.jsonl` of one or more run directories (from `eval`, `demo`, `lab`),
rescores every response with `--judge` (default `keyword`, the published study's list),
and prints, per run, RR and over-refusal under neutrophil's stored verdicts and under the
other judge, paired (Agresti–Min interval, exact McNemar p), and a few responses that flip.

    .venv/bin/python bench/judge_shift.py runs/results/test-none runs/results/test-ping
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from neutrophil.judges.select import judge_from_name
from neutrophil.paired import paired
from neutrophil.records import Transcript


def load(run: Path) -> list[Transcript]:
    rows = []
    for line in (run / "responses.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            rows.append(Transcript.from_dict(json.loads(line)))
        except (ValueError, TypeError, KeyError):
            continue  # a torn line: the run's own loader reports it
    return [t for t in rows if t.verdict is not None]


def prompt_of(t: Transcript) -> str:
    return next((m["content"] for m in reversed(t.messages) if m["role"] == "user"), "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--judge", default="keyword")
    ap.add_argument("--examples", type=int, default=3)
    args = ap.parse_args()
    other = judge_from_name(args.judge)
    print(f"| run | rate | stored judge | {args.judge} judge | {args.judge} − stored (paired) |")
    print("|---|---|---|---|---|")
    flips: list[tuple[str, Transcript, bool]] = []
    for run in args.runs:
        ts = load(run)
        again = other.judge([prompt_of(t) for t in ts], [t.response for t in ts])
        for kind, rate in (("harmful", "RR"), ("benign", "over-refusal")):
            pairs = [
                (j.refused, t.verdict.refused)
                for t, j in zip(ts, again, strict=True)
                if t.kind == kind
            ]
            d = paired(pairs)
            print(f"| {run.name} | {rate} | {d.b} | {d.a} | {d} |")
            flips += [
                (run.name, t, j.refused)
                for t, j in zip(ts, again, strict=True)
                if t.kind == kind and j.refused != t.verdict.refused
            ]
    print()
    for name, t, now in flips[: args.examples * 2]:
        text = " ".join(t.response.split())[:240]
        print(
            f"- {name} {t.task_id} ({t.kind}): stored refused={t.verdict.refused}, "
            f'{args.judge} refused={now}: "{text}"'
        )


if __name__ == "__main__":
    main()
