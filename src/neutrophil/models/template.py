"""Chat templates: rendering a model's own Jinja template, and the one fallback template.

A GGUF carries its chat template in its metadata (`tokenizer.chat_template`); a Hugging
Face tokenizer carries the same text. Rendering it here the way transformers does (a
sandboxed Jinja environment with `trim_blocks`/`lstrip_blocks`, `raise_exception`,
`tojson`, `strftime_now`) gives the llama.cpp engine the same prompt text as the
transformers engine (tests/test_llamacpp.py compares the tokens).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from neutrophil.errors import UserError

# A reserved message carrying tool schemas (JSON) to an engine's `tools_view()`, which
# renders it as the chat template's `tools` variable.
TOOLS_ROLE = "neutrophil.tools"

# ChatML, for models that ship no template of their own (the tiny test models among them).
FALLBACK_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _raise(message: str) -> None:
    raise UserError(f"chat template: {message}")


@lru_cache(maxsize=8)
def _compile(source: str) -> Any:
    from jinja2 import TemplateError
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    env.filters["tojson"] = lambda x, indent=None, **_: json.dumps(
        x, ensure_ascii=False, indent=indent
    )
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except TemplateError as e:
        raise UserError(f"chat template does not compile: {e}") from None


def render_chat(
    template: str,
    messages: Sequence[dict[str, str]],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text for `messages`, ending with the assistant turn's opening."""
    return _compile(template).render(
        messages=list(messages),
        add_generation_prompt=add_generation_prompt,
        bos_token=bos_token,
        eos_token=eos_token,
    )
