"""The `neutrophil` command: parse arguments, call the library, print results.

Exit codes: 0 success, 2 user error (one line on stderr, no traceback), 3 a model backend
or server failed (one line), 1 internal error (traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from neutrophil import __version__
from neutrophil.errors import BackendError, UserError

# Each module exposes `register(subparsers)`; order is the order of `--help`.
COMMANDS = (
    "eval",
    "judge",
    "optimize",
    "demo",
    "probe",
    "gates",
    "attack",
    "study",
    "vector",
    "steer",
    "finetune",
    "lab",
    "serve",
    "studio",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="neutrophil",
        description=(
            "An immune system for LLM agents: diagnose refusal and success on harmful and "
            "benign agentic tasks, treat with PING prefix search, look inside with probes "
            "and steering, reproduce fine-tuning erosion, deploy a guard proxy."
        ),
    )
    parser.add_argument("--version", action="version", version=f"neutrophil {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        # Command modules import heavy libraries inside their `run`, so this stays fast.
        importlib.import_module(f"neutrophil.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        _quiet_transformers()
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"neutrophil {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BackendError as e:
        print(f"neutrophil {args.command}: backend error: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted; finished work is saved in the output directory", file=sys.stderr)
        return 130


def _quiet_transformers() -> None:
    """No warnings or progress bars from transformers in the command's output. Set through
    the environment, which transformers reads when it is imported: importing it here would
    cost every command about a second, and the llama.cpp path never imports it."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:  # already imported (the CLI called from Python)
        from transformers.utils import logging

        logging.set_verbosity_error()
        logging.disable_progress_bar()


if __name__ == "__main__":
    sys.exit(main())
