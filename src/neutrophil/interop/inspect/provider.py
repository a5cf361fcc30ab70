"""`neutrophil/<SPEC>`: an Inspect model API for any neutrophil model spec, behind a defense.

    inspect eval TASK --model neutrophil/smollm2-135m -M prefix_file=best_prefix.txt

The defense is built as `neutrophil eval` builds it (`defenses.registry.build_defense`) and
applied at every generate call, so a prefix starts every assistant turn. The answer Inspect
records is the injected prefix plus the continuation: what a user of the defended agent
reads, the text neutrophil judges. Decoding is greedy whatever `temperature` says.
"""

from __future__ import annotations

from typing import Any

from inspect_ai._util.error import PrerequisiteError
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    ModelAPI,
    ModelCall,
    ModelOutput,
    ModelUsage,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from neutrophil.errors import UserError
from neutrophil.interop.inspect.collector import Collector
from neutrophil.interop.inspect.engine import DefendedEngine, StopWatch
from neutrophil.interop.inspect.messages import has_tool_turns, to_neutrophil
from neutrophil.interop.inspect.options import parse_options
from neutrophil.interop.inspect.stop import EXTRA_KEY, stop_rule_from
from neutrophil.interop.inspect.tools import (
    check_tools_supported,
    parse_tool_calls,
    with_tools,
)
from neutrophil.models.base import Request

DEFAULT_MAX_TOKENS = 512  # as `neutrophil serve`


class NeutrophilAPI(ModelAPI):
    # neutrophil's own tasks ask for its early-stop rules only from models that have them.
    neutrophil_stop_rules = True

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig | None = None,
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config or GenerateConfig())
        from neutrophil.defenses.registry import build_defense, read_text_arg

        try:
            self.options = parse_options(model_name, model_args)
            prefix = read_text_arg(self.options.prefix, self.options.prefix_file, "-M prefix_file")
            backend = self.options.model.load()
            # Tool calling renders through the template; other requests render as before.
            self.tools = backend.tools_view()
            self.backend = self.tools or backend
            self.defense = build_defense(
                self.options.defense,
                backend=self.backend,
                prefix=prefix,
                system=self.options.system,
                options=self.options.defense_options,
            )
        except UserError as e:
            # Inspect prints a PrerequisiteError as its one-line message.
            raise PrerequisiteError(f"neutrophil/{model_name}: {e}") from None
        self.collector = Collector(
            DefendedEngine(self.backend, self.defense),
            max_batch=self.options.model.batch_size,
            wait_s=self.options.batch_wait_ms / 1000,
        )

    def max_connections(self) -> int:
        # Inspect's concurrency is what fills a batch: allow a full one at once.
        return self.options.model.batch_size

    def canonical_name(self) -> str:
        return self.model_name

    async def count_text_tokens(self, text: str) -> int:
        # The model's own tokenizer where there is one; Inspect's default would fetch a
        # tiktoken encoding from the internet.
        n = self.backend.count_tokens(text)
        return n if n is not None else max(1, len(text) // 4)  # a server: the rough rule

    def _request(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> tuple[Request, bool]:
        use_tools = bool(tools) and tool_choice != "none"
        if use_tools or has_tool_turns(input):
            check_tools_supported(self.tools, self.model_name)
            use_tools = True
        messages, prefill = to_neutrophil(input, tools=use_tools)
        if use_tools:
            messages = with_tools(messages, tools)
        if config.max_tokens is not None and config.max_tokens < 1:
            raise UserError(f"max_tokens must be positive, got {config.max_tokens}")
        rule = stop_rule_from((config.extra_body or {}).get(EXTRA_KEY))
        stop_when = StopWatch(config.stop_seqs or (), rule)
        request = Request(
            messages=messages,
            prefill=prefill,
            max_new_tokens=config.max_tokens or DEFAULT_MAX_TOKENS,
            stop_when=stop_when if (stop_when.stops or rule) else None,
        )
        return request, use_tools

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> tuple[ModelOutput, ModelCall]:
        request, use_tools = self._request(input, tools, tool_choice, config)
        answer = await self.collector.submit(request)
        content = answer.injected + answer.text
        calls = None
        if use_tools:
            content, found = parse_tool_calls(content)
            calls = found or None
        if calls:
            stop = "tool_calls"
        elif answer.generated_tokens >= request.max_new_tokens and not answer.stopped_early:
            stop = "max_tokens"
        else:
            stop = "stop"
        message = ChatMessageAssistant(
            content=content, tool_calls=calls, model=self.model_name, source="generate"
        )
        output = ModelOutput(
            model=self.model_name,
            choices=[ChatCompletionChoice(message=message, stop_reason=stop)],
            usage=ModelUsage(
                input_tokens=answer.prompt_tokens,
                output_tokens=answer.generated_tokens,
                total_tokens=answer.prompt_tokens + answer.generated_tokens,
            ),
        )
        # The request as the model saw it, after the defense: the transcript shows the prefix.
        call = ModelCall.create(
            request={
                "model": self.backend.name,
                "defense": self.defense.describe(),
                "messages": list(answer.messages),
                "assistant_prefill": answer.prefill,
                "max_new_tokens": request.max_new_tokens,
            },
            response={
                "injected": answer.injected,
                "continuation": answer.text,
                "stopped_early": answer.stopped_early,
                "hit_stop_string": answer.hit_stop,
                "prompt_tokens": answer.prompt_tokens,
                "generated_tokens": answer.generated_tokens,
            },
        )
        return output, call
