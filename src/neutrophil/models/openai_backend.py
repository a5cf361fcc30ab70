"""OpenAI-compatible HTTP backend: vLLM, llama.cpp server, Ollama, SGLang, hosted APIs.

Spec: `openai:BASE_URL#MODEL[?key=value&...]`, e.g. `openai:http://127.0.0.1:8000/v1#my-model`.
Options after `?`:

- `prefill=auto|continue|assistant|completions|suffix` — how an assistant prefill is sent:
  `continue`: a final assistant message plus `continue_final_message: true,
  add_generation_prompt: false` (vLLM, neutrophil serve); `assistant`: a final assistant
  message that the server continues by itself (llama.cpp server, Ollama); `completions`:
  `/completions` with the chat template rendered here (needs `template=`); `suffix`: the
  server cannot prefill, the text is appended to the last user turn (hosted APIs).
  `auto` (default) asks `/models` who serves the model, else sends one tiny probe request.
- `template=chatml|llama3|props|DIR` — the chat template for `prefill=completions` (implies
  it): a built-in one, the server's own (`props`: llama.cpp `GET /props`), or the one in a
  local Hugging Face tokenizer directory. The server adds BOS itself, so none is rendered.
- `stream=auto|off` — stream (SSE) rows that have `stop_when`, closing the stream as soon as
  it fires so the server stops generating (default auto: on; `off` for a server that refuses
  to stream — a 400 on one streamed request is that request's error, it changes nothing else).
- `concurrency=N` (default 8 requests in flight; servers batch them), `timeout=SECONDS`
  (default 600: the most one request may take, first byte to last, streams included),
  `first_byte=SECONDS` (default 30: how long the server may take to answer at all; it is
  asked `GET /models` before the first generation, so one that accepts connections and
  never answers fails within this time rather than `timeout`).

An answer is complete only when the server says so: a streamed choice must end with a
`finish_reason`. `[DONE]` alone is not enough: llama-cpp-python's server ends a stream it
interrupts for a newer request with `[DONE]` and no finish reason. An unfinished stream, or a
connection dropped mid-answer, is sent again (at most `ANSWER_RETRIES` times) and then fails
as a `BackendError`; it never becomes a row. A server that interrupts concurrent streams
this way decodes one request at a time, so the first stream ended without a finish reason
also lowers this backend's requests in flight to one (a notice says so; a dropped connection
does not): the answers stay the same, only slower.

Decoding is always greedy (`temperature: 0`). A server that fails (refused connection,
timeout, 5xx, a broken or unfinished stream) raises `BackendError`; a 4xx answer is about
the request and raises `UserError` (`HTTPStatusError`). Requests are queued
(`submit_many`): each row's future resolves as its answer arrives, so a caller stores
finished rows while the others still decode, and a server that dies mid-run costs only the
rows in flight.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from tqdm.auto import tqdm

from neutrophil.errors import BackendError, UserError
from neutrophil.models.base import Backend, Generation, Message, Request, as_suffix, whole_chars
from neutrophil.models.template import FALLBACK_TEMPLATE, render_chat

PREFILL_MODES = ("auto", "continue", "assistant", "completions", "suffix")
# Servers known to honour `continue_final_message` (read from `owned_by` in GET /models).
CONTINUE_OWNERS = ("vllm", "neutrophil")
# What a server needs beyond `temperature: 0` to decode greedily, by `owned_by`.
# llama-cpp-python's server ("me") applies a repeat penalty of 1.1 unless told otherwise,
# so its `temperature: 0` answers drift from greedy a few tokens in.
GREEDY_FIELDS: dict[str, dict[str, Any]] = {"me": {"repeat_penalty": 1.0}}
RETRY_STATUS = (429, 503)
RETRIES = 4
BACKOFF_S = 0.5
ANSWER_RETRIES = 3  # an unfinished answer is sent again at most this often
FIRST_BYTE_S = 30.0
# Probe: a continuing server says "8" next; one that opens a new turn starts over at "1".
PROBE_PROMPT = "Count from 1 to 20, separated by commas. Write nothing else."
PROBE_PREFILL = "1, 2, 3, 4, 5, 6, 7,"

Render = Callable[[Sequence[Message]], str]


@dataclass(frozen=True)
class OpenAISpec:
    base_url: str
    model: str
    prefill: str = "auto"
    template: str | None = None
    stream: bool = True
    concurrency: int = 8
    timeout: float = 600.0
    first_byte: float = FIRST_BYTE_S

    @classmethod
    def parse(cls, spec: str) -> OpenAISpec:
        body = spec.removeprefix("openai:")
        base, sep, frag = body.partition("#")
        model, _, query = frag.partition("?")
        if not sep or not model or not base.startswith(("http://", "https://")):
            raise UserError(f"{spec}: expected openai:http(s)://HOST[:PORT]/v1#MODEL")
        opts: dict[str, Any] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key == "prefill":
                if value not in PREFILL_MODES:
                    raise UserError(f"{spec}: prefill must be one of {', '.join(PREFILL_MODES)}")
                opts[key] = value
            elif key == "template":
                opts[key] = value
            elif key == "stream":
                if value not in ("auto", "off", "on"):
                    raise UserError(f"{spec}: stream must be auto or off")
                opts[key] = value != "off"
            elif key in ("concurrency", "timeout", "first_byte"):
                try:
                    number = int(value) if key == "concurrency" else float(value)
                except ValueError:
                    number = 0
                if not number > 0 or number == float("inf"):  # NaN fails `> 0`
                    raise UserError(f"{spec}: {key} must be a positive number")
                opts[key] = number
            else:
                raise UserError(f"{spec}: unknown option {key!r}")
        if opts.get("template") and opts.get("prefill", "auto") == "auto":
            opts["prefill"] = "completions"
        if opts.get("prefill") == "completions" and not opts.get("template"):
            raise UserError(f"{spec}: prefill=completions needs template=chatml|llama3|props|DIR")
        return cls(base_url=base.rstrip("/"), model=model, **opts)


class HTTPStatusError(UserError):
    """The server refused the request with a 4xx status: the request, or our key or model
    name, is wrong; the server itself works (kept apart so the probe can tell 4xx)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ServerStatusError(BackendError):
    """The server failed the request with a 5xx status (or 429 after every retry)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class UnfinishedAnswer(BackendError):
    """The server ended an answer without a finish reason (`interrupted`), or dropped the
    connection in it."""

    def __init__(self, message: str, *, interrupted: bool = False) -> None:
        super().__init__(message)
        self.interrupted = interrupted


class InFlight:
    """At most `limit` requests at once; the limit can be lowered while requests run (those
    already sent finish, new ones wait)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._active = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._active < self.limit)
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def lower(self, limit: int) -> bool:
        """Lower the limit to `limit`; True if it was higher."""
        with self._cond:
            if self.limit <= limit:
                return False
            self.limit = limit
            return True


