"""`neutrophil lab --quick` and `neutrophil finetune` through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


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
    done = cli("lab", "--quick", "--threads", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    html = (out / "report.html").read_text()
    assert "<img" in html and "base64" in html and "Rates at each stage" in html
    stages = json.loads((out / "stages.json").read_text())
    assert [s["name"] for s in stages] == ["1-base", "2-aligned", "3-agentic", "4-ping"]
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
    assert stages[3]["defense"]["prefix"]
    table = (out / "stages.md").read_text()
    assert table.count("\n") == 2 + len(stages) and "| RR |" in table
    assert "| 3-agentic |" in done.stdout
    # The agentic stage trained on top of the aligned model, which trained on the base.
    aligned = json.loads((out / "models" / "aligned" / "training.json").read_text())
    agentic = json.loads((out / "models" / "agentic" / "training.json").read_text())
    assert aligned["base"] == "tiny" and agentic["base"] == str(
        (out / "models" / "aligned").resolve()
    )

    again = cli("lab", "--quick", "--threads", "1", "--out", str(out))
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stderr.count("skipped") == 4
    assert "measuring" not in again.stderr


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
    done = cli(
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


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "builtin:nope"], "unknown training set"),
        (["--data", "missing.jsonl"], "no such training file"),
        (["--data", "builtin:alignment", "--lora-r", "0"], "lora_r must be >= 1"),
    ],
)
def test_finetune_user_errors_exit_2(tmp_path, args, message):
    done = cli("finetune", "--model", "tiny", "--out", str(tmp_path / "x"), *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
