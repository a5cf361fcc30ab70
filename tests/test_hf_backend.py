from neutrophil.defenses.base import PromptDefense
from neutrophil.models.base import Request, user_message


def _reqs(n=5, **kw):
    prompts = ["hello", "write a poem about rain", "x", "what is 2+2?", "a much longer prompt " * 5]
    return [Request(user_message(p), max_new_tokens=12, **kw) for p in prompts[:n]]


def test_batched_generation_equals_one_at_a_time(tiny_backend):
    reqs = _reqs()
    batched = tiny_backend.generate(reqs)
    single = [tiny_backend.generate([r])[0] for r in reqs]
    assert [g.text for g in batched] == [g.text for g in single]
    assert all(g.generated_tokens <= 12 for g in batched)


def test_prefill_is_placed_after_generation_prompt(tiny_backend):
    text = tiny_backend.render(user_message("hi"), prefill="I will check. ")
    assert text.endswith("<|im_start|>assistant\nI will check. ")
    plain = tiny_backend.generate([Request(user_message("hi"), max_new_tokens=8)])[0]
    pre = tiny_backend.generate([Request(user_message("hi"), prefill="Sure", max_new_tokens=8)])[0]
    assert pre.prompt_tokens == plain.prompt_tokens + len("Sure")  # byte tokenizer: 1 token/char
    assert not pre.text.startswith("Sure")  # the continuation excludes the prefill


def test_stop_when_ends_only_its_row(tiny_backend):
    seen = []

    def stop(text):
        seen.append(text)
        return len(text) >= 3

    rows = [
        Request(user_message("a"), max_new_tokens=20, stop_when=stop),
        Request(user_message("b"), max_new_tokens=20),
    ]
    a, b = tiny_backend.generate(rows)
    assert a.stopped_early and a.generated_tokens < 20
    assert not b.stopped_early
    assert seen  # the rule saw the partial text


def test_per_row_budgets(tiny_backend):
    rows = [
        Request(user_message("a"), max_new_tokens=3),
        Request(user_message("a"), max_new_tokens=9),
    ]
    short, long = tiny_backend.generate(rows)
    assert short.generated_tokens <= 3
    assert long.text.startswith(short.text)


def test_prompt_defense_prefix_and_suffix_modes(tiny_backend):
    d = PromptDefense(name="prefix", prefix="Safety first. ", system="Be careful.")
    (native,) = d.apply(tiny_backend, [Request(user_message("q"))])
    assert native.prefill == "Safety first. "
    assert native.messages[0] == {"role": "system", "content": "Be careful."}
    suffixed = d.apply_one("suffix", Request(user_message("q")))
    assert suffixed.prefill == ""
    assert suffixed.messages[-1]["content"].endswith("Safety first. ")
