"""Where llama.cpp generation time goes: generated tok/s at a number of sequence slots, and
the share of the wall time spent inside `llama_decode` (timed around each call).

One process per configuration (run it once per slot count and weights):

    OMP_NUM_THREADS=2 .venv/bin/python bench/decode_share.py --slots 32 --gguf-weights auto
    OMP_NUM_THREADS=2 .venv/bin/python bench/decode_share.py --slots 32 --model other.gguf
"""

from __future__ import annotations

import argparse
import time

from neutrophil.models import GGUF_WEIGHTS, load_backend
from neutrophil.models.base import Request, user_message
from neutrophil.models.llamacpp import native
from neutrophil.tasks import load_tasks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m", help="the embedded model or a .gguf")
    ap.add_argument("--slots", type=int, default=32)
    ap.add_argument("--gguf-weights", choices=GGUF_WEIGHTS, default="auto")
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--budget", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    backend = load_backend(
        args.model,
        engine="llama",
        batch_size=args.slots,
        threads=args.threads,
        gguf_weights=args.gguf_weights,
    )
    prompts = [t.prompt for t in load_tasks("builtin:chat")][: args.rows]
    requests = [Request(user_message(p), max_new_tokens=args.budget) for p in prompts]
    backend.generate(requests[:2])  # warm-up
    inside = [0.0, 0]
    decode = native.NativeContext.decode

    def timed(self, entries):
        start = time.perf_counter()
        try:
            return decode(self, entries)
        finally:
            inside[0] += time.perf_counter() - start
            inside[1] += 1

    native.NativeContext.decode = timed
    start = time.perf_counter()
    gens = backend.generate(requests)
    wall = time.perf_counter() - start
    n = sum(g.generated_tokens for g in gens)
    print(
        f"{args.model} {args.gguf_weights} slots {args.slots}: {n / wall:.0f} generated tok/s; "
        f"{inside[0]:.1f} of {wall:.1f} s in llama_decode ({inside[1]} steps, {n} tokens)"
    )
    backend.close()


if __name__ == "__main__":
    main()
