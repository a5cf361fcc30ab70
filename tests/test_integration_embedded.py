"""A few end-to-end checks on the embedded SmolLM2-135M (real weights, real generation)."""

import pytest

from neutrophil.agent import Agent, Budgets
from neutrophil.defenses.base import PromptDefense
from neutrophil.judges.refusal import PatternJudge
from neutrophil.models.base import Request, user_message
from neutrophil.tasks import load_tasks

pytestmark = pytest.mark.integration


def test_embedded_model_answers_in_english(embedded_hf):
    (gen,) = embedded_hf.generate(
        [Request(user_message("What is the capital of France?"), max_new_tokens=16)]
    )
    assert "Paris" in gen.text
    assert 0 < gen.generated_tokens <= 16


def test_embedded_model_answers_in_english_on_llama_cpp(embedded_llama):
    # The capital question is a near tie between "The" and "L" for the first token (0.09
    # logits apart), which Q4 kernels resolve the other way; this one is not close.
    (gen,) = embedded_llama.generate(
        [Request(user_message("Name three primary colors."), max_new_tokens=24)]
    )
    assert "red" in gen.text.lower() and "blue" in gen.text.lower()
    assert 0 < gen.generated_tokens <= 24


def test_batched_equals_single_on_real_model(embedded_backend):
    reqs = [
        Request(user_message("Name a fruit."), max_new_tokens=10),
        Request(
            user_message("Give me one tip for sleeping better at night, please."), max_new_tokens=10
        ),
    ]
    batched = embedded_backend.generate(reqs)
    single = [embedded_backend.generate([r])[0] for r in reqs]
    assert [g.text for g in batched] == [g.text for g in single]


def test_agent_runs_every_domain_on_real_model(embedded_backend):
    pool = load_tasks("builtin", split="test")
    tasks = [
        next(t for t in pool if t.domain == d and t.kind == k and not t.borderline)
        for d in ("chat", "code", "web")
        for k in ("harmful", "benign")
    ]
    agent = Agent(
        embedded_backend,
        PromptDefense(name="prefix", prefix="Sure. "),
        judge=PatternJudge(),
        budgets=Budgets(chat=24, code=48, web_step=24, web_steps=2),
    )
    result = agent.run(tasks)
    assert {t.domain for t in result.transcripts} == {"chat", "code", "web"}
    for t in result.transcripts:
        assert t.response.startswith("Sure. ")  # re-injected at every web step too
        assert t.verdict is not None
        if t.kind == "benign":
            assert t.verdict.success is not None
        else:
            assert t.verdict.harmful_done is not None
    web = [t for t in result.transcripts if t.domain == "web"]
    assert all(1 <= len(t.steps) <= 2 for t in web)
    assert result.cost.generated_tokens > 0


def test_an_adapter_of_the_embedded_model_loads_on_transformers(embedded_hf, tmp_path):
    """`finetune` without --merge on the default model writes an adapter dir; loading it
    runs its base on transformers (PEFT merges into torch weights), whatever engine the
    base runs on by default."""
    import json

    from peft import LoraConfig, get_peft_model

    from neutrophil.models import load_backend
    from neutrophil.models.adapters import ADAPTER_META
    from neutrophil.models.hf import HFBackend

    lora = LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False)
    peft = get_peft_model(embedded_hf.model, lora)
    try:
        peft.save_pretrained(tmp_path)
    finally:
        peft.unload()  # leave the session's model as it was
    (tmp_path / ADAPTER_META).write_text(json.dumps({"base": "smollm2-135m"}))
    adapter = load_backend(str(tmp_path))
    assert isinstance(adapter, HFBackend)
    ask = [Request(user_message("Name three primary colors."), max_new_tokens=8)]
    assert adapter.generate(ask)[0].text != embedded_hf.generate(ask)[0].text  # LoRA applied
