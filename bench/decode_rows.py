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
from transformers import StoppingCriteria, StoppingCriteriaList


class PerRowStop(StoppingCriteria):
    """What HF offers for per-row early stop: a row is marked done, but stays in the batch."""

    def __init__(self, tokenizer, prompt_len: int, requests) -> None:
        self.tokenizer, self.prompt_len, self.requests = tokenizer, prompt_len, requests
        self.done = [False] * len(requests)

    def __call__(self, input_ids, scores, **kwargs):
        for i, req in enumerate(self.requests):
            if not self.done[i]:
                ids = input_ids[i, self.prompt_len :].tolist()
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                self.done[i] = len(ids) >= req.max_new_tokens or req.stop_when(req.prefill + text)
        return torch.tensor(self.done)


def with_generate(backend, requests) -> tuple[list[str], int]:
    tok, model = backend.tokenizer, backend.model
    texts = [backend.render(r.messages, r.prefill) for r in requests]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    stop = PerRowStop(tok, enc.input_ids.shape[1], requests)
    with torch.inference_mode():
        out = model.generate(
            **enc,
            max_new_tokens=max(r.max_new_tokens for r in requests),
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=tok.pad_token_id,
            eos_token_id=sorted(backend._eos_ids),
            stopping_criteria=StoppingCriteriaList([stop]),
        )
    outs, steps = [], out.shape[1] - enc.input_ids.shape[1]
    for i, r in enumerate(requests):
        ids = out[i, enc.input_ids.shape[1] :].tolist()
        ended = [k for k, t in enumerate(ids) if t in backend._eos_ids]
        ids = ids[: ended[0]] if ended else ids
        # Replay the stop rule to cut where the row was marked done.
        for n in range(1, len(ids) + 1):
            text = tok.decode(ids[:n], skip_special_tokens=True)
            if n >= r.max_new_tokens or r.stop_when(r.prefill + text):
                ids = ids[:n]
                break
        outs.append(tok.decode(ids, skip_special_tokens=True))
    return outs, steps * len(requests)


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
        texts["generate"], row_steps["generate"] = with_generate(backend, requests)
        times["generate"].append(time.perf_counter() - t0)
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
