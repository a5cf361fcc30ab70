"""Training data: JSONL rows `{"messages": [{"role": ..., "content": ...}, ...]}`.

Assistant turns are the targets. `builtin:NAME` names a file shipped in
`neutrophil/training/data/NAME.jsonl` (`agentic`, `alignment`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from neutrophil.errors import UserError
from neutrophil.tasks.load import read_jsonl

ROLES = ("system", "user", "assistant")
BUILTIN = ("agentic", "alignment")

Conversation = tuple[dict[str, str], ...]


def builtin_data_path(name: str) -> Path:
    if name not in BUILTIN:
        raise UserError(f"builtin:{name}: unknown training set (choose from {', '.join(BUILTIN)})")
    return Path(str(resources.files("neutrophil.training") / "data" / f"{name}.jsonl"))


def conversation_from_row(row: Any, where: str) -> Conversation:
    if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
        raise UserError(f"{where}: expected an object with a 'messages' list")
    msgs = row["messages"]
    if not msgs:
        raise UserError(f"{where}: 'messages' is empty")
    out = []
    for i, m in enumerate(msgs):
        if (
            not isinstance(m, dict)
            or m.get("role") not in ROLES
            or not isinstance(m.get("content"), str)
        ):
            raise UserError(
                f"{where}: message {i} must be {{'role': system|user|assistant, 'content': string}}"
            )
        out.append({"role": m["role"], "content": m["content"]})
    if not any(m["role"] == "assistant" and m["content"].strip() for m in out):
        raise UserError(f"{where}: no non-empty assistant turn (nothing to learn from)")
    return tuple(out)


def load_conversations(spec: str) -> list[Conversation]:
    """Read `builtin:NAME` or a JSONL file; errors name FILE:LINE."""
    path = builtin_data_path(spec.partition(":")[2]) if spec.startswith("builtin:") else Path(spec)
    if not path.is_file():
        raise UserError(f"{spec}: no such training file (or use builtin:{'|'.join(BUILTIN)})")
    convs = [conversation_from_row(row, where) for where, row in read_jsonl(path)]
    if not convs:
        raise UserError(f"{spec}: no rows in training file")
    return convs
