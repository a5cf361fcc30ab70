"""The llama.cpp engine's own efficiency: generated tokens/s on the same rows with one
sequence slot (a plain single-sequence loop), the default 32 slots, and 64 slots.

Rows: chat prompts from the built-in suite, greedy, a fixed token budget, no early stop
(every configuration generates exactly the same tokens; checked). Configurations run
interleaved, `--rounds` times; medians are reported.

    .venv/bin/python bench/llama_engine.py --rows 64 --budget 128 --rounds 3 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

from neutrophil.models import load_backend
from neutrophil.models.base import Request, user_message
from neutrophil.tasks import load_tasks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--budget", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--slots", default="1,32,64", help="sequence-slot counts to compare")
    args = ap.parse_args()

    prompts = [t.prompt for t in load_tasks("builtin:chat")][: args.rows]
    requests = [Request(user_message(p), max_new_tokens=args.budget) for p in prompts]
    engines = {
        int(n): load_backend(args.model, engine="llama", batch_size=int(n), threads=args.threads)
        for n in args.slots.split(",")
    }
    times: dict[int, list[float]] = {n: [] for n in engines}
    texts: dict[int, list[str]] = {}
    generated: dict[int, int] = {}
    for _ in range(args.rounds):
        for n, backend in engines.items():
            start = time.perf_counter()
            gens = backend.generate(requests)
            times[n].append(time.perf_counter() - start)
            texts[n] = [g.text for g in gens]
            generated[n] = sum(g.generated_tokens for g in gens)
    base = min(engines)
    print(
        f"{len(requests)} rows, budget {args.budget}, {args.threads} threads, {args.rounds} rounds"
    )
    for n in engines:
        t = statistics.median(times[n])
        same = sum(a == b for a, b in zip(texts[n], texts[base], strict=True))
        print(
            f"slots {n:3d}: {t:7.1f} s  {generated[n] / t:7.1f} gen tok/s  "
            f"({generated[n]} tokens; texts equal to {base}-slot run: {same}/{len(requests)})"
        )


if __name__ == "__main__":
    main()
