"""A tiny randomly-initialised chat model with a byte-level tokenizer, built in memory.

Tests and `--quick` runs use it: it exercises every code path of the real backends in
well under a second, with no files and no downloads.
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

from neutrophil.models.template import FALLBACK_TEMPLATE

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_ARCH_CONFIG = {
    "llama": dict(model_type="llama", num_key_value_heads=2, intermediate_size=128),
    "qwen2": dict(model_type="qwen2", num_key_value_heads=2, intermediate_size=128),
    "gemma3_text": dict(
        model_type="gemma3_text", num_key_value_heads=2, intermediate_size=128, head_dim=16
    ),
    "gpt2": dict(model_type="gpt2"),
}


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level tokenizer: 256 byte tokens plus ChatML specials, no merges."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    raw = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw)
    tok.add_special_tokens({"additional_special_tokens": SPECIALS[1:], "eos_token": SPECIALS[2]})
    tok.add_special_tokens({"pad_token": SPECIALS[0]})
    tok.chat_template = FALLBACK_TEMPLATE
    tok.padding_side = "left"
    return tok


def tiny_model(arch: str = "llama", *, seed: int = 0, layers: int = 2, hidden: int = 64):
    """A randomly-initialised causal LM of the given architecture and its tokenizer."""
    tok = tiny_tokenizer()
    extra = dict(_ARCH_CONFIG[arch])
    model_type = extra.pop("model_type")
    if model_type == "gpt2":
        sizes = dict(n_embd=hidden, n_layer=layers, n_head=4, n_positions=2048)
    else:
        sizes = dict(
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=4,
            max_position_embeddings=2048,
        )
    config = AutoConfig.for_model(
        model_type,
        vocab_size=len(tok),
        bos_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **sizes,
        **extra,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return model, tok
