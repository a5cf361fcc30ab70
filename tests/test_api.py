"""The public API (`import neutrophil as nt`): the README's example runs as written, and the
functions are the commands' workflows (same files, same resume)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HAS_EMBEDDED, HAS_LLAMA_CPP

README = Path(__file__).parent.parent / "README.md"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## From Python: `import neutrophil as nt`", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_import_is_light_and_lists_the_api():
    # `import neutrophil` loads none of the engines: the command line and the guard proxy
    # start fast; the names load on first use.
    code = (
        "import sys, neutrophil as nt; print(sorted(nt.__all__)); "
        "print('torch' in sys.modules, 'fastapi' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names, heavy = out.stdout.splitlines()
    assert names == str(
        ["Channel", "Equalizer", "Setting", "evaluate", "load_model", "search_prefix", "serve_app"]
    )
    assert heavy == "False False"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        import neutrophil

        neutrophil.nope  # noqa: B018


def test_evaluate_is_the_eval_command(tmp_path, tiny_backend):
    """Same files as `neutrophil eval --out`, and a rerun reads them back (nothing regenerated)."""
    import neutrophil as nt

    out = tmp_path / "run"
    first = nt.evaluate(tiny_backend, "builtin:chat", limit=4, out=out, progress=False)
    assert {p.name for p in out.iterdir()} >= {"responses.jsonl", "metrics.json", "report.html"}
    assert json.loads((out / "metrics.json").read_text())["rates"] == first.metrics["rates"]
    assert str(first.rates["refusal_rate"]).endswith("(n=2)")
    rows = (out / "responses.jsonl").read_text()
    again = nt.evaluate(tiny_backend, "builtin:chat", limit=4, out=out, progress=False)
    assert (out / "responses.jsonl").read_text() == rows
    assert [t.response for t in again.transcripts] == [t.response for t in first.transcripts]


def test_evaluate_refuses_bad_options_before_loading(tmp_path):
    import neutrophil as nt
    from neutrophil.errors import UserError

    with pytest.raises(UserError, match="--defense-opt strength must be a finite number"):
        nt.evaluate("no-such-model", "builtin:chat", defense="steer", strength="nan")


def test_serve_app_guards_every_answer(tiny_backend):
    import neutrophil as nt
    from neutrophil.serve.runner import BackgroundServer

    app = nt.serve_app(tiny_backend, prefix="Careful:")
    with BackgroundServer(app) as url:
        model = nt.load_model(f"openai:{url}#tiny-llama")
        reply = model.generate([_ask("hello", 3)])[0]
    assert reply.text.startswith("Careful:")


def _ask(prompt: str, tokens: int):
    from neutrophil.models.base import Request, user_message

    return Request(user_message(prompt), max_new_tokens=tokens)


@pytest.mark.integration
@pytest.mark.skipif(not (HAS_EMBEDDED and HAS_LLAMA_CPP), reason="needs the embedded model")
def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), str(README), "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    assert re.search(r"RR undefended: \d+\.\d% \[", printed)
    assert re.search(r"RR with PING: \d+\.\d% .*\| SR: \d+\.\d%", printed)
    best = (tmp_path / "runs/py/ping/best_prefix.txt").read_text().strip()
    cured = json.loads((tmp_path / "runs/py/cured/metrics.json").read_text())
    assert cured["defense"]["prefix"] == best
