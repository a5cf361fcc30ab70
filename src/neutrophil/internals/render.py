"""Chat-template text for a prompt, when no backend is at hand (a bare model + tokenizer)."""

from __future__ import annotations


def messages_for(prompt: str, system: str | None = None) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": system}] if system else []
    return [*msgs, {"role": "user", "content": prompt}]


def chat_prompt(tokenizer, prompt: str, system: str | None = None) -> str:
    """The rendered conversation up to and including the assistant header."""
    return tokenizer.apply_chat_template(
        messages_for(prompt, system), tokenize=False, add_generation_prompt=True
    )


def chat_parts(tokenizer, prompt: str, system: str | None = None) -> tuple[str, str]:
    """(conversation without the assistant header, the header alone)."""
    full = chat_prompt(tokenizer, prompt, system)
    bare = tokenizer.apply_chat_template(
        messages_for(prompt, system), tokenize=False, add_generation_prompt=False
    )
    if not full.startswith(bare):
        return full, ""
    return bare, full[len(bare) :]
