"""Accuracy of neutrophil's refusal judge on human labels that ship inside the PyRIT package.

PyRIT (pip: pyrit, MIT) ships human-labelled refusal data for evaluating its own refusal
scorer: `pyrit/datasets/scorer_evals/refusal_scorer/refusal.csv` and `refusal_extra.csv`
(columns objective, assistant_response, human_score with 1 = refusal). Only the data files
are read, so the package can be installed without its dependencies:

    .venv/bin/pip install --no-deps pyrit==1.1.0
    .venv/bin/python bench/judge_accuracy.py            # or --pyrit-dir DIR (an unpacked wheel)

Prints accuracy (with a 95% Wilson interval), precision and recall of refusal for the
pattern stage alone, the classifier alone, and the combined judge; plus our own held-in
training file for contrast (`--also-train`).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REL = Path("datasets/scorer_evals/refusal_scorer")
FILES = ("refusal.csv", "refusal_extra.csv")
RELEVANCE_FLOOR = 0.15  # fixed before looking at these scores


def pyrit_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    spec = importlib.util.find_spec("pyrit")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pyrit is not installed: .venv/bin/pip install --no-deps pyrit==1.1.0")
    return Path(next(iter(spec.submodule_search_locations)))


def load_pyrit(root: Path) -> list[tuple[str, str, bool, str]]:
    rows = []
    for name in FILES:
        path = root / REL / name
        lines = [
            ln for ln in path.read_text(encoding="utf-8").splitlines(True) if not ln.startswith("#")
        ]
        for r in csv.DictReader(io.StringIO("".join(lines))):
            rows.append(
                (r["objective"], r["assistant_response"], r["human_score"].strip() == "1", name)
            )
    return rows


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (c - h, c + h)


def report(name: str, pred: Sequence[bool], gold: Sequence[bool]) -> str:
    p, g = np.asarray(pred), np.asarray(gold)
    k, n = int((p == g).sum()), len(g)
    lo, hi = wilson(k, n)
    tp = int((p & g).sum())
    prec = tp / max(int(p.sum()), 1)
    rec = tp / max(int(g.sum()), 1)
    return f"{name:<22} accuracy {k / n:.3f} [{lo:.3f}, {hi:.3f}]  ({k}/{n})  precision {prec:.3f}  recall {rec:.3f}"


def evaluate(prompts: list[str], responses: list[str], gold: list[bool], title: str) -> None:
    from neutrophil.judges.patterns import judge_text
    from neutrophil.judges.refusal import PatternJudge, RefusalJudge

    combined = RefusalJudge()
    res = combined.judge(prompts, responses)
    pat = PatternJudge().judge(prompts, responses)
    probs = combined.classifier.predict_proba(responses, combined.embedder)
    conf = [judge_text(r).confident for r in responses]
    n_conf = sum(conf)
    print(f"== {title}: {len(gold)} rows, {sum(gold)} labelled refusal")
    print(report("pattern only", [r.refused for r in pat], gold))
    print(report("classifier only", list(probs >= 0.5), gold))
    print(report("combined (default)", [r.refused for r in res], gold))
    rel = RefusalJudge(combined.classifier, combined.embedder, relevance_floor=RELEVANCE_FLOOR)
    print(
        report(
            f"combined + relevance<{RELEVANCE_FLOOR}",
            [r.refused for r in rel.judge(prompts, responses)],
            gold,
        )
    )
    if n_conf:
        sub = [(r.refused, g) for r, g, c in zip(pat, gold, conf, strict=True) if c]
        print(
            report(
                f"pattern, confident {n_conf}/{len(gold)}", [a for a, _ in sub], [b for _, b in sub]
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pyrit-dir", help="the pyrit package folder (default: the installed one)")
    ap.add_argument("--also-train", action="store_true", help="also score our training file")
    ap.add_argument(
        "--errors", action="store_true", help="list the rows the combined judge gets wrong"
    )
    a = ap.parse_args(argv)

    root = pyrit_dir(a.pyrit_dir)
    rows = load_pyrit(root)
    prompts = [r[0] for r in rows]
    responses = [r[1] for r in rows]
    gold = [r[2] for r in rows]
    print(f"source: {root / REL} ({', '.join(FILES)})")
    evaluate(prompts, responses, gold, "PyRIT human-labelled refusal set")
    for name in FILES:
        idx = [i for i, r in enumerate(rows) if r[3] == name]
        evaluate(
            [prompts[i] for i in idx], [responses[i] for i in idx], [gold[i] for i in idx], name
        )
    # PyRIT builds off-topic "refusals" by pairing a response with another row's objective.
    # Our judge reads stance, not relevance, so report the rows without such swaps apart.
    objectives: dict[str, set[str]] = {}
    for p, r, _, _ in rows:
        objectives.setdefault(r.strip(), set()).add(p.strip())
    keep = [i for i, r in enumerate(rows) if len(objectives[r[1].strip()]) == 1]
    evaluate(
        [prompts[i] for i in keep],
        [responses[i] for i in keep],
        [gold[i] for i in keep],
        "rows whose response appears under one objective only (no swapped pairs)",
    )
    if a.errors:
        from neutrophil.judges.refusal import RefusalJudge

        for (_, resp, g, name), r in zip(
            rows, RefusalJudge().judge(prompts, responses), strict=True
        ):
            if r.refused != g:
                flat = resp[:140].replace("\n", " ")
                print(
                    f"  wrong [{name}] human={'refusal' if g else 'compliance'} {r.judge} {r.score:.2f}: {flat}"
                )
    if a.also_train:
        from neutrophil.judges.classifier import TRAIN_FILE, dedupe, load_rows

        tr = dedupe(load_rows(TRAIN_FILE))
        evaluate(
            [r["prompt"] for r in tr],
            [r["response"] for r in tr],
            [r["label"] == "refusal" for r in tr],
            "training file (held-in, optimistic)",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
