"""A character-level tokenizer and tiny random decoders, for the tests of internals/.

Nothing here downloads: the tokenizer is built from a fixed alphabet and carries a
ChatML chat template, the models are randomly initialised from small configs.
"""

from __future__ import annotations

import string

import torch
from transformers import PreTrainedTokenizerFast

from neutrophil.models.template import FALLBACK_TEMPLATE as CHATML

_SPECIALS = ["<pad>", "<unk>", "<|im_end|>", "<|im_start|>"]


def char_tokenizer() -> PreTrainedTokenizerFast:
    """One token per printable ASCII character, plus ChatML specials (pad=0, eos=2)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    chars = [c for c in string.printable if c not in "\x0b\x0c"]
    vocab = {t: i for i, t in enumerate(_SPECIALS + chars)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.add_special_tokens(_SPECIALS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        eos_token="<|im_end|>",
        bos_token=None,
    )
    fast.chat_template = CHATML
    return fast


def tiny_model(arch: str = "llama", vocab_size: int = 110, seed: int = 0, layers: int = 3):
    """A small random decoder of the given family: llama, qwen2, gemma3, gpt2."""
    import transformers as tf

    torch.manual_seed(seed)
    common = dict(vocab_size=vocab_size, pad_token_id=0, eos_token_id=2, bos_token_id=None)
    if arch == "gpt2":
        cfg = tf.GPT2Config(n_embd=32, n_layer=layers, n_head=2, n_positions=256, **common)
        model = tf.GPT2LMHeadModel(cfg)
    else:
        size = dict(
            hidden_size=32,
            num_hidden_layers=layers,
            num_attention_heads=2,
            num_key_value_heads=1,
            intermediate_size=64,
            **common,
        )
        if arch == "llama":
            model = tf.LlamaForCausalLM(tf.LlamaConfig(**size))
        elif arch == "qwen2":
            model = tf.Qwen2ForCausalLM(tf.Qwen2Config(**size))
        elif arch == "gemma3":
            model = tf.Gemma3ForCausalLM(tf.Gemma3TextConfig(head_dim=16, **size))
        else:
            raise ValueError(f"unknown toy architecture {arch!r}")
    return model.eval()
