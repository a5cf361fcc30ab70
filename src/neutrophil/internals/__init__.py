"""Look inside a model: activation capture, probes, steering vectors, equalizer, gates.

Layer convention used everywhere in this package (it matches llama.cpp control vectors
and repeng): "layer N" is the residual stream *output* of decoder block N, counting blocks
from 0 as they appear in `model.model.layers` (or `model.transformer.h`). In Hugging Face
terms that is `output_hidden_states[N + 1]` for every block but the last (HF applies the
final norm to its last entry). llama.cpp adds the GGUF tensor `direction.N` to the output
of block N (`llama_adapter_cvec::apply_to(cur, il)` after block `il`, and its loader maps
`direction.N` to `tensors[N]`; no tensor is ever applied after block 0), so a vector for
layer N is exported as `direction.N` and layer 0 cannot be exported.
"""

from neutrophil.internals.capture import Captured, TokenActs, capture, capture_tokens
from neutrophil.internals.equalizer import Channel, Equalizer
from neutrophil.internals.extract import extract, extract_from_pairs
from neutrophil.internals.gate import Gate
from neutrophil.internals.strength import calibrate, default_layers, residual_norms
from neutrophil.internals.vector import SteeringVector

__all__ = [
    "Captured",
    "Channel",
    "Equalizer",
    "Gate",
    "SteeringVector",
    "TokenActs",
    "calibrate",
    "capture",
    "capture_tokens",
    "default_layers",
    "extract",
    "extract_from_pairs",
    "residual_norms",
]
