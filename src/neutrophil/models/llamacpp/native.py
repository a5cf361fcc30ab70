"""A thin, typed layer over llama-cpp-python's low-level (ctypes) API.

Only what the engine needs: load a GGUF, make a multi-sequence context, tokenize and
detokenize, fill a `llama_batch`, decode, read logits, copy/clear KV sequences, and set a
control vector. Everything that can fail on user input (a missing or broken file, an
architecture llama.cpp does not know) raises `UserError` with the path.
"""

from __future__ import annotations

import ctypes
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neutrophil.errors import UserError

GGUF_MAGIC = b"GGUF"
FLASH_ATTN_DISABLED = 0  # llama_flash_attn_type: -1 auto, 0 disabled, 1 enabled
_init_lock = threading.Lock()
_initialised = False
_silence: Any = None  # the log callback must outlive every call into the library


def lib() -> Any:
    """The `llama_cpp` module, initialised once with its logging silenced."""
    global _initialised, _silence
    try:
        import llama_cpp
    except ImportError:
        raise UserError(
            "the llama.cpp engine needs llama-cpp-python (`make install` builds it; "
            "or use --engine hf)"
        ) from None
    with _init_lock:
        if not _initialised:
            _silence = llama_cpp.llama_log_callback(lambda level, text, data: None)
            llama_cpp.llama_log_set(_silence, ctypes.c_void_p())
            llama_cpp.llama_backend_init()
            _initialised = True
    return llama_cpp


def available() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def check_gguf(path: Path) -> None:
    """Fail with one line for a missing, non-GGUF or truncated file, before llama.cpp
    (which reports such files only on its log) is asked to load it."""
    if not path.exists():
        raise UserError(f"{path}: no such GGUF file")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    try:
        with path.open("rb") as f:
            head = f.read(24)
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    if head[:4] != GGUF_MAGIC:
        raise UserError(f"{path}: not a GGUF file (no GGUF magic)")
    if len(head) < 24:
        raise UserError(f"{path}: truncated GGUF file ({len(head)} bytes)")
    n_tensors = struct.unpack("<Q", head[8:16])[0]
    if n_tensors == 0:
        raise UserError(f"{path}: GGUF file holds no tensors (header only)")


