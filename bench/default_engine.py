"""The default engine against transformers, end to end, as a user runs it.

Each round runs `neutrophil eval` once per engine, as a fresh process (model load
included), on the same held-out sample, interleaved: the embedded model on llama.cpp (by
default its Q4_1 weights requantized to Q8_0; also as shipped, or f32), and on transformers. Reports the wall time of each
process and the generation seconds from its metrics.json (medians over rounds), and the
share of tasks whose verdict is the same on both engines.

    OMP_NUM_THREADS=2 .venv/bin/python bench/default_engine.py --limit 40 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# name -> (label, flags)
ENGINES = {
    "llama": ("llama.cpp, Q4_1 requantized to Q8_0 (default)", ["--engine", "llama"]),
    "llama-file": ("llama.cpp, Q4_1 as shipped", ["--engine", "llama", "--gguf-weights", "file"]),
    "llama-f32": ("llama.cpp, f32", ["--engine", "llama", "--gguf-weights", "f32"]),
    "hf": ("transformers", ["--engine", "hf"]),
}


def verdicts(out: Path) -> dict[str, tuple]:
    rows = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    return {
        r["task_id"]: tuple(r["verdict"][k] for k in ("refused", "success", "harmful_done"))
        for r in rows
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="builtin:chat")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated names")
    args = ap.parse_args()
    names = args.engines.split(",")
    wall: dict[str, list[float]] = {n: [] for n in names}
    gen: dict[str, list[float]] = {n: [] for n in names}
    last: dict[str, dict[str, tuple]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for n in names:
                out = Path(tmp) / f"r{r}-{names.index(n)}"
                argv = [sys.executable, "-m", "neutrophil.cli", "eval", *ENGINES[n][1]]
                argv += ["--tasks", args.tasks, "--split", args.split, "--limit", str(args.limit)]
                argv += ["--threads", str(args.threads), "--out", str(out)]
                start = time.perf_counter()
                subprocess.run(argv, check=True, capture_output=True)
                wall[n].append(time.perf_counter() - start)
                metrics = json.loads((out / "metrics.json").read_text())
                gen[n].append(metrics["cost"]["seconds"])
                last[n] = verdicts(out)
                print(f"round {r + 1} {n}: {wall[n][-1]:.1f} s wall", file=sys.stderr)
    reference = last[names[-1]]
    print(
        f"{args.tasks} {args.split}, {args.limit} tasks, {args.threads} threads, "
        f"{args.rounds} rounds (medians)"
    )
    print("| engine | wall s (load included) | generation s | vs last row | same verdicts |")
    print("|---|---|---|---|---|")
    base = statistics.median(wall[names[-1]])
    for n in names:
        w, g = statistics.median(wall[n]), statistics.median(gen[n])
        same = sum(last[n][t] == reference[t] for t in reference)
        print(
            f"| {ENGINES[n][0]} | {w:.1f} | {g:.1f} | {base / w:.2f}x | {same}/{len(reference)} |"
        )


if __name__ == "__main__":
    main()
