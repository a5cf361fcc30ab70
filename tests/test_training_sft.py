"""LoRA SFT: loss masking, learning, save/load, merge, resume. Tiny random models only."""

from __future__ import annotations

import json

import pytest
import torch

from neutrophil.errors import UserError
from neutrophil.models import load_hf
from neutrophil.models.adapters import is_adapter_dir, load_adapter
from neutrophil.models.tiny import tiny_tokenizer
from neutrophil.training.config import TrainConfig
from neutrophil.training.dataset import load_conversations
from neutrophil.training.examples import IGNORE, encode, target_text
from neutrophil.training.sft import finetune

torch.set_num_threads(1)

# SmolLM2's template shape: a default system prompt when the conversation has none.
DEFAULT_SYSTEM_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CONVO = (
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Say hi."},
    {"role": "assistant", "content": "Hi there!"},
    {"role": "user", "content": "And bye?"},
    {"role": "assistant", "content": "Bye now."},
)


def toy_data(n: int = 8) -> list[tuple[dict[str, str], ...]]:
    return [
        (
            {"role": "user", "content": f"Count to {i}."},
            {"role": "assistant", "content": " ".join(str(k) for k in range(1, i + 2))},
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("template", [None, DEFAULT_SYSTEM_TEMPLATE])
def test_only_assistant_tokens_carry_loss(template):
    tok = tiny_tokenizer()
    if template:
        tok.chat_template = template
    convo = CONVO[1:] if template else CONVO
    ex = encode(tok, convo)
    # The labelled tokens decode to exactly the assistant turns, each ending its turn.
    assert target_text(tok, ex) == "Hi there!<|im_end|>Bye now.<|im_end|>"
    # The ids are exactly the rendered conversation, so training sees what inference sees.
    rendered = tok.apply_chat_template(list(convo), tokenize=False)
    assert tok.decode(list(ex.input_ids)) == rendered
    # Masked positions carry IGNORE; labelled positions carry their own token id.
    for i, lab in zip(ex.input_ids, ex.labels, strict=True):
        assert lab in (IGNORE, i)
    user_ids = set(tok("Say hi.", add_special_tokens=False).input_ids) - set(
        tok("Hi there! Bye now.<|im_end|>", add_special_tokens=False).input_ids
    )
    labelled = {i for i, lab in zip(ex.input_ids, ex.labels, strict=True) if lab != IGNORE}
    assert not (user_ids & labelled)


def test_loss_decreases(tmp_path):
    result = finetune(
        "tiny",
        toy_data(),
        tmp_path / "a",
        TrainConfig(max_steps=16, batch_size=4, lr=5e-3),
        progress=False,
    )
    first, last = result.losses[0], sum(result.losses[-3:]) / 3
    assert last < first - 0.2, result.losses


def _logits(backend, ids):
    with torch.no_grad():
        return backend.model(torch.tensor([ids])).logits


def test_adapter_round_trip_and_merge(tmp_path):
    cfg = TrainConfig(max_steps=6, batch_size=4, lr=5e-3)
    out = tmp_path / "m"
    finetune("tiny", toy_data(), out, cfg, merge=True, progress=False)
    assert (out / "config.json").is_file() and is_adapter_dir(out / "adapter")
    merged = load_hf(out)
    adapter = load_adapter(out / "adapter")
    base = load_adapter(out / "adapter").model  # loading twice gives the same weights
    ids = adapter.tokenizer(
        "<|im_start|>user\nCount to 3.<|im_end|>\n", add_special_tokens=False
    ).input_ids
    a, m = _logits(adapter, ids), _logits(merged, ids)
    assert torch.allclose(a, m, atol=1e-4)
    with torch.no_grad():
        assert torch.allclose(base(torch.tensor([ids])).logits, a)
    # ... and the adapter really changed the model.
    from neutrophil.models import load_backend

    assert not torch.allclose(_logits(load_backend("tiny"), ids), a, atol=1e-3)
    # The merged dir is a plain HF dir: it generates through the normal backend.
    from neutrophil.models.base import Request, user_message

    gen = merged.generate([Request(user_message("Count to 2."), max_new_tokens=4)])
    assert gen[0].generated_tokens >= 1


def test_adapter_only_dir_names_its_base(tmp_path):
    out = tmp_path / "a"
    finetune("tiny", toy_data(), out, TrainConfig(max_steps=2, batch_size=4), progress=False)
    assert is_adapter_dir(out)
    assert json.loads((out / "neutrophil_adapter.json").read_text())["base"] == "tiny"
    assert load_adapter(out).name == "a"


def test_resume_continues_at_the_right_step(tmp_path):
    cfg = TrainConfig(max_steps=8, batch_size=2, lr=5e-3, save_every=3)
    ref = finetune("tiny", toy_data(), tmp_path / "ref", cfg, progress=False)
    part = finetune("tiny", toy_data(), tmp_path / "run", cfg, progress=False, stop_at=5)
    assert part.steps == 5 and (tmp_path / "run" / "checkpoint.pt").is_file()
    assert not (tmp_path / "run" / "training.json").exists()
    done = finetune("tiny", toy_data(), tmp_path / "run", cfg, progress=False)
    assert done.resumed_from == 5 and done.steps == 8
    # Same batches, optimizer moments and schedule: the resumed run matches the straight one.
    assert done.losses == pytest.approx(ref.losses, abs=1e-4)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    again = finetune("tiny", toy_data(), tmp_path / "run", cfg, progress=False)
    assert again.skipped


def test_resume_with_other_settings_is_a_user_error(tmp_path):
    finetune(
        "tiny",
        toy_data(),
        tmp_path / "r",
        TrainConfig(max_steps=4, batch_size=2),
        progress=False,
        stop_at=2,
    )
    with pytest.raises(UserError, match="different run"):
        finetune(
            "tiny",
            toy_data(),
            tmp_path / "r",
            TrainConfig(max_steps=4, batch_size=2, lr=1e-3),
            progress=False,
        )


def test_bad_training_file_names_file_and_line(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text(
        '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}\n{"messages": [{"role": "bot", "content": "x"}]}\n'
    )
    with pytest.raises(UserError, match=r"d.jsonl:2: message 0"):
        load_conversations(str(f))
    f.write_text('{"messages": [{"role": "user", "content": "x"}]}\n')
    with pytest.raises(UserError, match=r"d.jsonl:1: no non-empty assistant turn"):
        load_conversations(str(f))
    with pytest.raises(UserError, match="unknown training set"):
        load_conversations("builtin:nope")
