"""Replay racing on a full verdict matrix: how many (candidate, task) rows each racing rule
would generate, and which prefix it would pick, with no model in the loop.

The matrix is a verdict store where every candidate was scored on every task, such as the
naive phase of `bench/optimize_cost.py` (its store directory is printed as `naive_store`).
Pool and tasks are rebuilt with the same arguments as that run.

    .venv/bin/python bench/racing_replay.py --store /tmp/naive-store --pool 10 --tasks 32
"""

from __future__ import annotations

import argparse
import json
import sys

from optimize_cost import pool, selection_tasks

CONFIGS = {
    "no racing": dict(enabled=False),
    "unpaired, z 1.0 (Wilson bounds)": dict(paired=False, z=1.0),
    "unpaired, z 1.64": dict(paired=False, z=1.64),
    "paired, z 1.64 (default)": dict(),
    "paired, z 1.64, growth 1.5": dict(growth=1.5),
    "paired, z 2.33": dict(z=2.33),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, help="verdict store dir with the full matrix")
    ap.add_argument("--pool", type=int, default=10)
    ap.add_argument("--tasks", type=int, default=24)
    ap.add_argument("--suite", default="builtin")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="smollm2-135m", help="model name in the store")
    args = ap.parse_args()

    from neutrophil.search import Objective, RacingConfig, SearchStore, prefix_defense, race

    store = SearchStore(args.store)
    candidates = pool(args.pool, args.seed)
    tasks = selection_tasks(args.suite, args.tasks)
    stored = {
        (c, t.id): store.get(args.model, prefix_defense(c).describe(), t.id)
        for c in candidates
        for t in tasks
    }
    missing = sum(sv is None for sv in stored.values())
    if missing:
        print(f"{args.store}: {missing} (candidate, task) verdicts missing", file=sys.stderr)
        return 2
    matrix = {c: {t.id: stored[(c, t.id)].verdict for t in tasks} for c in candidates}

    full = len(candidates) * len(tasks)
    objective = Objective()
    out = {}
    for name, kw in CONFIGS.items():
        asked: set[tuple[str, str]] = set()

        def evaluate(cands, ts, asked=asked):
            asked.update((c, t.id) for c in cands for t in ts)
            return [{t.id: matrix[c][t.id] for t in ts} for c in cands]

        res = race(candidates, tasks, evaluate, objective, RacingConfig(**kw), seed=args.seed)
        complete = [s for s in res.standings if s.dropped_at is None]
        pick = max(complete, key=lambda s: s.score).candidate
        out[name] = {
            "rows": len(asked),
            "row_saving": round(full / len(asked), 2),
            "dropped_at": sorted(s.dropped_at for s in res.standings if s.dropped_at),
            "pick": pick[:60],
        }
    print(json.dumps({"full_rows": full, "configs": out}, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
