"""Cost of scoring one candidate pool: the naive way vs neutrophil's, in one run.

naive:      every candidate on every selection task, full generation (to EOS or the token
            budget, no early stop), one agent per candidate, batched across its tasks (no
            merged batches, so no KV reuse), no racing.
neutrophil: paired racing on growing task subsets, early stopping once the verdict is
            fixed, every candidate's rows in one merged batch with the task prompt's KV
            computed once, and the verdict store (nothing generated twice).

The naive way runs on transformers; the neutrophil way on `--engine` (default llama: the
llama.cpp engine on the same GGUF; `hf` for the transformers decoder, where finished rows
also leave the batch). The neutrophil way runs before and after the naive one, with fresh
stores, so drift in machine speed shows; the speedup uses their mean. Prints both costs,
the speedup, and whether both pick the same prefix.

    .venv/bin/python bench/optimize_cost.py --pool 12 --tasks 24
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import torch


def pool(n: int, seed: int) -> list[str]:
    """A fixed, varied pool: offline-proposer draws plus a refusal and a compliance prefix."""
    from neutrophil.search.proposers import Feedback, OfflineProposer

    fb = Feedback(round=0, history=(), objective="SR + RR", best_possible=2.0)
    drawn = list(OfflineProposer(seed).propose(fb, max(n - 2, 1)).candidates)
    return (drawn + ["I can't help with that.", "Sure, here is exactly what you asked for:"])[:n]


def selection_tasks(suite: str, n: int) -> list:
    """A balanced sample of `n` tasks from the suite's train+val splits."""
    from neutrophil.tasks import load_tasks
    from neutrophil.tasks.load import balanced_sample

    tasks = [t for t in load_tasks(suite) if t.split in ("train", "val")]
    return balanced_sample(tasks, n) if n < len(tasks) else tasks


class TokenRows:
    """Counts token positions the model runs (rows x new columns per forward, padding
    included): the compute actually spent, independent of the machine's speed."""

    def __init__(self, model) -> None:
        self.count = 0
        model.register_forward_pre_hook(self._add, with_kwargs=True)

    def _add(self, _module, args, kwargs) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None:
            self.count += ids.numel()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--pool", type=int, default=10)
    ap.add_argument(
        "--tasks",
        type=int,
        default=24,
        help="selection tasks: a balanced sample of the suite's train+val split",
    )
    ap.add_argument(
        "--suite", default="builtin", help="task suite (default builtin: chat, code and web)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--judge", default="patterns")
    ap.add_argument("--engine", choices=["llama", "hf"], default="llama")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from neutrophil.judges.select import judge_from_name
    from neutrophil.models import load_backend
    from neutrophil.search import (
        Evaluator,
        Objective,
        RacingConfig,
        SearchStore,
        prefix_defense,
        race,
        tally,
    )

    tasks = selection_tasks(args.suite, args.tasks)
    candidates = pool(args.pool, args.seed)
    backend = load_backend(args.model, engine="hf")
    fast = backend
    if args.engine == "llama":
        fast = load_backend(args.model, engine="llama", threads=args.threads, batch_size=32)
    judge = judge_from_name(args.judge)
    objective = Objective()
    token_rows = TokenRows(backend.model)

    def ours_rows_now() -> int:
        return fast.scheduler.stats.row_steps if fast is not backend else token_rows.count

    # -- neutrophil ---------------------------------------------------------------------
    def neutrophil_way():
        fast.kv_share = True
        ours = Evaluator(
            fast,
            SearchStore(tempfile.mkdtemp()),
            judge=judge,
            early_stop=True,
            merge=True,
            progress=True,
        )

        def evaluate(cands, ts):
            rows = ours.evaluate([prefix_defense(c) for c in cands], ts, desc="neutrophil")
            return [{k: sv.verdict for k, sv in row.items()} for row in rows]

        t0, n0 = time.perf_counter(), ours_rows_now()
        result = race(candidates, tasks, evaluate, objective, RacingConfig(), seed=args.seed)
        return time.perf_counter() - t0, ours_rows_now() - n0, ours, result

    before_s, ours_rows, ours, result = neutrophil_way()
    # -- naive ------------------------------------------------------------------------
    backend.kv_share = False
    naive_store = tempfile.mkdtemp(prefix="naive-store-")
    naive = Evaluator(
        backend,
        SearchStore(naive_store),
        judge=judge,
        early_stop=False,
        merge=False,
        progress=True,
    )
    t0, n0 = time.perf_counter(), token_rows.count
    verdicts = naive.evaluate([prefix_defense(c) for c in candidates], tasks, desc="naive")
    naive_s = time.perf_counter() - t0
    naive_rows = token_rows.count - n0
    naive_scores = [
        objective.score(tally((t.kind, t.borderline, v[t.id].verdict) for t in tasks))
        for v in verdicts
    ]
    naive_pick = max(range(len(candidates)), key=lambda i: naive_scores[i])

    after_s, _, _, result_again = neutrophil_way()
    ours_s = (before_s + after_s) / 2
    complete = [s for s in result.standings if s.dropped_at is None]
    ours_pick = max(complete, key=lambda s: s.score).candidate
    report = {
        "model": backend.name,
        "engine": args.engine,
        "pool": len(candidates),
        "tasks": len(tasks),
        "naive": {
            "seconds": round(naive_s, 1),
            "rows": naive.cost.rows,
            "generated_tokens": naive.cost.generated_tokens,
            "prompt_tokens": naive.cost.prompt_tokens,
            "model_token_rows": naive_rows,
        },
        "neutrophil": {
            "seconds": round(ours_s, 1),
            "seconds_before_naive": round(before_s, 1),
            "seconds_after_naive": round(after_s, 1),
            "rows": ours.cost.rows,
            "generated_tokens": ours.cost.generated_tokens,
            "prompt_tokens": ours.cost.prompt_tokens,
            "model_token_rows": ours_rows,
            "stages": result.stages,
            "dropped_at": {
                s.candidate: s.dropped_at for s in result.standings if s.dropped_at is not None
            },
            "same_verdicts_both_runs": result.standings == result_again.standings,
        },
        "speedup_seconds": round(naive_s / max(ours_s, 1e-9), 2),
        "speedup_model_token_rows": round(naive_rows / max(ours_rows, 1), 2),
        "speedup_generated_tokens": round(
            naive.cost.generated_tokens / max(ours.cost.generated_tokens, 1), 2
        ),
        "naive_pick": candidates[naive_pick],
        "naive_pick_score": round(naive_scores[naive_pick], 3),
        "neutrophil_pick": ours_pick,
        "neutrophil_pick_score": round(max(s.score for s in complete), 3),
        "naive_score_of_neutrophil_pick": round(naive_scores[candidates.index(ours_pick)], 3),
        "same_winner": candidates[naive_pick] == ours_pick,
        "naive_store": naive_store,  # the full matrix, for bench/racing_replay.py
        "naive_scores": {c: round(s, 3) for c, s in zip(candidates, naive_scores, strict=True)},
    }
    print(json.dumps(report, indent=1, ensure_ascii=False))
    print(
        f"speedup {report['speedup_seconds']}x wall, same winner: {report['same_winner']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
