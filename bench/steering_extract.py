"""Steering-vector extraction: neutrophil vs repeng, same model, pairs, layers and method.

    PYTHONPATH=src .venv/bin/python bench/steering_extract.py [--model /tmp/smol] [--concept joy]

Both extract a PCA direction of the centred pair differences (neutrophil `pca`, repeng
`pca_diff`) from the same texts (chat prompt + positive / negative answer, read at the
last token) on the same layers with the same batch size. The two runs are interleaved,
`--reps` times each in one process, and the medians are compared (the machine's speed
drifts). Then generation tokens/s with and without the equalizer's hooks, interleaved too.
repeng is optional (`pip install repeng --no-deps`); without it only our numbers print.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="/tmp/smol")
    ap.add_argument("--concept", default="joy")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--gen-tokens", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from neutrophil.internals.equalizer import Channel, Equalizer
    from neutrophil.internals.extract import extract
    from neutrophil.internals.pairs import concept_pairs
    from neutrophil.internals.render import chat_prompt
    from neutrophil.internals.strength import calibrate, residual_norms

    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    n_layers = model.config.num_hidden_layers
    layers = list(range(1, n_layers))  # repeng's usual set: every block but the first
    pairs = concept_pairs(args.concept)
    pos = [chat_prompt(tok, p.prompt) + p.positive for p in pairs]
    neg = [chat_prompt(tok, p.prompt) + p.negative for p in pairs]
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, "
        f"{args.threads} thread(s); model {args.model} ({n_layers} layers, fp32)"
    )
    print(
        f"concept {args.concept}: {len(pairs)} pairs = {2 * len(pairs)} texts, "
        f"{len(layers)} layers ({layers[0]}-{layers[-1]}), batch {args.batch_size}, "
        f"{args.reps} interleaved repetitions"
    )
    with torch.no_grad():  # warm-up
        model(**tok(pos[:2], return_tensors="pt", padding=True))

    def ours_run():
        return extract(
            model, tok, pos, neg, method="pca", layers=layers, batch_size=args.batch_size
        )

    try:
        if not hasattr(np, "float_"):
            np.float_ = np.float64  # repeng 0.4 still names the NumPy 1 alias
        from repeng import ControlVector, DatasetEntry
    except ImportError as e:
        print(f"repeng not available ({e}); timing neutrophil only")
        ControlVector = None  # noqa: N806

    def repeng_run():
        tok.padding_side = "right"  # repeng reads the last non-pad token, no position ids
        try:
            data = [DatasetEntry(positive=a, negative=b) for a, b in zip(pos, neg, strict=True)]
            return ControlVector.train(
                model,
                tok,
                data,
                hidden_layers=layers,
                batch_size=args.batch_size,
                method="pca_diff",
            )
        finally:
            tok.padding_side = "left"

    t_ours, t_rep = [], []
    ours = rep = None
    for _ in range(args.reps):
        ours, dt = timed(ours_run)
        t_ours.append(dt)
        if ControlVector is not None:
            rep, dt = timed(repeng_run)
            t_rep.append(dt)
    m_ours = statistics.median(t_ours)
    print(f"neutrophil pca: median {m_ours:.2f} s  (runs {', '.join(f'{t:.2f}' for t in t_ours)})")
    if rep is not None:
        m_rep = statistics.median(t_rep)
        print(
            f"repeng pca_diff: median {m_rep:.2f} s  (runs {', '.join(f'{t:.2f}' for t in t_rep)})"
        )
        print(f"speed-up (repeng / neutrophil, medians): {m_rep / m_ours:.2f}x")
        cos = []
        for n in layers:
            a = ours.directions[n]
            b = torch.from_numpy(np.asarray(rep.directions[n], dtype=np.float32))
            cos.append(float(torch.nn.functional.cosine_similarity(a, b, dim=0)))
        print("per-layer cosine (neutrophil pca vs repeng pca_diff):")
        print("  " + " ".join(f"{n}:{c:.4f}" for n, c in zip(layers, cos, strict=True)))
        inner = cos[:-1]
        print(
            f"  min {min(cos):.4f}, mean {np.mean(cos):.4f}; without the last layer: "
            f"min {min(inner):.4f} (repeng reads the last layer after the final norm)"
        )

    # generation with / without the equalizer's hooks (calibrated vector, middle layers)
    mid = list(range(n_layers // 3, 2 * n_layers // 3 + 1))
    vec = calibrate(ours, residual_norms(model, tok, mid), mid)
    eq = Equalizer((Channel(args.concept, vec, 2.0),))
    prompts = [chat_prompt(tok, p.prompt) for p in pairs[:4]]
    tok.padding_side = "left"
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    kw = dict(
        max_new_tokens=args.gen_tokens,
        min_new_tokens=args.gen_tokens,
        do_sample=False,
        pad_token_id=tok.pad_token_id,
    )

    def gen(edit) -> float:
        t = time.perf_counter()
        with torch.inference_mode():
            if edit is None:
                model.generate(**enc, **kw)
            else:
                with edit.applied(model, torch.ones(len(prompts))):
                    model.generate(**enc, **kw)
        return len(prompts) * args.gen_tokens / (time.perf_counter() - t)

    gen(None)  # warm-up
    plain, hooked = [], []
    for _ in range(args.reps):
        plain.append(gen(None))
        hooked.append(gen(eq))
    mp, mh = statistics.median(plain), statistics.median(hooked)
    print(
        f"generation ({len(prompts)} rows x {args.gen_tokens} tokens, medians of {args.reps}): "
        f"{mp:.1f} tok/s without hooks, {mh:.1f} tok/s with equalizer hooks "
        f"({len(vec.layers)} layers) -> ratio {mh / mp:.3f}"
    )


if __name__ == "__main__":
    main()
