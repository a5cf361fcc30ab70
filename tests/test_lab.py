"""`neutrophil lab --quick` and `neutrophil finetune` through the command line: the first lab
run in a real subprocess (a bare environment), the rest through the same `main` in this
process (`run_cli`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import run_cli


def cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "neutrophil.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={
            "OMP_NUM_THREADS": "1",
            "PATH": "/usr/bin:/bin",
            "HF_HUB_OFFLINE": "1",
            "HOME": "/tmp",
        },
    )


def test_lab_quick_end_to_end_and_rerun_skips(tmp_path):
    out = tmp_path / "lab"
    base_prefix = tmp_path / "base.txt"
    base_prefix.write_text("I check each request for harm before I answer it.\n")
    args = (
        "lab", "--quick", "--seeds", "2", "--transfer", "--base-prefix-file", str(base_prefix),
        "--safety-mix", "0.25", "--threads", "1", "--out", str(out),
    )  # fmt: skip
    done = cli(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    # The model flags are the shared ones: --quick's model, run as --threads said.
    model = json.loads((out / "lab_config.json").read_text())["model"]
    assert (model["spec"], model["threads"], model["engine"]) == ("tiny", 1, "auto")
    html = (out / "report.html").read_text()
    assert "<img" in html and "base64" in html and "Rates at each stage" in html
    assert "Paired differences" in html
    stages = json.loads((out / "stages.json").read_text())
    assert [s["name"] for s in stages] == [
        "1-base",
        "2-aligned",
        "3-agentic",
        "3-agentic-s1",
        "4-ping",
        "5-mix",
        "6-base-ping",
        "7-base-agentic-prefix",
        "8-agentic-base-prefix",
    ]
    for s in stages:
        for key in ("refusal_rate", "attack_success_rate", "success_rate", "over_refusal_rate"):
            assert s["rates"][key]["n"] > 0
    # Every stage measured the same held-out tasks.
    ids = [
        [
            json.loads(line)["task_id"]
            for line in (out / "stages" / s["name"] / "responses.jsonl").read_text().splitlines()
        ]
        for s in stages
    ]
    assert all(i == ids[0] for i in ids) and ids[0]
    by = {s["name"]: s for s in stages}
    assert by["4-ping"]["defense"]["prefix"]
    assert (
        by["6-base-ping"]["defense"]["prefix"]
        == "I check each request for harm before I answer it."
    )
    # The transfer stages swap the two searched prefixes between the models.
    assert by["7-base-agentic-prefix"]["defense"] == by["4-ping"]["defense"]
    assert by["8-agentic-base-prefix"]["defense"] == by["6-base-ping"]["defense"]
    assert by["7-base-agentic-prefix"]["model"] == by["1-base"]["model"]
    assert by["8-agentic-base-prefix"]["model"] == by["3-agentic"]["model"]
    # The second seed is another fine-tune of the same aligned model.
    seed1 = json.loads((out / "models" / "agentic-s1" / "training.json").read_text())
    assert seed1["config"]["seed"] == 1 and seed1["base"] == str(
        (out / "models" / "aligned").resolve()
    )
    # Paired comparisons: consecutive stages, the transfers, the extra seed against aligned.
    comparisons = json.loads((out / "comparisons.json").read_text())
    pairs = [(c["a"], c["b"]) for c in comparisons]
    for pair in [
        ("2-aligned", "1-base"),
        ("3-agentic", "2-aligned"),
        ("4-ping", "3-agentic"),
        ("7-base-agentic-prefix", "6-base-ping"),
        ("8-agentic-base-prefix", "4-ping"),
        ("3-agentic-s1", "2-aligned"),
        ("5-mix", "3-agentic"),  # the cure at training time against plain agentic FT
        ("5-mix", "4-ping"),  # ... and against the cure at inference time
    ]:
        assert pair in pairs
    mix = (out / "data" / "agentic-mix-0.25.jsonl").read_text().splitlines()
    refusals = [r for r in map(json.loads, mix) if r.get("kind") == "harmful"]
    assert 0.2 < len(refusals) / len(mix) < 0.3
    # Each comparison covers the stages' whole samples: its two rates are the table's.
    for c in comparisons:
        for key in ("refusal_rate", "success_rate"):
            d = c[key]
            assert d["n"] == by[c["a"]]["rates"][key]["n"] > 0
            assert d["a"]["value"] == by[c["a"]]["rates"][key]["value"]
            assert d["b"]["value"] == by[c["b"]]["rates"][key]["value"]
            assert 0 <= d["mcnemar_p"] <= 1 and d["lo"] <= d["diff"] <= d["hi"]
    table = (out / "stages.md").read_text()
    assert "| RR |" in table and "| 3-agentic | 2-aligned |" in table
    assert "| 3-agentic |" in done.stdout and "| 4-ping | 3-agentic | " in done.stdout
    # The agentic stage trained on top of the aligned model, which trained on the base.
    aligned = json.loads((out / "models" / "aligned" / "training.json").read_text())
    agentic = json.loads((out / "models" / "agentic" / "training.json").read_text())
    assert aligned["base"] == "tiny" and agentic["base"] == str(
        (out / "models" / "aligned").resolve()
    )

    again = run_cli(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stderr.count("skipped") == len(stages)
    assert "measuring" not in again.stderr
    # The rerun read every stage's rows back: the same comparisons.
    assert json.loads((out / "comparisons.json").read_text()) == comparisons
    # Another base prefix does not silently reuse the stage measured with the old one.
    base_prefix.write_text("Another prefix.\n")
    changed = run_cli(*args)
    assert changed.returncode == 2 and "Traceback" not in changed.stderr
    assert "6-base-ping: measured with another defense" in changed.stderr


def test_finetune_cli_writes_a_model_other_commands_load(tmp_path):
    data = tmp_path / "d.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": f"a{i}"},
            ]
        }
        for i in range(4)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "ft"
    done = run_cli(
        "finetune",
        "--model",
        "tiny",
        "--data",
        str(data),
        "--out",
        str(out),
        "--max-steps",
        "2",
        "--batch-size",
        "2",
        "--merge",
        "--threads",
        "1",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained 2 steps" in done.stdout
    from neutrophil.models import load_backend

    backend = load_backend(str(out))
    assert backend.model.config.vocab_size > 0


@pytest.mark.parametrize("flag", [["--transfer"], ["--search-rounds", "2"]])
def test_lab_refuses_search_flags_without_the_search(tmp_path, flag):
    done = run_cli("lab", "--quick", "--no-search", *flag, "--out", str(tmp_path / "lab"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{flag[0]} needs the PING search" in done.stderr
    assert not (tmp_path / "lab").exists()


def test_lab_refuses_a_base_prefix_without_transfer(tmp_path):
    prefix = tmp_path / "p.txt"
    prefix.write_text("Check first.\n")
    done = run_cli(
        "lab", "--quick", "--base-prefix-file", str(prefix), "--out", str(tmp_path / "lab")
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--base-prefix-file is for --transfer" in done.stderr
    assert not (tmp_path / "lab").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "builtin:nope"], "unknown training set"),
        (["--data", "missing.jsonl"], "no such training file"),
        (["--data", "builtin:alignment", "--lora-r", "0"], "lora_r must be >= 1"),
    ],
)
def test_finetune_user_errors_exit_2(tmp_path, args, message):
    done = run_cli("finetune", "--model", "tiny", "--out", str(tmp_path / "x"), *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.2"])
def test_lab_refuses_a_safety_mix_outside_0_1(tmp_path, value):
    r = run_cli("lab", "--quick", "--safety-mix", value, "--out", str(tmp_path / "lab"))
    assert r.returncode == 2 and "--safety-mix must be between 0 and 1" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
