"""No answer ends in a broken character: a token budget that ends between the bytes of a
multi-byte character (Japanese, emoji) leaves the partial character out, on both engines,
streamed and not."""

from __future__ import annotations

import json

import httpx

from neutrophil.models.base import Request, user_message, whole_chars
from neutrophil.serve.app import create_app
from neutrophil.serve.runner import BackgroundServer

# The embedded model answers this with Japanese, three bytes a character, two tokens each.
PROMPT = user_message("Translate to Japanese: good morning")
BUDGETS = range(1, 9)


def test_whole_chars_drops_only_the_broken_tail():
    assert whole_chars("これ\ufffd\ufffd") == "これ"
    assert whole_chars("a\ufffdb") == "a\ufffdb"  # a broken character inside is the model's
    assert whole_chars("") == ""


def test_a_cut_inside_a_character_is_held_back(embedded_backend):
    texts = [
        g.text
        for g in embedded_backend.generate([Request(PROMPT, max_new_tokens=n) for n in BUDGETS])
    ]
    assert not any("\ufffd" in t for t in texts), texts
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False)), texts
    # some budgets did end inside a character: one more token added no text
    assert any(a == b for a, b in zip(texts, texts[1:], strict=False)), texts
    assert any(ord(c) > 0x3000 for c in texts[-1])


def test_streamed_and_whole_answers_have_no_broken_character(embedded_llama):
    with BackgroundServer(create_app(embedded_llama, max_batch=4)) as url:
        body = {"messages": list(PROMPT), "max_tokens": 7}
        whole = httpx.post(f"{url}/chat/completions", json=body, timeout=120).json()
        pieces = []
        with httpx.stream(
            "POST", f"{url}/chat/completions", json={**body, "stream": True}, timeout=120
        ) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    for choice in json.loads(line[6:])["choices"]:
                        pieces.append(choice["delta"].get("content") or "")
    text = whole["choices"][0]["message"]["content"]
    assert "\ufffd" not in text and "\ufffd" not in "".join(pieces)
    assert "".join(pieces) == text
    assert whole["choices"][0]["finish_reason"] == "length"
