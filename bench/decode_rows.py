"""Row-dropping greedy decoding vs `model.generate` with the same per-row stop rules.

One batch of chat tasks, each row stopping when the refusal judge's verdict is fixed (the
search's early stop) or at its token budget. `model.generate` keeps finished rows in the
batch until the last one ends; neutrophil's decoder drops them. Both run interleaved in one
process, `--repeats` times each; prints the medians and whether the texts are identical.

    .venv/bin/python bench/decode_rows.py --rows 32 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
from hf_generate import GenerateBackend


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--budget", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from neutrophil.judges import PatternJudge
    from neutrophil.models import load_backend
    from neutrophil.models.base import Request, user_message
    from neutrophil.tasks import load_tasks

    backend = load_backend(args.model)
    plain = GenerateBackend(backend.model, backend.tokenizer, name=backend.name, kv_share=False)
    judge = PatternJudge()
    tasks = load_tasks("builtin:chat", split="train", limit=args.rows)
    requests = [
        Request(user_message(t.prompt), max_new_tokens=args.budget, stop_when=judge.decided)
        for t in tasks
    ]
    times: dict[str, list[float]] = {"generate": [], "neutrophil": []}
    texts: dict[str, list[str]] = {}
    row_steps: dict[str, int] = {}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        gens = plain.generate(requests)
        times["generate"].append(time.perf_counter() - t0)
        texts["generate"] = [g.text for g in gens]
        # generate() runs every row until the batch's longest one ends.
        row_steps["generate"] = len(gens) * max(g.generated_tokens for g in gens)
        t0 = time.perf_counter()
        gens = backend.generate(requests)
        times["neutrophil"].append(time.perf_counter() - t0)
        texts["neutrophil"] = [g.text for g in gens]
        row_steps["neutrophil"] = sum(g.generated_tokens for g in gens)
    med = {k: statistics.median(v) for k, v in times.items()}
    same = sum(a == b for a, b in zip(texts["generate"], texts["neutrophil"], strict=True))
    report = {
        "model": backend.name,
        "rows": len(requests),
        "budget": args.budget,
        "seconds": {k: [round(x, 2) for x in v] for k, v in times.items()},
        "median_seconds": {k: round(v, 2) for k, v in med.items()},
        "row_steps_computed": row_steps,
        "speedup": round(med["generate"] / med["neutrophil"], 2),
        "identical_texts": f"{same}/{len(requests)}",
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
