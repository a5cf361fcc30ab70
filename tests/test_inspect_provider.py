"""The `neutrophil/<SPEC>` Inspect model API, driven through Inspect's own `eval()`."""

from __future__ import annotations

import pytest

pytest.importorskip("inspect_ai")

from inspect_ai import Task, eval
from inspect_ai._util.error import PrerequisiteError
from inspect_ai.dataset import Sample
from inspect_ai.log import resolve_sample_attachments
from inspect_ai.model import ChatMessageUser, ContentImage, get_model
from inspect_ai.solver import generate, solver, use_tools
from inspect_ai.tool import tool

from neutrophil.interop.inspect.options import parse_options
from neutrophil.interop.inspect.tools import parse_tool_calls
from neutrophil.models.options import ModelOptions

PREFIX = "I first check that this is safe. "


def _run(task: Task, model, tmp_path, **kw):
    logs = eval(task, model=model, log_dir=str(tmp_path), display="none", **kw)
    return logs[0]


def _model_events(sample):
    # Inspect moves long strings of a log into attachments: bring them back.
    sample = resolve_sample_attachments(sample, "full")
    return [e for e in sample.events if e.event == "model"]


@solver
def two_turns():
    async def solve(state, generate_):
        state = await generate_(state)
        state.messages.append(ChatMessageUser(content="And once more?"))
        return await generate_(state)

    return solve


def test_prefix_starts_every_turn_and_shows_in_the_transcript(tmp_path):
    task = Task(dataset=[Sample(input="Name a colour.")], solver=two_turns())
    log = _run(task, "neutrophil/tiny", tmp_path, model_args={"prefix": PREFIX}, max_tokens=8)
    assert log.status == "success", log.error
    sample = log.samples[0]
    answers = [m for m in sample.messages if m.role == "assistant"]
    assert len(answers) == 2
    assert all(a.text.startswith(PREFIX) for a in answers)
    first, second = _model_events(sample)
    # The model continued from the prefix (assistant prefill), turn after turn.
    assert first.call.request["assistant_prefill"] == PREFIX
    assert second.call.request["assistant_prefill"] == PREFIX
    # The second turn sees the first answer, prefix included (multi-turn history).
    history = second.call.request["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[1]["content"].startswith(PREFIX)


def test_system_guard_and_prefix_file(tmp_path):
    prefix_file = tmp_path / "best_prefix.txt"
    prefix_file.write_text(PREFIX + "\n")
    task = Task(dataset=[Sample(input="Hello")], solver=generate())
    model_args = {"prefix_file": str(prefix_file), "system": "Be careful."}
    log = _run(task, "neutrophil/tiny", tmp_path, model_args=model_args, max_tokens=4)
    event = _model_events(log.samples[0])[0]
    assert event.call.request["messages"][0] == {"role": "system", "content": "Be careful."}
    assert log.samples[0].output.completion.startswith(PREFIX)


def test_concurrent_samples_form_one_batch(tmp_path):
    # A long wait and a batch of exactly the sample count: the batch closes when the
    # fourth request arrives, so the assertion does not depend on timing.
    model = get_model("neutrophil/tiny", batch_size=4, batch_wait_ms=20000, memoize=False)
    task = Task(dataset=[Sample(input=f"Count to {n}.") for n in range(4)], solver=generate())
    log = _run(task, model, tmp_path, max_tokens=4)
    assert log.status == "success", log.error
    assert model.api.collector.batches == [4]


def test_prefill_from_inspect_is_continued_after_the_prefix(tmp_path):
    from inspect_ai.model import ChatMessageAssistant

    task = Task(
        dataset=[
            Sample(input=[ChatMessageUser(content="Hi"), ChatMessageAssistant(content="Sure:")])
        ],
        solver=generate(),
    )
    log = _run(task, "neutrophil/tiny", tmp_path, model_args={"prefix": PREFIX}, max_tokens=4)
    event = _model_events(log.samples[0])[0]
    assert event.call.request["assistant_prefill"] == PREFIX + "Sure:"
    assert log.samples[0].output.completion.startswith(PREFIX)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"prefx": "x"}, "-M prefx: unknown option"),
        ({"steer": "refusal"}, "expected one NAME=STRENGTH"),
        ({"prefix": "a", "prefix_file": "b"}, "give one of them"),
        ({"batch_size": 0}, "-M batch_size=0: must be positive"),
        ({"prefix_file": "/nonexistent/prefix.txt"}, "cannot read -M prefix_file file"),
        ({"defense": "shield"}, "unknown defense"),
        ({"engine": "vllm"}, "-M engine=vllm: expected one of auto, llama, hf"),
        ({"gguf_weights": "q4"}, "-M gguf_weights=q4: expected one of auto, file, q8_0, f32"),
        ({"device": "gpu"}, "-M device=gpu: expected auto, cpu, cuda or cuda:N"),
    ],
)
def test_bad_model_args_are_one_line_errors(args, message):
    with pytest.raises(PrerequisiteError) as err:
        get_model("neutrophil/tiny", memoize=False, **args)
    assert message in str(err.value.message)
    assert "\n" not in str(err.value.message)