class OpenAIBackend(Backend):
    """Generate through an OpenAI-compatible server; rows run concurrently (servers batch)."""

    engine = "openai"
    queues = True  # submitted requests fan out over `capacity` connections
    remote = True
    takes_raw_prompts = True  # sent to /v1/completions

    def __init__(self, spec: OpenAISpec, *, api_key: str | None = None) -> None:
        self.spec = spec
        self.name = spec.model
        self.concurrency = spec.concurrency
        self.in_flight = InFlight(spec.concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self._prepared = threading.Lock()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(spec.timeout, connect=10.0),
            limits=httpx.Limits(
                max_connections=spec.concurrency * 2, max_keepalive_connections=spec.concurrency
            ),
        )
        self._mode: str | None = None  # resolved on first use (`mode`)
        self._greedy: dict[str, Any] = {}  # the server's own greedy fields (GREEDY_FIELDS)
        self._owner: str | None = None
        self._contacted = False
        self._render: Render | None = None
        self._stream = spec.stream

    @property
    def capacity(self) -> int:
        return self.concurrency

    @property
    def fingerprint(self) -> str:
        return self.name  # a server's model name is all a client knows of its weights

    @classmethod
    def from_spec(cls, spec: str, api_key: str | None = None) -> OpenAIBackend:
        return cls(OpenAISpec.parse(spec), api_key=api_key)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def mode(self) -> str:
        """The resolved prefill mode (probes the server once, on first use)."""
        with self._prepared:
            self._contact()
            if self._mode is None:
                self._mode = self._detect_mode()
            if self._mode == "completions" and self._render is None:
                self._render = load_template(self.spec.template or "", self)
            return self._mode

    @property
    def prefill_mode(self) -> str:
        return "suffix" if self.mode == "suffix" else "native"

    # -- generation -------------------------------------------------------------------

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Generation]:
        if not requests:
            return []
        if len(requests) == 1:  # in the caller's thread (the proxy sends one at a time)
            return [self._answer(requests[0], self._resolve(requests))]
        futures = self.submit_many(requests)
        bar = tqdm(
            total=len(requests), desc="generate", unit="req", disable=not progress, leave=False
        )
        try:
            for done in as_completed(futures):
                done.result()  # the first failure ends the batch
                bar.update(1)
            return [f.result() for f in futures]
        finally:
            for f in futures:  # one failed: do not send what has not started
                f.cancel()
            bar.close()

    def submit_many(
        self, requests: Sequence[Request], *, progress: bool = False
    ) -> list[Future[Generation]]:
        """Queue `requests`; each future resolves as its answer arrives."""
        if not requests:
            return []
        mode = self._resolve(requests)
        with self._prepared:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.concurrency, thread_name_prefix="openai-backend"
                )
        return [self._pool.submit(self._answer, r, mode) for r in requests]

    def _resolve(self, requests: Sequence[Request]) -> str:
        """The mode to send `requests` in, with the server contacted (and probed and its
        template loaded once a request has a prefill) before anything fans out."""
        if self._mode or self.spec.prefill != "auto" or any(r.prefill for r in requests):
            return self.mode
        with self._prepared:
            self._contact()
        return "plain"  # a chat request without a prefill is the same in every chat mode

    def _answer(self, r: Request, mode: str) -> Generation:
        """One request's answer, sent again while the server leaves it unfinished."""
        for attempt in range(ANSWER_RETRIES + 1):
            with self.in_flight.slot():
                try:
                    return self._one(r, mode)
                except UnfinishedAnswer as e:
                    if attempt == ANSWER_RETRIES:
                        raise UnfinishedAnswer(
                            f"{e} ({attempt + 1} tries)", interrupted=e.interrupted
                        ) from None
                    # A stream ended without a finish reason is a server that cuts one answer
                    # for another (a dropped connection is retried as it is).
                    if e.interrupted and self.in_flight.lower(1):
                        _notice(
                            f"{self.spec.base_url}: the server ended an answer without "
                            "finishing it; sending one request at a time"
                        )
        raise AssertionError("unreachable")

    def _one(self, r: Request, mode: str) -> Generation:
        path, body = self._body(r, mode)
        deadline = time.monotonic() + self.spec.timeout
        # No fallback on an error status: a 400 here is about this request (too long, a bad
        # parameter), and must change neither how it is reported nor how others are sent.
        if r.stop_when is not None and self._stream:
            return self._streamed(path, body, r, mode, deadline)
        return _generation(_json_of(self._post(path, body, deadline), path), path)

    def _body(self, r: Request, mode: str) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.spec.model, "max_tokens": r.max_new_tokens}
        body["temperature"] = 0
        body.update(self._greedy)
        if r.raw_prompt is not None:  # a raw prompt (neutrophil serve's /v1/completions)
            return "/completions", {**body, "prompt": r.raw_prompt + r.prefill}
        if mode == "completions":
            assert self._render is not None
            return "/completions", {**body, "prompt": self._render(r.messages) + r.prefill}
        messages = [dict(m) for m in r.messages]
        if r.prefill and mode == "suffix":
            messages = list(as_suffix(messages, r.prefill))
        elif r.prefill:
            messages.append({"role": "assistant", "content": r.prefill})
            if mode == "continue":
                body["continue_final_message"] = True
                body["add_generation_prompt"] = False
        return "/chat/completions", {**body, "messages": messages}

    def _streamed(
        self, path: str, body: dict[str, Any], r: Request, mode: str, deadline: float
    ) -> Generation:
        assert r.stop_when is not None
        options: dict[str, bool] = {"include_usage": True}
        if mode == "continue":  # vLLM: usage on every chunk, so an early stop still counts
            options["continuous_usage_stats"] = True
        body = {**body, "stream": True, "stream_options": options}
        resp = self._send(path, body, stream=True, deadline=deadline)
        url = self.spec.base_url + path
        try:
            if "text/event-stream" not in resp.headers.get("content-type", ""):
                # The server ignored `stream`; it sent one JSON answer.
                return _generation(_json_of(self._read(resp, url, deadline), path), path)
            return self._read_events(resp, path, r, deadline)
        except httpx.TimeoutException:
            raise BackendError(f"{url}: timed out after {self.spec.timeout:g} s") from None
        except httpx.HTTPError as e:
            raise UnfinishedAnswer(f"{url}: stream broke off ({_one_line(str(e))})") from None
        finally:
            resp.close()  # closing mid-stream drops the connection: the server stops

    def _read_events(
        self, resp: httpx.Response, path: str, r: Request, deadline: float
    ) -> Generation:
        assert r.stop_when is not None
        chat = path == "/chat/completions"
        url = self.spec.base_url + path
        text, usage, chunks, stopped, finish = "", {}, 0, False, None
        lines = resp.iter_lines()
        while True:
            try:
                line = next(lines)
            except StopIteration:
                break
            except httpx.HTTPError:
                if finish is None:
                    raise
                break  # the server finished the answer, then dropped the connection
            if time.monotonic() > deadline:  # a server trickling bytes must not hold us
                raise BackendError(f"{url}: timed out after {self.spec.timeout:g} s")
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            try:
                event = json.loads(payload)
            except ValueError:
                raise BackendError(f"{url}: broken stream event {payload[:80]!r}") from None
            if not isinstance(event, dict):
                raise BackendError(f"{url}: broken stream event {payload[:80]!r}")
            if "error" in event:  # the server failed mid-stream, after its 200
                err = event["error"]
                detail = err.get("message", err) if isinstance(err, dict) else err
                raise BackendError(f"{url}: {_one_line(str(detail))}")
            usage = event.get("usage") or usage
            got = ""
            for choice in event.get("choices") or []:
                delta = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                got += delta or ""
                finish = choice.get("finish_reason") or finish
            if got:
                text, chunks = text + got, chunks + 1
                if r.stop_when(r.prefill + whole_chars(text)):
                    stopped = True
                    break
        if not stopped and finish is None:
            raise UnfinishedAnswer(
                f"{url}: the stream ended without a finish_reason after {len(text)} characters",
                interrupted=True,
            )
        return Generation(
            text=whole_chars(text),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            generated_tokens=int(usage.get("completion_tokens") or chunks),
            stopped_early=stopped,
        )

    # -- HTTP -------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any], deadline: float) -> bytes:
        resp = self._send(path, body, stream=True, deadline=deadline)
        try:
            return self._read(resp, self.spec.base_url + path, deadline)
        finally:
            resp.close()

    def _read(self, resp: httpx.Response, url: str, deadline: float) -> bytes:
        """The whole body, by the deadline (a per-read timeout alone lets a server that
        trickles bytes hold a request forever)."""
        parts: list[bytes] = []
        try:
            for part in resp.iter_bytes():
                parts.append(part)
                if time.monotonic() > deadline:
                    raise BackendError(f"{url}: timed out after {self.spec.timeout:g} s")
        except httpx.TimeoutException:
            raise BackendError(f"{url}: timed out after {self.spec.timeout:g} s") from None
        except httpx.HTTPError as e:
            raise UnfinishedAnswer(f"{url}: response broke off ({_one_line(str(e))})") from None
        return b"".join(parts)

    def _send(
        self,
        path: str,
        body: dict[str, Any] | None,
        *,
        stream: bool = False,
        root: bool = False,
        deadline: float | None = None,
    ) -> httpx.Response:
        """POST (GET when `body` is None) with retries on 429/503; one-line errors: 4xx as
        `HTTPStatusError` (a UserError), the rest as `BackendError`. `path` is below the base
        URL, or below the server root (without /v1) if `root`."""
        url = (self.root_url if root else self.spec.base_url) + path
        if deadline is None:
            deadline = time.monotonic() + self.spec.timeout
        for attempt in range(RETRIES + 1):
            method = "GET" if body is None else "POST"
            left = deadline - time.monotonic()
            if left <= 0:
                raise BackendError(f"{url}: timed out after {self.spec.timeout:g} s")
            timeout = httpx.Timeout(left, connect=min(10.0, left))
            try:
                request = self._client.build_request(method, url, json=body, timeout=timeout)
                resp = self._client.send(request, stream=True)
            except httpx.ConnectError as e:
                raise BackendError(f"{url}: cannot connect ({_one_line(str(e))})") from None
            except httpx.TimeoutException:
                raise BackendError(f"{url}: timed out after {self.spec.timeout:g} s") from None
            except httpx.HTTPError as e:
                raise BackendError(f"{url}: request failed ({_one_line(str(e))})") from None
            if resp.status_code in RETRY_STATUS and attempt < RETRIES:
                resp.close()
                pause = _retry_after(resp) or BACKOFF_S * 2**attempt
                if time.monotonic() + pause < deadline:
                    time.sleep(pause)
                    continue
            if resp.status_code >= 400:
                with contextlib.suppress(httpx.HTTPError):  # the status says enough
                    resp.read()
                resp.close()
                message = f"{url}: HTTP {resp.status_code} {_error_detail(resp)}".rstrip()
                if 400 <= resp.status_code < 500 and resp.status_code != 429:
                    raise HTTPStatusError(message, resp.status_code)
                raise ServerStatusError(message, resp.status_code)
            if not stream:
                try:
                    resp.read()
                except httpx.HTTPError as e:
                    raise BackendError(f"{url}: response broke off ({_one_line(str(e))})") from None
            return resp
        raise AssertionError("unreachable")

    @property
    def root_url(self) -> str:
        return self.spec.base_url.removesuffix("/v1")

    def get_json(self, path: str, *, root: bool = False, deadline: float | None = None) -> Any:
        """GET a JSON document below the base URL (or the server root); None on an error
        status or a body that is not JSON."""
        try:
            return self._send(path, None, root=root, deadline=deadline).json()
        except (HTTPStatusError, ServerStatusError):
            return None
        except ValueError:
            return None

    # -- prefill detection ---------------------------------------------------------------

    def _contact(self) -> None:
        """Ask the server who serves the model, once: the first contact, which a server that
        accepts connections and never answers fails within `first_byte` seconds."""
        if not self._contacted:
            owner = self.server_owner()
            self._owner = owner if isinstance(owner, str) else None
            self._greedy = GREEDY_FIELDS.get(self._owner or "", {})
            self._contacted = True

    def _detect_mode(self) -> str:
        if self.spec.prefill != "auto":
            return self.spec.prefill
        if self._owner in CONTINUE_OWNERS:
            return "continue"
        probe = Request(
            messages=({"role": "user", "content": PROBE_PROMPT},),
            prefill=PROBE_PREFILL,
            max_new_tokens=4,
        )
        for mode in ("continue", "assistant"):
            try:
                gen = self._probe(probe, mode)
            except HTTPStatusError as e:
                if 400 <= e.status < 500:
                    continue  # e.g. unknown parameter, or a final assistant message refused
                raise
            if continues_prefill(gen.text):
                return mode
        found = self._server_template(probe)
        if found is not None:
            name, self._render = found
            _notice(
                f"{self.spec.base_url}: prefill=auto: the server does not continue a final "
                f"assistant message; its chat template is rendered here ({name}: the same "
                "prompt tokens as the server's) and sent to /completions"
            )
            return "completions"
        _notice(
            f"{self.spec.base_url}: prefill=auto: the server continues no assistant prefill "
            "and its chat template is unknown here, so a prefix goes into the user turn "
            "(prefill=suffix); template=MODEL.gguf or template=TOKENIZER_DIR gives a true prefill"
        )
        return "suffix"

    def _server_template(self, probe: Request) -> tuple[str, Render] | None:
        """A chat template that renders the server's own prompt, for `/completions`: the one
        it publishes (`GET /props`) or a built-in one. A candidate is taken only if its
        prompt has exactly as many tokens as the server's own rendering of the same chat (a
        prefilled count continues under almost any template, so the probe alone cannot tell
        a wrong one) and the server then continues the probe's prefill."""
        plain = Request(probe.messages, max_new_tokens=1)
        try:
            served = self._probe(plain, "suffix").prompt_tokens  # the server renders the chat
        except HTTPStatusError:
            return None
        if not served:  # no usage reported: nothing to compare
            return None
        candidates: list[tuple[str, Render]] = []
        props = self.get_json("/props", root=True)
        if isinstance(props, dict) and isinstance(props.get("chat_template"), str):
            candidates.append(("props", _jinja_render(props["chat_template"], props)))
        candidates += list(BUILTIN_TEMPLATES.items())
        for name, render in candidates:
            self._render = render
            try:
                if self._probe(plain, "completions").prompt_tokens != served:
                    continue
                if continues_prefill(self._probe(probe, "completions").text):
                    return name, render
            except (HTTPStatusError, ServerStatusError):
                break  # no (working) /completions endpoint: fall back to the user turn
            except UserError:
                continue  # the published template does not render
            finally:
                self._render = None
        return None

    def _probe(self, r: Request, mode: str) -> Generation:
        """A probe request, counted among the requests in flight (on a server that cuts one
        stream for another, an uncounted probe would cut a running row)."""
        with self.in_flight.slot():
            return self._one(r, mode)

    def server_owner(self) -> str | None:
        """`owned_by` of this model in GET /models (vllm, llamacpp, neutrophil, ...), if any.
        The server must answer within `first_byte` seconds, whatever its status."""
        limit = min(self.spec.first_byte, self.spec.timeout)
        try:
            data = self.get_json("/models", deadline=time.monotonic() + limit)
        except BackendError as e:
            if "timed out" not in str(e):
                raise
            raise BackendError(
                f"{self.spec.base_url}/models: timed out: no answer within {limit:g} s (the "
                "server accepts connections but does not respond; first_byte= sets this)"
            ) from None
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not entries:
            return None
        match = [e for e in entries if isinstance(e, dict) and e.get("id") == self.spec.model]
        entry = (match or entries)[0]
        return entry.get("owned_by") if isinstance(entry, dict) else None


