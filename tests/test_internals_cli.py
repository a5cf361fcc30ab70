"""`neutrophil probe / vector / steer` end to end on the tiny in-memory model."""

import json

import gguf
import pytest
import torch

from neutrophil.cli import main
from neutrophil.internals.pairs import concept_names, concept_pairs, load_pairs
from neutrophil.internals.vector import SteeringVector

torch.set_num_threads(1)


def test_builtin_concepts_have_enough_pairs():
    assert set(concept_names()) >= {"refusal", "joy", "anger", "fear", "calm", "formality"}
    for name in concept_names():
        pairs = concept_pairs(name)
        assert len(pairs) >= 30
        assert all(p.positive != p.negative for p in pairs)


def test_pairs_file_errors_name_the_line(tmp_path):
    p = tmp_path / "pairs.jsonl"
    p.write_text('{"positive": "a", "negative": "b"}\n{"positive": "a"}\n')
    with pytest.raises(Exception, match=r"pairs.jsonl:2: field 'negative'"):
        load_pairs(p)


def test_vector_extract_export_import(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEUTROPHIL_CACHE", str(tmp_path / "cache"))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps({"prompt": f"q{i}", "positive": f"yes {i}", "negative": f"no {i}"}) + "\n"
            for i in range(4)
        )
    )
    v = tmp_path / "v.safetensors"
    assert (
        main(
            [
                "vector",
                "extract",
                "--pairs",
                str(pairs),
                "--model",
                "tiny",
                "--method",
                "pca",
                "--out",
                str(v),
            ]
        )
        == 0
    )
    vec = SteeringVector.load(v)
    assert vec.metadata["method"] == "pca" and vec.layers[0] == 0
    # extract's defaults export: layer 0 has no llama.cpp slot, so it is left out, and said
    capsys.readouterr()
    assert main(["vector", "export-gguf", str(v), "--out", str(tmp_path / "v.gguf")]) == 0
    assert "left out layer 0" in capsys.readouterr().err
    from neutrophil.internals.gguf_io import import_gguf

    assert import_gguf(tmp_path / "v.gguf").layers == vec.layers[1:]
    v1 = tmp_path / "v1.safetensors"
    assert (
        main(
            [
                "vector",
                "extract",
                "--concept",
                "joy",
                "--model",
                "tiny",
                "--layers",
                "1",
                "--out",
                str(v1),
            ]
        )
        == 0
    )
    assert main(["vector", "export-gguf", str(v1), "--out", str(tmp_path / "v1.gguf")]) == 0
    assert [t.name for t in gguf.GGUFReader(str(tmp_path / "v1.gguf")).tensors] == ["direction.1"]
    back = tmp_path / "back.safetensors"
    assert main(["vector", "import-gguf", str(tmp_path / "v1.gguf"), "--out", str(back)]) == 0
    assert torch.equal(
        SteeringVector.load(back).directions[1], SteeringVector.load(v1).directions[1]
    )
    assert main(["vector", "import-gguf", str(pairs), "--out", str(back)]) == 2


def test_steer_prints_both_answers(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEUTROPHIL_CACHE", str(tmp_path / "cache"))
    rc = main(["steer", "--model", "tiny", "--vector", "joy=50", "--max-new-tokens", "6", "hello"])
    out = capsys.readouterr().out
    assert rc == 0 and "--- unsteered" in out and "--- steered (joy=50)" in out
    assert main(["steer", "--model", "tiny", "--vector", "joy", "hi"]) == 2
    argv = ["steer", "--model", "tiny", "--vector", "joy=ablate", "--vector", "anger=clamp:3"]
    assert main([*argv, "--max-new-tokens", "6", "hello"]) == 0
    assert "--- steered (joy=ablate, anger=clamp:3)" in capsys.readouterr().out
    assert main(["steer", "--model", "tiny", "--vector", "joy=clamp", "hi"]) == 2
    assert "--vector joy=clamp: expected a finite number" in capsys.readouterr().err


def test_probe_writes_json_and_report(tmp_path, capsys):
    tasks = tmp_path / "t.jsonl"
    rows = []
    for split in ("train", "test"):
        for i in range(6):
            rows.append(
                {
                    "id": f"h-{split}-{i}",
                    "kind": "harmful",
                    "domain": "chat",
                    "prompt": "x" * (5 + i),
                    "split": split,
                }
            )
            rows.append(
                {
                    "id": f"b-{split}-{i}",
                    "kind": "benign",
                    "domain": "chat",
                    "prompt": "a" * (5 + i),
                    "split": split,
                }
            )
    tasks.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    assert (
        main(
            [
                "probe",
                "--model",
                "tiny",
                "--tasks",
                str(tasks),
                "--prefix",
                "ok. ",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    res = json.loads((out / "probe.json").read_text())
    assert {r["layer"] for r in res["layers"]} == {0, 1}
    assert res["layers"][0]["auroc"] > 0.9  # one letter vs another: trivially separable
    assert set(res["placement"]["harmful"]) == {"none", "prefix", "suffix"}
    seg = res["scan"][0]["segment"]
    assert seg[0] == "prompt" and seg[-1] == "prefix" and "header" in seg
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3


def test_vector_extract_calibrated(tmp_path, monkeypatch):
    from neutrophil.internals.strength import UNIT, default_layers

    monkeypatch.setenv("NEUTROPHIL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "cal.safetensors"
    args = ["vector", "extract", "--concept", "joy", "--model", "tiny", "--calibrate"]
    assert main([*args, "--out", str(out)]) == 0
    vec = SteeringVector.load(out)
    from neutrophil.internals.layers import num_layers
    from neutrophil.models import load_backend

    n = num_layers(load_backend("tiny").model)
    assert vec.layers == default_layers(n)
    assert "calibrated" in vec.metadata["units"]
    # every layer carries the same fraction of the residual norm; lengths are tiny
    # compared with a raw mean difference only if calibration really ran
    total = sum(float(d.norm()) for d in vec.directions.values())
    assert 0 < total < 10 * UNIT * 1000
