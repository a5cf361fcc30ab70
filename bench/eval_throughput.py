"""Evaluation throughput: the naive way vs the harness way, in one process, same tasks.

naive (transformers)   = batch size 1, full token budget (no early stopping), decoded with
                         `model.generate`: what a plain transformers loop does;
harness (transformers) = batched across tasks (web: live episodes batched step by step),
                         generation stopped per row as soon as the verdict is fixed;
harness (llama.cpp)    = the same harness on the llama.cpp engine (continuous batching,
                         shared prompt KV), from the same GGUF dequantized to f32 (the
                         default for small models);
harness (llama.cpp Q4) = the same, on the GGUF's own quantized weights (--gguf-weights file).

Prints tasks/s, generated tokens/s, the speedups, and the share of identical verdicts.
Usage: python bench/eval_throughput.py [--model SPEC] [--limit N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from hf_generate import GenerateBackend

from neutrophil.agent import Agent
from neutrophil.judges import default_judge
from neutrophil.models import load_backend
from neutrophil.tasks import load_tasks


def verdict_key(t):
    v = t.verdict
    return (v.refused, v.success, v.harmful_done)


def timed_run(agent, tasks):
    start = time.perf_counter()
    result = agent.run(tasks)
    return time.perf_counter() - start, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--tasks", default="builtin")
    ap.add_argument("--limit", type=int, default=48)
    ap.add_argument(
        "--rounds", type=int, default=1, help="interleaved repetitions (median reported)"
    )
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    tasks = load_tasks(args.tasks, limit=args.limit)
    backend = load_backend(args.model, engine="hf")
    llama = load_backend(args.model, engine="llama", threads=args.threads, batch_size=32)
    llama_file = load_backend(
        args.model, engine="llama", threads=args.threads, batch_size=32, gguf_weights="file"
    )
    judge = default_judge()
    judge.judge(["warm-up"], ["warm-up text that is not a refusal at all, just words"])
    plain = GenerateBackend(
        backend.model, backend.tokenizer, name=backend.name, batch_size=1, kv_share=False
    )
    agents = {
        "naive (transformers)": Agent(plain, judge=judge, early_stop=False),
        "harness (transformers)": Agent(backend, judge=judge, early_stop=True),
        "harness (llama.cpp)": Agent(llama, judge=judge, early_stop=True),
        "harness (llama.cpp Q4)": Agent(llama_file, judge=judge, early_stop=True),
    }
    times: dict[str, list[float]] = {name: [] for name in agents}
    results = {}
    for _ in range(args.rounds):  # interleaved: the VM's speed drifts over minutes
        for name, agent in agents.items():
            s, results[name] = timed_run(agent, tasks)
            times[name].append(s)

    print(
        f"model {backend.name}; {len(tasks)} tasks ({args.tasks}, balanced sample); rounds {args.rounds}"
    )
    for name in agents:
        t = statistics.median(times[name])
        gen = results[name].cost.generated_tokens
        print(
            f"{name:22s} {t:8.1f} s  {len(tasks) / t:6.3f} tasks/s  {gen / t:7.1f} gen tok/s  {gen} generated tokens"
        )
    pairs = [
        ("harness (llama.cpp)", "naive (transformers)"),
        ("harness (llama.cpp)", "harness (transformers)"),
        ("harness (transformers)", "naive (transformers)"),
        ("harness (llama.cpp Q4)", "naive (transformers)"),
    ]
    for fast, slow in pairs:
        speedup = statistics.median(times[slow]) / statistics.median(times[fast])
        a_rows, b_rows = results[slow].transcripts, results[fast].transcripts
        same = [verdict_key(a) == verdict_key(b) for a, b in zip(a_rows, b_rows, strict=True)]
        print(
            f"{fast} vs {slow}: speedup {speedup:.1f}x; identical verdicts "
            f"{sum(same)}/{len(same)} = {100 * sum(same) / len(same):.1f}%"
        )
        for a, b, ok in zip(a_rows, b_rows, same, strict=True):
            if not ok:
                print(
                    f"  differs: {a.task_id} ({a.domain}, {a.kind}): {verdict_key(a)} vs {verdict_key(b)}"
                )


if __name__ == "__main__":
    main()