def _notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def continues_prefill(text: str) -> bool:
    """Did the server continue `PROBE_PREFILL` ("... 7,") rather than open a new turn?"""
    return text.lstrip().startswith("8")


def _json_of(body: bytes, path: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise BackendError(f"{path}: the response is not JSON {body[:80]!r}") from None


def _generation(data: Any, path: str) -> Generation:
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"] if path == "/chat/completions" else choice["text"]
        usage = data.get("usage") or {}
    except (KeyError, IndexError, TypeError):
        raise BackendError(
            f"{path}: unexpected response {_one_line(json.dumps(data))[:200]}"
        ) from None
    return Generation(
        text=whole_chars(text or ""),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        generated_tokens=int(usage.get("completion_tokens") or 0),
    )


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return min(float(resp.headers.get("retry-after", "")), 30.0)
    except ValueError:
        return None


def _error_detail(resp: httpx.Response) -> str:
    try:
        data = resp.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        detail = err.get("message", err) if isinstance(err, dict) else err
        detail = detail if isinstance(detail, str) else json.dumps(detail)
    except ValueError:
        detail = resp.text
    except RuntimeError:  # the body could not be read (httpx.ResponseNotRead)
        detail = ""
    return _one_line(detail)[:200]


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- chat templates for prefill=completions -----------------------------------------------


def chatml(messages: Sequence[Message]) -> str:
    return render_chat(FALLBACK_TEMPLATE, messages)


def llama3(messages: Sequence[Message]) -> str:
    turns = "".join(
        f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content'].strip()}<|eot_id|>"
        for m in messages
    )
    return turns + "<|start_header_id|>assistant<|end_header_id|>\n\n"


BUILTIN_TEMPLATES: dict[str, Render] = {"chatml": chatml, "llama3": llama3}


def load_template(name: str, backend: OpenAIBackend) -> Render:
    """A built-in template, the server's (`props`, llama.cpp), the one in a local GGUF file's
    metadata (the file the server loaded), or a local tokenizer's."""
    if name in BUILTIN_TEMPLATES:
        return BUILTIN_TEMPLATES[name]
    if name == "props":
        data = backend.get_json("/props", root=True)
        source = data.get("chat_template") if isinstance(data, dict) else None
        if not isinstance(source, str) or not source:
            raise UserError(f"{backend.root_url}/props: the server shares no chat_template")
        return _jinja_render(source, data)
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        source, eos = _gguf_template(path)
        return _jinja_render(source, {"eos_token": eos})
    if path.is_dir():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(path)
        # Strip BOS only where the tokenizer adds it itself: the server will add it again.
        adds_bos = tok.bos_token_id is not None and tok("x").input_ids[:1] == [tok.bos_token_id]
        bos = tok.bos_token if adds_bos else ""

        def render(messages: Sequence[Message]) -> str:
            text = tok.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=True
            )
            return text.removeprefix(bos) if bos else text

        return render
    raise UserError(
        f"template={name}: expected chatml, llama3, props, a .gguf file or a tokenizer directory"
    )