@dataclass
class NativeModel:
    """A loaded GGUF model and its vocabulary."""

    path: Path
    ptr: Any
    vocab: Any
    n_vocab: int
    n_embd: int
    n_layer: int

    @classmethod
    def load(cls, path: Path) -> NativeModel:
        ll = lib()
        check_gguf(path)
        params = ll.llama_model_default_params()
        params.n_gpu_layers = 0
        ptr = ll.llama_model_load_from_file(str(path).encode(), params)
        if not ptr:
            arch = gguf_architecture(path)
            raise UserError(
                f"{path}: llama.cpp cannot load this GGUF (architecture {arch!r}; the file "
                "may be truncated or of an unsupported architecture)"
            )
        vocab = ll.llama_model_get_vocab(ptr)
        return cls(
            path=path,
            ptr=ptr,
            vocab=vocab,
            n_vocab=ll.llama_vocab_n_tokens(vocab),
            n_embd=ll.llama_model_n_embd(ptr),
            n_layer=ll.llama_model_n_layer(ptr),
        )

    def meta(self, key: str) -> str | None:
        ll = lib()
        buf = ctypes.create_string_buffer(256)
        n = ll.llama_model_meta_val_str(self.ptr, key.encode(), buf, len(buf))
        if n < 0:
            return None
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            ll.llama_model_meta_val_str(self.ptr, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", errors="replace")

    def chat_template(self) -> str | None:
        raw = lib().llama_model_chat_template(self.ptr, None)
        return raw.decode("utf-8") if raw else None

    def tokenize(self, text: str) -> list[int]:
        """Tokens of a rendered prompt: special tokens in the text are parsed, none added
        (the chat template already wrote any BOS), as transformers does for chat."""
        ll = lib()
        data = text.encode("utf-8")
        cap = len(data) + 8
        buf = (ll.llama_token * cap)()
        n = ll.llama_tokenize(self.vocab, data, len(data), buf, cap, False, True)
        if n < 0:  # the buffer was too small: -n is the count needed
            cap = -n
            buf = (ll.llama_token * cap)()
            n = ll.llama_tokenize(self.vocab, data, len(data), buf, cap, False, True)
        return list(buf[:n])

    def piece(self, token: int, special: bool = False) -> bytes:
        """The bytes of one token (control tokens are empty unless `special`)."""
        ll = lib()
        buf = ctypes.create_string_buffer(64)
        n = ll.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = ll.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
        return buf.raw[:n]

    def is_eog(self, token: int) -> bool:
        return bool(lib().llama_vocab_is_eog(self.vocab, token))

    def special_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.piece(token, special=True).decode("utf-8", errors="replace")

    def bos_eos_text(self) -> tuple[str, str]:
        ll = lib()
        return (
            self.special_text(ll.llama_vocab_bos(self.vocab)),
            self.special_text(ll.llama_vocab_eos(self.vocab)),
        )

    def free(self) -> None:
        if self.ptr:
            lib().llama_model_free(self.ptr)
            self.ptr = None


def gguf_architecture(path: Path) -> str:
    try:
        from gguf import GGUFReader

        from neutrophil.models.gguf_fields import string_field

        arch = string_field(GGUFReader(str(path)), "general.architecture")
        if arch is not None:
            return arch
    except Exception:  # noqa: BLE001 — only used to word an error message
        pass
    return "unknown"


class NativeContext:
    """A decoding context with `n_seq` sequences of `seq_ctx` tokens each.

    The KV cache is split per sequence (not unified), so each row attends only over its
    own cells: the cost of a step grows with the live rows, not with their total length.
    llama.cpp allocates and zeroes the whole cache up front (32 x 2048 cells of the
    embedded model: 1.5 GB, over a second), so a context may start smaller and `grow` up
    to `max_seq_ctx` when a row needs more.
    """

    def __init__(
        self,
        model: NativeModel,
        *,
        n_seq: int,
        seq_ctx: int,
        n_batch: int,
        threads: int,
        max_seq_ctx: int | None = None,
    ) -> None:
        self.model = model
        self.n_seq = n_seq
        self.n_batch = n_batch
        self.threads = threads
        self.max_seq_ctx = max(seq_ctx, max_seq_ctx or seq_ctx)
        self.ptr: Any = None
        self._create(seq_ctx)
        self.batch = lib().llama_batch_init(n_batch, 0, 1)

    def _create(self, seq_ctx: int) -> None:
        ll = lib()
        params = ll.llama_context_default_params()
        params.n_ctx = self.n_seq * seq_ctx
        params.n_batch = self.n_batch
        params.n_ubatch = min(self.n_batch, 512)
        params.n_seq_max = self.n_seq
        params.n_threads = self.threads
        params.n_threads_batch = self.threads
        params.no_perf = True
        params.kv_unified = False
        # The CPU flash-attention kernel is 2-4x slower than the plain one here once rows
        # hold ~1k tokens (a web page); docs/benchmarks.md.
        params.flash_attn_type = FLASH_ATTN_DISABLED
        self.ptr = ll.llama_init_from_model(self.model.ptr, params)
        if not self.ptr:
            raise UserError(
                f"{self.model.path}: llama.cpp could not create a context of {self.n_seq} x "
                f"{seq_ctx} tokens (lower --batch-size or the context)"
            )
        self.memory = ll.llama_get_memory(self.ptr)
        self.seq_ctx = ll.llama_n_ctx_seq(self.ptr) if hasattr(ll, "llama_n_ctx_seq") else seq_ctx
        self._cvec: tuple[Any, ...] | None = None

    def grow(self, need: int) -> None:
        """Rebuild the context with room for `need` tokens per sequence (doubling, at most
        `max_seq_ctx`). Every sequence's KV and the control vector are lost: the caller
        drains its rows first."""
        old, size = self.seq_ctx, self.seq_ctx
        while size < need:
            size *= 2
        lib().llama_free(self.ptr)
        self.ptr = None
        try:
            self._create(min(size, self.max_seq_ctx))
        except UserError:
            self._create(old)  # keep a working context; the caller fails its rows
            raise

    # -- KV sequences -------------------------------------------------------------
    def clear(self, seq: int) -> None:
        lib().llama_memory_seq_rm(self.memory, seq, -1, -1)

    def copy(self, src: int, dst: int, n_tokens: int) -> None:
        """Make `dst` hold the first `n_tokens` positions of sequence `src`. With one KV
        stream per sequence, llama.cpp copies only whole sequences, so copy all of `src`
        and cut `dst` back."""
        ll = lib()
        ll.llama_memory_seq_cp(self.memory, src, dst, -1, -1)
        if not ll.llama_memory_seq_rm(self.memory, dst, n_tokens, -1):
            raise RuntimeError(f"cannot cut sequence {dst} back to {n_tokens} tokens")

    def move(self, src: int, dst: int) -> None:
        """Move all of sequence `src` to `dst`, leaving `src` empty. The data is copied
        at the start of the next `decode`, in the order the moves were made."""
        ll = lib()
        ll.llama_memory_seq_cp(self.memory, src, dst, -1, -1)
        ll.llama_memory_seq_rm(self.memory, src, -1, -1)

    # -- decoding -----------------------------------------------------------------
    def decode(self, entries: list[tuple[int, int, int, bool]]) -> np.ndarray:
        """One `llama_decode` over (token, position, sequence, wants_logits) entries;
        returns the logits of the flagged entries, in order, as [n, n_vocab]."""
        ll = lib()
        b = self.batch
        for i, (tok, pos, seq, out) in enumerate(entries):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = out
        b.n_tokens = len(entries)
        rc = ll.llama_decode(self.ptr, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed with code {rc} ({len(entries)} tokens)")
        n_out = sum(1 for e in entries if e[3])
        if n_out == 0:
            return np.empty((0, self.model.n_vocab), dtype=np.float32)
        ptr = ll.llama_get_logits(self.ptr)
        return np.ctypeslib.as_array(ptr, shape=(n_out, self.model.n_vocab))

    # -- control vectors ------------------------------------------------------------
    def set_control(self, layers: dict[int, np.ndarray] | None) -> None:
        """Add `layers[N]` to the output of block N for every token of every sequence
        (llama.cpp's control vector, context-wide); None clears it."""
        ll = lib()
        key = None if not layers else tuple((n, v.tobytes()) for n, v in sorted(layers.items()))
        if key == self._cvec:
            return
        if not layers:
            rc = ll.llama_set_adapter_cvec(self.ptr, None, 0, self.model.n_embd, 0, 0)
        else:
            n_embd, n_layer = self.model.n_embd, self.model.n_layer
            # The buffer starts at block 1: block 0 has no control-vector slot in llama.cpp.
            data = np.zeros((n_layer - 1) * n_embd, dtype=np.float32)
            for n, v in layers.items():
                if not 1 <= n < n_layer:
                    raise UserError(
                        f"layer {n}: llama.cpp control vectors cover blocks 1..{n_layer - 1}"
                    )
                if v.shape != (n_embd,):
                    raise UserError(f"layer {n}: vector of size {v.shape[0]}, model has {n_embd}")
                data[(n - 1) * n_embd : n * n_embd] = v
            ptr = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            rc = ll.llama_set_adapter_cvec(
                self.ptr, ptr, data.size, n_embd, min(layers), max(layers)
            )
        if rc != 0:
            raise RuntimeError(f"llama_set_adapter_cvec failed with code {rc}")
        self._cvec = key

    def free(self) -> None:
        ll = lib()
        if self.ptr:
            ll.llama_batch_free(self.batch)
            ll.llama_free(self.ptr)
            self.ptr = None


def default_threads() -> int:
    """The cores this process may run on (not the machine's: a container or taskset may
    allow fewer)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
