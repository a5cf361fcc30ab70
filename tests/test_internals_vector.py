"""Steering vectors: extraction on synthetic activations, arithmetic, file round trips."""

import gguf
import numpy as np
import pytest
import torch
from toy import char_tokenizer, tiny_model

from neutrophil.errors import UserError
from neutrophil.internals import directions
from neutrophil.internals.extract import Pair, extract, extract_from_pairs
from neutrophil.internals.gguf_io import export_gguf, import_gguf
from neutrophil.internals.vector import SteeringVector

torch.set_num_threads(1)


def synthetic(n=256, layers=3, d=16, seed=0):
    """pos = neg + 2 * true direction (+ noise); neg has large variance along other axes."""
    g = torch.Generator().manual_seed(seed)
    true = torch.randn(layers, d, generator=g)
    true = true / true.norm(dim=-1, keepdim=True)
    neg = torch.randn(n, layers, d, generator=g) * 3
    pos = neg + 2 * true + 0.05 * torch.randn(n, layers, d, generator=g)
    return pos, neg, true


def synthetic_varying(n=64, layers=3, d=16, seed=0):
    """Pair differences = t_i * true direction + small noise, t_i varying around 2:
    after centring, the differences vary most along the true direction."""
    g = torch.Generator().manual_seed(seed)
    true = torch.randn(layers, d, generator=g)
    true = true / true.norm(dim=-1, keepdim=True)
    neg = torch.randn(n, layers, d, generator=g)
    t = 2 + 1.5 * torch.randn(n, 1, 1, generator=g)
    pos = neg + t * true + 0.05 * torch.randn(n, layers, d, generator=g)
    return pos, neg, true


@pytest.mark.parametrize("method", ["mean", "pca-signed", "probe"])
def test_extraction_recovers_known_direction(method):
    pos, neg, true = synthetic()
    dirs = directions.compute(method, pos, neg)
    cos = torch.nn.functional.cosine_similarity(dirs, true, dim=-1)
    assert dirs.shape == true.shape
    assert bool((cos > 0.9).all()), cos  # right axis AND right sign (neg -> pos)
    # scaled to the mean gap along the direction (about 2)
    assert bool(((dirs.norm(dim=-1) - 2).abs() < 0.5).all())


def test_centred_pca_recovers_varying_direction_with_sign():
    pos, neg, true = synthetic_varying()
    dirs = directions.compute("pca", pos, neg)
    cos = torch.nn.functional.cosine_similarity(dirs, true, dim=-1)
    assert bool((cos > 0.99).all()), cos  # right axis, oriented neg -> pos
    gap = ((pos - neg).mean(0) * true).sum(-1)  # mean gap along the true direction
    torch.testing.assert_close(dirs.norm(dim=-1), gap.abs(), atol=0.05, rtol=0.05)


def test_centred_pca_is_sklearn_pca_of_differences():
    """`pca` is exactly PCA (which centres) of pos - neg, as repeng's pca_diff."""
    from sklearn.decomposition import PCA

    pos, neg, _ = synthetic_varying(n=40, d=24, seed=5)
    dirs = directions.pca_diff(pos, neg)
    for layer in range(pos.shape[1]):
        diffs = (pos[:, layer] - neg[:, layer]).double().numpy()
        ref = torch.from_numpy(PCA(n_components=1).fit(diffs).components_[0]).float()
        cos = torch.nn.functional.cosine_similarity(dirs[layer], ref, dim=0)
        assert abs(float(cos)) > 0.9999


def test_centred_pca_ignores_a_constant_offset():
    """Centring removes what all differences share; only `pca-signed` keeps it."""
    pos, neg, true = synthetic()  # differences = 2 * true + tiny isotropic noise
    centred = directions.pca_diff(pos, neg)
    signed = directions.pca_signed(pos, neg)
    cos = lambda a: torch.nn.functional.cosine_similarity(a, true, dim=-1)  # noqa: E731
    assert bool((cos(signed) > 0.99).all())
    assert bool((cos(centred).abs() < 0.9).all())


@pytest.mark.parametrize("fn", [directions.pca_diff, directions.pca_signed])
def test_pca_sign_follows_pairs_not_svd(fn):
    pos, neg, true = synthetic_varying(seed=3)
    d1 = fn(pos, neg)
    d2 = fn(neg, pos)
    torch.testing.assert_close(d1, -d2, atol=1e-4, rtol=1e-4)


def test_pca_needs_pairs():
    pos, neg, _ = synthetic()
    with pytest.raises(ValueError):
        directions.pca_diff(pos[:10], neg)
    with pytest.raises(ValueError):
        directions.pca_signed(pos[:1], neg[:1])


def vec(values, meta=None):
    return SteeringVector(
        {k: torch.tensor(v, dtype=torch.float32) for k, v in values.items()},
        meta or {"method": "mean"},
    )


