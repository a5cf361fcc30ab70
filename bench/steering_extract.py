"""Steering-vector extraction: neutrophil vs repeng, same model, pairs and method.

    PYTHONPATH=src .venv/bin/python bench/steering_extract.py [--model /tmp/smol] [--concept joy]

Prints extraction wall time for both (activations + reduction, one run each after a
warm-up forward), the time ratio, per-layer cosine between the two PCA directions, and
generation tokens/s with and without equalizer hooks. repeng is optional
(`pip install repeng --no-deps`); without it only the neutrophil numbers are printed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="/tmp/smol")
    ap.add_argument("--concept", default="joy")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--gen-tokens", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from neutrophil.internals.equalizer import Channel, Equalizer
    from neutrophil.internals.extract import extract
    from neutrophil.internals.pairs import concept_pairs
    from neutrophil.internals.render import chat_prompt

    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    n_layers = model.config.num_hidden_layers
    layers = list(range(1, n_layers))  # repeng's default set: every block but the first
    pairs = concept_pairs(args.concept)
    pos = [chat_prompt(tok, p.prompt) + p.positive for p in pairs]
    neg = [chat_prompt(tok, p.prompt) + p.negative for p in pairs]
    with torch.no_grad():  # warm-up
        model(**tok(pos[:2], return_tensors="pt", padding=True))

    t = time.perf_counter()
    ours = extract(model, tok, pos, neg, method="pca", layers=layers, batch_size=args.batch_size)
    t_ours = time.perf_counter() - t
    print(
        f"model {args.model}, concept {args.concept}: {len(pairs)} pairs, {len(layers)} layers, batch {args.batch_size}"
    )
    print(f"neutrophil pca extraction: {t_ours:.2f} s")

    try:
        if not hasattr(np, "float_"):
            np.float_ = np.float64  # repeng still names the NumPy 1 alias
        from repeng import ControlVector, DatasetEntry
    except ImportError as e:
        print(f"repeng not available ({e}); skipping the comparison")
        repeng_cv = None
    else:
        tok.padding_side = "right"  # repeng reads the last non-pad token; no position ids
        data = [DatasetEntry(positive=a, negative=b) for a, b in zip(pos, neg, strict=True)]
        t = time.perf_counter()
        repeng_cv = ControlVector.train(
            model, tok, data, hidden_layers=layers, batch_size=args.batch_size, method="pca_diff"
        )
        t_rep = time.perf_counter() - t
        tok.padding_side = "left"
        print(
            f"repeng pca_diff extraction: {t_rep:.2f} s  (repeng / neutrophil time = {t_rep / t_ours:.2f})"
        )
        cos = []
        for n in layers:
            a = ours.directions[n]
            b = torch.from_numpy(np.asarray(repeng_cv.directions[n], dtype=np.float32))
            cos.append(float(torch.nn.functional.cosine_similarity(a, b, dim=0)))
        print("per-layer cosine (neutrophil pca vs repeng pca_diff):")
        print("  " + " ".join(f"{n}:{c:+.3f}" for n, c in zip(layers, cos, strict=True)))
        print(f"  mean {np.mean(cos):+.3f}, min {np.min(cos):+.3f}")

    eq = Equalizer((Channel(args.concept, ours, 1.0),))
    prompts = [chat_prompt(tok, p.prompt) for p in pairs[:4]]
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    kw = dict(
        max_new_tokens=args.gen_tokens,
        min_new_tokens=args.gen_tokens,
        do_sample=False,
        pad_token_id=tok.pad_token_id,
    )

    def gen(edit) -> float:
        t = time.perf_counter()
        with torch.no_grad():
            if edit is None:
                model.generate(**enc, **kw)
            else:
                with edit.applied(model, torch.ones(len(prompts))):
                    model.generate(**enc, **kw)
        return len(prompts) * args.gen_tokens / (time.perf_counter() - t)

    gen(None)  # warm-up
    plain = [gen(None), gen(None)]
    hooked = [gen(eq), gen(eq)]
    print(
        f"generation ({len(prompts)} rows x {args.gen_tokens} tokens): "
        f"{max(plain):.1f} tok/s without hooks, {max(hooked):.1f} tok/s with equalizer hooks "
        f"({len(ours.layers)} layers) -> ratio {max(hooked) / max(plain):.2f}"
    )


if __name__ == "__main__":
    main()
