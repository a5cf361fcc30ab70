"""`neutrophil study steering` on the tiny model: arms, pairing, files, resume, bad input."""

from __future__ import annotations

import json

import pytest

from neutrophil.cli import main
from neutrophil.errors import UserError
from neutrophil.internals.equalizer import Setting
from neutrophil.models.options import ModelOptions
from neutrophil.workflows import steering_study
from neutrophil.workflows.steering_study import StudyConfig


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUTROPHIL_CACHE", str(tmp_path / "cache"))


SETTINGS = (
    ("joy", Setting("add", 2.0)),
    ("refusal", Setting("ablate")),
    ("joy", Setting("clamp", 1.0)),
)


def test_every_arm_is_run_paired_and_written(tmp_path):
    out = tmp_path / "out"
    config = StudyConfig(
        model=ModelOptions("tiny", engine="hf"),
        settings=SETTINGS,
        limit=6,
        references=("tiny:qwen2",),
    )
    result = steering_study.run(config, out, log=lambda _m: None)
    arms = ["none", "joy=2", "refusal=ablate", "joy=clamp:1", "model:tiny:qwen2"]
    assert list(result.arms) == arms
    study = json.loads((out / "study.json").read_text())
    assert study == result.study
    assert study["n_harmful"] + study["n_benign"] == 6
    assert [r["arm"] for r in study["paired"]] == arms[1:]
    assert {r["reference"] for r in study["paired"]} == {"none"}
    for arm in arms:
        a = study["arms"][arm]
        assert set(a["rates"]) == set(steering_study.RATES)
        assert a["mean_words"]["benign"] is not None
    # the arm's defense says the mode, so its rows never mix with another mode's
    assert study["arms"]["refusal=ablate"]["defense"]["channels"] == {"refusal": "ablate"}
    assert study["arms"]["joy=clamp:1"]["defense"]["channels"] == {"joy": "clamp:1"}
    assert (out / "rates.png").stat().st_size > 1000
    assert "| refusal=ablate |" in (out / "report.md").read_text()
    # a rerun reads every row back: nothing is generated or appended
    stored = {p: p.read_bytes() for p in (out / "runs").glob("*/responses.jsonl")}
    assert len(stored) == len(arms)
    again = steering_study.run(config, out, log=lambda _m: None)
    assert {p: p.read_bytes() for p in stored} == stored

    def results(s: dict) -> dict:  # the rates, not the seconds (reading back takes time too)
        return {k: {**a, "seconds": None} for k, a in s["arms"].items()}

    assert results(again.study) == results(study)


def test_steering_changes_answers_and_ablate_differs_from_add(tmp_path):
    config = StudyConfig(
        model=ModelOptions("tiny", engine="hf"),
        settings=(("joy", Setting("add", 4.0)), ("joy", Setting("clamp", 4.0))),
        limit=4,
    )
    arms = steering_study.run(config, tmp_path / "out", log=lambda _m: None).arms
    plain = [t.response for t in arms["none"].transcripts]
    assert [t.response for t in arms["joy=4"].transcripts] != plain
    assert [t.response for t in arms["joy=clamp:4"].transcripts] != plain


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--setting", "joy"], "expected CONCEPT=SETTING"),
        (["--setting", "joy=loud"], "joy=loud: expected a finite number"),
        (["--setting", "nope=2"], "not a built-in concept"),
        (["--split", "val,dev"], "--split val,dev"),
        (["--limit", "0"], "--limit must be at least 1"),
    ],
)
def test_bad_input_is_one_line(tmp_path, capsys, argv, says):
    rc = main(["study", "steering", "--model", "tiny", "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err
    assert rc == 2 and says in err and len(err.strip().splitlines()) == 1, err


def test_parse_setting():
    assert steering_study.parse_setting("refusal=clamp:2") == ("refusal", Setting("clamp", 2.0))
    with pytest.raises(UserError):
        steering_study.parse_setting("=2")