def _jinja_render(source: str, tokens: dict[str, Any]) -> Render:
    """Render a Hugging Face style Jinja chat template without BOS (the server adds it)."""
    from jinja2 import TemplateError

    eos = tokens.get("eos_token")
    eos = eos if isinstance(eos, str) else ""

    def render(messages: Sequence[Message]) -> str:
        try:
            return render_chat(source, messages, eos_token=eos)
        except TemplateError as e:
            raise UserError(f"chat template: {_one_line(str(e))}") from None

    return render


def _gguf_template(path: Path) -> tuple[str, str]:
    """(chat template, EOS token text) from a GGUF file's metadata."""
    import gguf

    from neutrophil.models.gguf_fields import string_field

    try:
        reader = gguf.GGUFReader(str(path))
        source = string_field(reader, "tokenizer.chat_template")
        eos_field = reader.fields.get("tokenizer.ggml.eos_token_id")
        tokens = reader.fields.get("tokenizer.ggml.tokens")
        eos = ""
        if eos_field is not None and tokens is not None:
            eos_id = int(eos_field.parts[eos_field.data[0]][0])
            eos = bytes(tokens.parts[tokens.data[eos_id]]).decode("utf-8")
    except OSError as e:
        raise UserError(f"template={path}: cannot read ({e.strerror or e})") from None
    except (ValueError, IndexError, KeyError, TypeError) as e:
        raise UserError(f"template={path}: not a readable GGUF file ({e})") from None
    if not source:
        raise UserError(f"template={path}: the file has no tokenizer.chat_template")
    return source, eos
