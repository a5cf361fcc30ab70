"""Decoding steps per second of the transformers engine on a random-weight model of a named
shape, beside transformers' own `generate` (eager, and with a static cache, which
`generate` compiles on CUDA).

No download: the model is built from its config with random weights, in bf16 on CUDA (fp32
on the CPU, as `--device` loads a model). Every row decodes exactly `--tokens` tokens
after the same `--prompt`-token prompt (EOS is never picked: a hook masks its logit), so
each decoder does the same work. A step is one new token for every row; steps/s is
`--tokens` over the seconds from the prompt to the last token. Decoders are interleaved
within each round; the first round is the warm-up (a compile on CUDA) and is reported
apart; medians over the other rounds.

    .venv/bin/python bench/gpu_engine.py --shape llama-8b --rows 64 --tokens 128 --rounds 4
    OMP_NUM_THREADS=2 .venv/bin/python bench/gpu_engine.py --shape smollm2-135m --rows 4 \
        --tokens 16 --device cpu --rounds 2    # a check of the script, not a measurement

The memory-bandwidth limit printed beside them is weights bytes / bandwidth (`--gbps`,
HBM3 of an H100 SXM by default): every step reads every weight once, whatever the rows.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

from neutrophil.models import torch_device
from neutrophil.models.base import Request, user_message
from neutrophil.models.greedy import decode

# Named shapes (the published configs' sizes; the weights are random).
SHAPES: dict[str, dict] = {
    "smollm2-135m": dict(
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        vocab_size=49152,
        tie_word_embeddings=True,
    ),
    "llama-1b": dict(
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        tie_word_embeddings=True,
    ),
    "llama-8b": dict(
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        tie_word_embeddings=False,
    ),
}
EOS = 0  # the token every decoder is kept from picking


def build(shape: str, device: str) -> torch.nn.Module:
    config = AutoConfig.for_model("llama", max_position_embeddings=4096, **SHAPES[shape])
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config = GenerationConfig(eos_token_id=EOS, pad_token_id=EOS)
    return model.eval()


def never_eos(model: torch.nn.Module) -> None:
    """EOS's logit at -inf in every decoder, so each runs every row to its budget."""

    def mask(module, inputs, logits: torch.Tensor) -> None:
        logits[..., EOS] = float("-inf")  # in place: no host-to-device copy, no sync

    model.get_output_embeddings().register_forward_hook(mask)


def neutrophil_decoder(model, ids: torch.Tensor, tokens: int) -> None:
    rows = [Request(user_message(""), max_new_tokens=tokens)] * len(ids)
    got = decode(
        model,
        rows,
        ids,
        torch.ones_like(ids),
        eos_ids={EOS},
        detokenize=lambda _: "",
    )
    assert all(len(d.tokens) == tokens for d in got)


def transformers_generate(static: bool) -> Callable[..., None]:
    def run(model, ids: torch.Tensor, tokens: int) -> None:
        extra = {"cache_implementation": "static"} if static else {}
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            **extra,
        )
        assert out.shape[1] == ids.shape[1] + tokens

    return run


DECODERS: dict[str, Callable[..., None]] = {
    "neutrophil": neutrophil_decoder,  # the transformers engine's greedy decoder
    "generate-eager": transformers_generate(static=False),
    "generate-static": transformers_generate(static=True),  # compiled on CUDA
}


def timed(fn: Callable[[], None], device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=SHAPES, default="llama-8b")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--prompt", type=int, default=32, help="prompt tokens per row")
    ap.add_argument("--tokens", type=int, default=128, help="generated tokens per row")
    ap.add_argument("--rounds", type=int, default=4, help="the first is the warm-up")
    ap.add_argument("--decoders", default=",".join(DECODERS))
    ap.add_argument("--gbps", type=float, default=3350.0, help="memory bandwidth, GB/s")
    args = ap.parse_args()
    device = torch_device(args.device)
    if device.startswith("cuda"):
        torch.cuda.set_device(device)  # compiled graphs and caches go to this device
    model = build(args.shape, device)
    never_eos(model)
    names = args.decoders.split(",")
    generator = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size
    ids = torch.randint(1, vocab, (args.rows, args.prompt), generator=generator).to(device)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    print(
        f"{args.shape}: {weights / 1e9:.2f} GB of {model.dtype} weights on {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.startswith("cuda") else "")
        + f"; {args.rows} rows x {args.tokens} tokens after {args.prompt}"
    )
    seconds: dict[str, list[float]] = {n: [] for n in names}
    # No outer inference_mode: `generate` runs under no_grad and the decoder under
    # inference_mode on their own, as users call them.
    for _ in range(max(args.rounds, 2)):
        for name in names:
            run = DECODERS[name]
            seconds[name].append(timed(lambda run=run: run(model, ids, args.tokens), device))
    print("| decoder | steps/s | first round (warm-up) |\n|---|---|---|")
    for name in names:
        median = statistics.median(seconds[name][1:])
        print(f"| {name} | {args.tokens / median:.1f} | {seconds[name][0]:.1f} s |")
    if device.startswith("cuda"):
        print(f"| the memory-bandwidth limit | ~{args.gbps * 1e9 / weights:.0f} | |")


if __name__ == "__main__":
    main()
