"""`neutrophil finetune`: LoRA SFT on chat-format JSONL (assistant tokens only), resumable."""

from __future__ import annotations

import argparse
from pathlib import Path

from neutrophil.cli.common import add_model_arg, finite_float

HELP = "LoRA fine-tune a local model on chat JSONL (loss on assistant turns only); resumable"


def register(sub) -> None:
    from neutrophil.models import DEFAULT_MODEL

    p = sub.add_parser(
        "finetune",
        help=HELP,
        description=HELP
        + ". DIR becomes a model usable as --model DIR by every command: an adapter dir, or "
        "with --merge a plain Hugging Face model dir (adapter in DIR/adapter). A checkpoint is "
        "saved every --save-every steps; rerunning with the same --out continues from it.",
    )
    add_model_arg(
        p,
        engine=False,  # training runs on transformers
        batch=False,  # --batch-size here counts conversations per step
        threads=True,
        model_help=f"base model to fine-tune (default: {DEFAULT_MODEL}; not a server).",
    )
    p.add_argument(
        "--data",
        required=True,
        metavar="builtin:NAME|FILE",
        help='JSONL rows {"messages": [...]}; builtin:agentic (benign web/code agent trajectories) or builtin:alignment (refusals + helpful answers)',
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output directory (also the checkpoint directory)",
    )
    p.add_argument("--lora-r", type=int, default=8, help="LoRA rank (default 8; alpha = 2r)")
    p.add_argument("--epochs", type=int, default=1, help="passes over the data (default 1)")
    p.add_argument(
        "--max-steps",
        type=int,
        metavar="N",
        help="train exactly N optimizer steps (overrides --epochs)",
    )
    p.add_argument(
        "--lr",
        type=finite_float,
        default=2e-4,
        help="peak learning rate, warm-up then cosine (default 2e-4)",
    )
    p.add_argument(
        "--batch-size", type=int, default=4, help="conversations per optimizer step (default 4)"
    )
    p.add_argument(
        "--max-length",
        type=int,
        default=512,
        help="tokens per conversation; longer ones are cut (default 512)",
    )
    p.add_argument(
        "--save-every",
        type=int,
        default=25,
        metavar="K",
        help="checkpoint every K steps (default 25)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--merge",
        action="store_true",
        help="also fold the adapter into the weights: DIR is a full model dir",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from neutrophil.errors import UserError
    from neutrophil.files import writable_dir
    from neutrophil.training.config import TrainConfig
    from neutrophil.training.sft import finetune

    try:
        config = TrainConfig(
            lora_r=args.lora_r,
            epochs=args.epochs,
            max_steps=args.max_steps,
            lr=args.lr,
            batch_size=args.batch_size,
            max_length=args.max_length,
            save_every=args.save_every,
            seed=args.seed,
        )
    except ValueError as e:
        raise UserError(f"finetune settings: {e}") from None
    if args.model.startswith("openai:"):
        raise UserError(
            f"--model {args.model}: fine-tuning needs a local model (a model dir, .gguf, or {args.model!r} is remote)"
        )
    writable_dir(args.out)
    result = finetune(
        args.model,
        args.data,
        Path(args.out),
        config,
        merge=args.merge,
        device=args.device,
        threads=args.threads,
    )
    if result.skipped:
        print(f"already trained: {result.out} ({result.steps} steps)")
    else:
        first, last = result.losses[0], result.losses[-1]
        print(f"trained {result.steps} steps (loss {first:.3f} -> {last:.3f})")
    kind = "merged model" if result.merged else "LoRA adapter"
    print(f"{kind}: {result.out}  (use --model {result.out})")
    return 0
