"""What one `llama_decode` costs on each form of a GGUF's weights, by batch size.

For each form (`--gguf-weights`: the file as stored, q8_0, f32) and each row count N:
milliseconds for N live rows' next tokens (N sequences, one token each, with logits for
every row, as the scheduler decodes) after 40-token prompts, and for one sequence's N-token
prompt (logits for its last token only). Forms are interleaved within each round; medians
over rounds.

    OMP_NUM_THREADS=2 .venv/bin/python bench/llama_kernels.py --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from neutrophil.models.embedded import embedded_gguf, ensure_weights_gguf
from neutrophil.models.llamacpp.native import NativeContext, NativeModel

PROMPT = 40


def rows_step(model: NativeModel, tokens: list[int], n: int, threads: int) -> float:
    """Seconds for one step of `n` rows' next tokens (median of 5 steps)."""
    ctx = NativeContext(model, n_seq=n, seq_ctx=256, n_batch=512, threads=threads)
    try:
        for s in range(n):
            ctx.decode([(t, i, s, i == PROMPT - 1) for i, t in enumerate(tokens[:PROMPT])])
        times = []
        for step in range(6):
            start = time.perf_counter()
            ctx.decode([(tokens[step], PROMPT + step, s, True) for s in range(n)])
            times.append(time.perf_counter() - start)
        return statistics.median(times[1:])
    finally:
        ctx.free()


def prompt_chunk(model: NativeModel, tokens: list[int], n: int, threads: int) -> float:
    """Seconds to decode one sequence's `n`-token prompt (median of 3)."""
    times = []
    for _ in range(3):
        ctx = NativeContext(model, n_seq=1, seq_ctx=256, n_batch=512, threads=threads)
        start = time.perf_counter()
        ctx.decode([(t, i, 0, i == n - 1) for i, t in enumerate(tokens[:n])])
        times.append(time.perf_counter() - start)
        ctx.free()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="a .gguf (default: the embedded)")
    ap.add_argument("--forms", default="file,q8_0,f32")
    ap.add_argument("--rows", default="1,8,32,64")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    gguf = args.model or embedded_gguf()
    forms = args.forms.split(",")
    counts = [int(n) for n in args.rows.split(",")]
    models = {
        f: NativeModel.load(gguf if f == "file" else ensure_weights_gguf(gguf, f)) for f in forms
    }
    tokens = models[forms[0]].tokenize("The quick brown fox jumps over the lazy dog. " * 40)
    rows: dict[tuple[str, int], list[float]] = {}
    chunk: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for n in counts:
            for f in forms:
                rows.setdefault((f, n), []).append(rows_step(models[f], tokens, n, args.threads))
                chunk.setdefault((f, n), []).append(
                    prompt_chunk(models[f], tokens, n, args.threads)
                )
    print(f"{gguf.name}, {args.threads} threads, {args.rounds} rounds (medians)")
    print("| weights | rows | ms per step (N rows) | tok/s | ms per N-token prompt | tok/s |")
    print("|---|---|---|---|---|---|")
    for f in forms:
        for n in counts:
            r, c = statistics.median(rows[(f, n)]), statistics.median(chunk[(f, n)])
            print(f"| {f} | {n} | {r * 1000:.1f} | {n / r:.0f} | {c * 1000:.1f} | {n / c:.0f} |")


if __name__ == "__main__":
    main()