def test_arithmetic():
    a = vec({1: [1.0, 0.0], 2: [0.0, 2.0]})
    b = vec({2: [1.0, 1.0], 3: [3.0, 4.0]})
    s = a + b
    assert s.layers == (1, 2, 3)
    assert s.directions[2].tolist() == [1.0, 3.0]
    assert (a - b).directions[3].tolist() == [-3.0, -4.0]
    assert (2 * a).directions[2].tolist() == [0.0, 4.0]
    assert (a * 0.5).directions[1].tolist() == [0.5, 0.0]
    assert (-a).directions[1].tolist() == [-1.0, 0.0]
    n = b.normalized()
    assert n.directions[3].tolist() == pytest.approx([0.6, 0.8])
    assert a.restricted([2]).layers == (2,)
    with pytest.raises(TypeError):
        a * a  # noqa: B018
    # frozen
    with pytest.raises(AttributeError):
        a.directions = {}


def test_safetensors_round_trip(tmp_path):
    v = vec(
        {1: [1.0, -2.0, 3.0], 4: [0.5, 0.25, 0.0]},
        {"model": "m", "method": "pca", "dataset": "abc"},
    )
    p = tmp_path / "v.safetensors"
    v.save(p)
    w = SteeringVector.load(p)
    assert w.layers == (1, 4)
    assert w.metadata["method"] == "pca" and w.metadata["dataset"] == "abc"
    assert w.metadata["layers"] == [1, 4]
    for k in v.layers:
        assert torch.equal(v.directions[k], w.directions[k])


def test_load_bad_file(tmp_path):
    p = tmp_path / "x.safetensors"
    p.write_text("not safetensors")
    with pytest.raises(UserError):
        SteeringVector.load(p)


def test_gguf_round_trip_and_format(tmp_path):
    v = vec({1: [1.0, -2.0, 3.0], 5: [0.5, 0.25, 0.0]}, {"model_type": "llama", "method": "mean"})
    p = tmp_path / "v.gguf"
    export_gguf(v, p)
    r = gguf.GGUFReader(str(p))
    f = r.fields["general.architecture"]
    assert bytes(f.parts[f.data[0]]).decode() == "controlvector"
    f = r.fields["controlvector.model_hint"]
    assert bytes(f.parts[f.data[0]]).decode() == "llama"
    f = r.fields["controlvector.layer_count"]
    assert int(f.parts[f.data[0]][0]) == 2
    names = {t.name: t for t in r.tensors}
    assert set(names) == {"direction.1", "direction.5"}
    t = names["direction.1"]
    assert t.tensor_type == gguf.GGMLQuantizationType.F32
    assert len(t.shape) == 1 and int(t.shape[0]) == 3
    np.testing.assert_array_equal(np.array(t.data), [1.0, -2.0, 3.0])
    w = import_gguf(p)
    assert w.layers == (1, 5)
    assert torch.equal(w.directions[5], v.directions[5])


def test_gguf_export_leaves_out_layer_zero(tmp_path):
    # Block 0's output has no llama.cpp slot: the rest is written, layer 0 is reported.
    assert export_gguf(vec({0: [1.0], 1: [2.0]}), tmp_path / "v.gguf") == (0,)
    assert import_gguf(tmp_path / "v.gguf").layers == (1,)
    with pytest.raises(UserError, match="layer 0"):
        export_gguf(vec({0: [1.0]}), tmp_path / "w.gguf")


def test_import_rejects_non_controlvector(tmp_path):
    p = tmp_path / "m.gguf"
    w = gguf.GGUFWriter(str(p), "llama")
    w.add_tensor("token_embd.weight", np.zeros(4, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(UserError, match="controlvector"):
        import_gguf(p)


def test_extract_on_model_points_from_negative_to_positive():
    tok = char_tokenizer()
    model = tiny_model("llama", layers=3)
    pairs = [Pair(f"yes yes {i}", f"no no {i}", prompt=f"q{i}") for i in range(6)]
    v = extract_from_pairs(model, tok, pairs, method="mean", layers=[1, 2])
    assert v.layers == (1, 2)
    assert v.metadata["method"] == "mean" and len(v.metadata["dataset"]) == 16
    # Projecting the positives' activations on the vector beats the negatives'.
    from neutrophil.internals.capture import capture
    from neutrophil.internals.render import chat_prompt

    prompts = [chat_prompt(tok, p.prompt) for p in pairs]
    pos = capture(model, tok, prompts, [p.positive for p in pairs], layers=[1]).layer(1)
    neg = capture(model, tok, prompts, [p.negative for p in pairs], layers=[1]).layer(1)
    u = v.directions[1]
    assert float((pos @ u).mean()) > float((neg @ u).mean())
    # two unpaired prompt sets work too
    w = extract(model, tok, ["good", "great", "fine"], ["bad", "awful"], method="probe", layers=[2])
    assert w.directions[2].shape == (32,)


# The llama.cpp round trip (export, load, steer) runs in tests/test_llamacpp.py.