def test_bad_model_args_stop_inspect_eval(tmp_path):
    task = Task(dataset=[Sample(input="Hi")], solver=generate())
    with pytest.raises(PrerequisiteError, match="unknown option"):
        eval(
            task,
            model="neutrophil/tiny",
            model_args={"nope": 1},
            log_dir=str(tmp_path),
            display="none",
        )


def test_unknown_model_spec_is_a_clear_error():
    with pytest.raises(PrerequisiteError) as err:
        get_model("neutrophil/no-such-model", memoize=False)
    assert "no-such-model: unknown model" in str(err.value.message)


def test_model_options_are_the_commands_model_options():
    opts = parse_options(
        "smollm2-135m", {"engine": "llama", "gguf_weights": "f32", "threads": 1, "device": "cpu"}
    )
    assert opts.model == ModelOptions("smollm2-135m", 32, "llama", "f32", 1, "cpu")


def test_options_undo_inspects_comma_splitting():
    # `-M prefix="Check, then answer."` reaches the provider as a list of two strings.
    opts = parse_options("tiny", {"prefix": ["Check", " then answer."], "steer": "refusal=2"})
    assert opts.prefix == "Check, then answer."
    assert opts.defense == "steer"
    assert opts.defense_options == {"vector": "refusal", "strength": "2"}


def test_image_input_is_refused_clearly(tmp_path):
    content = [ContentImage(image="data:image/png;base64,iVBORw0KGgo=")]
    task = Task(dataset=[Sample(input=[ChatMessageUser(content=content)])], solver=generate())
    log = _run(task, "neutrophil/tiny", tmp_path, max_tokens=4)
    assert log.status == "error"
    assert "text only (got image)" in log.error.message


@tool
def add():
    async def execute(a: int, b: int) -> int:
        """Add two numbers.

        Args:
            a: First number.
            b: Second number.
        """
        return a + b

    return execute


TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\nTools: {{ tools | tojson }}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{{ c.function | tojson }}"
    "</tool_call>{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CALL = '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'


@pytest.fixture(scope="module")
def tools_model_dir(tmp_path_factory):
    from neutrophil.models.tiny import tiny_model

    model, tok = tiny_model()
    tok.chat_template = TOOLS_TEMPLATE
    path = tmp_path_factory.mktemp("tiny-tools")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_tool_calls_through_a_template_that_supports_tools(tmp_path, tools_model_dir):
    # The defense prefix writes the tool call, so the random model's answer holds one.
    task = Task(
        dataset=[Sample(input="What is 1 + 2?")],
        solver=[use_tools(add()), generate(tool_calls="single")],
    )
    model = f"neutrophil/{tools_model_dir}"
    log = _run(task, model, tmp_path, model_args={"prefix": CALL}, max_tokens=4)
    assert log.status == "success", log.error
    sample = log.samples[0]
    call_message = next(m for m in sample.messages if m.role == "assistant")
    assert call_message.tool_calls[0].function == "add"
    assert call_message.tool_calls[0].arguments == {"a": 1, "b": 2}
    tool_result = next(m for m in sample.messages if m.role == "tool")
    assert tool_result.text == "3"
    sent = _model_events(sample)[0].call.request["messages"]
    assert '"add"' in sent[-1]["content"]  # the schemas reached the template


def test_tools_without_template_support_are_a_clear_error(tmp_path):
    task = Task(dataset=[Sample(input="1 + 2?")], solver=[use_tools(add()), generate()])
    log = _run(task, "neutrophil/tiny", tmp_path, max_tokens=4)
    assert log.status == "error"
    assert "chat template does not support tools" in log.error.message


@pytest.mark.parametrize(
    ("text", "calls", "rest"),
    [
        (CALL + " done", [("add", {"a": 1, "b": 2})], "done"),
        ('{"name": "add", "parameters": {"a": 1, "b": 2}}', [("add", {"a": 1, "b": 2})], ""),
        ('Calling [{"name": "f", "arguments": "{\\"x\\": 1}"}]', [("f", {"x": 1})], "Calling"),
        ('The set {"a": 1} is not a call.', [], 'The set {"a": 1} is not a call.'),
        ("No call here.", [], "No call here."),
    ],
)
def test_parse_tool_calls(text, calls, rest):
    content, found = parse_tool_calls(text)
    assert [(c.function, c.arguments) for c in found] == calls
    assert content == rest


def test_token_counts_use_the_models_tokenizer_offline():
    import asyncio

    model = get_model("neutrophil/tiny", memoize=False)
    # The tiny model's tokenizer is byte-level: one token per byte, no download.
    assert asyncio.run(model.api.count_text_tokens("hello")) == 5


@pytest.mark.integration
def test_on_a_queueing_engine_a_long_sample_does_not_hold_back_a_later_one(embedded_llama):
    """The first sample's row runs until the second one has its answer: on llama.cpp the
    second batch joins the running one instead of waiting for the first to end."""
    import asyncio
    import threading

    from neutrophil.defenses.base import NO_DEFENSE
    from neutrophil.interop.inspect.collector import Collector
    from neutrophil.interop.inspect.engine import DefendedEngine
    from neutrophil.models.base import Request, user_message

    collector = Collector(DefendedEngine(embedded_llama, NO_DEFENSE), max_batch=1, wait_s=0)
    second_answered = threading.Event()
    first = Request(
        user_message("Tell me a long story about a dragon and a knight."),
        max_new_tokens=300,
        stop_when=lambda text: second_answered.is_set(),
    )
    second = Request(user_message("Say hi."), max_new_tokens=3)

    async def both():
        long_one = asyncio.ensure_future(collector.submit(first))
        await asyncio.sleep(0)  # the first request is queued first: a batch of its own
        short = await collector.submit(second)
        second_answered.set()
        return await long_one, short

    long_answer, short_answer = asyncio.run(both())
    assert collector.batches == [1, 1]
    assert long_answer.stopped_early and long_answer.generated_tokens < 300
    assert 1 <= short_answer.generated_tokens <= 3


def test_tools_on_an_engine_without_a_tools_view_are_a_clear_error(tmp_path, embedded_llama):
    # llama.cpp renders no tools: the task says so in one line before generating.
    task = Task(dataset=[Sample(input="1 + 2?")], solver=[use_tools(add()), generate()])
    model_args = {"engine": "llama", "threads": 1}
    log = _run(task, "neutrophil/smollm2-135m", tmp_path, model_args=model_args, max_tokens=4)
    assert log.status == "error"
    assert "tool calling needs a model on the transformers engine" in log.error.message
