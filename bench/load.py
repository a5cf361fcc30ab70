"""Load test for `neutrophil serve`: latency percentiles, errors and server RSS, with an
optional abusive client running alongside.

Starts `neutrophil serve SERVE_ARGS` on a free port (or uses `--url` and `--pid`), warms it
up, then sends `--requests` chat completions from `--concurrency` clients at once and
prints p50/p95/p99 latency, errors, throughput, and the server's RSS before, at peak and
after. With `--abuse`, one more client runs until the others are done, cycling through
what used to stall the server: a 1 MB prompt, a prompt filling the context, `max_tokens`
over the limit, and long generations (`max_tokens` near the context) whose client hangs up
after a moment, streamed and not. Its requests are counted apart; `--abuse` makes the
normal clients' errors and percentiles the measure of isolation.

    .venv/bin/python bench/load.py --requests 1000 --concurrency 64 --serve-args "--model tiny"
    .venv/bin/python bench/load.py --requests 1000 --concurrency 64 --serve-args "--model tiny" --abuse
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

QUESTIONS = [
    "How do I bake bread?",
    "Name three primary colours.",
    "What is the capital of France?",
    "Write a haiku about rain.",
    "How do I sort a list in Python?",
    "Explain what a CPU does.",
    "Give me a tip for running.",
    "What is 17 times 3?",
]


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` (and its children) in MiB, from /proc."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    serve_args: str, threads: int | None, log_path: str = os.devnull
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "neutrophil.cli", "serve", *shlex.split(serve_args)]
    cmd += ["--port", str(port), "--log-level", "warning"]
    if threads:
        cmd += ["--threads", str(threads)]
    log = open(log_path, "w")  # noqa: SIM115 — lives as long as the server
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}: {shlex.join(cmd)}")
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the server did not come up in 300 s")
        time.sleep(0.2)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    tokens: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def one_request(client: httpx.AsyncClient, url: str, i: int, max_tokens: int, tally: Tally):
    body = {
        "messages": [{"role": "user", "content": f"{QUESTIONS[i % len(QUESTIONS)]} ({i})"}],
        "max_tokens": max_tokens,
    }
    t0 = time.perf_counter()
    try:
        resp = await client.post(url + "/v1/chat/completions", json=body)
    except httpx.HTTPError as e:
        tally.error(type(e).__name__)
        return
    if resp.status_code != 200:
        tally.error(f"HTTP {resp.status_code}")
        return
    tally.latencies.append(time.perf_counter() - t0)
    tally.tokens += resp.json()["usage"]["completion_tokens"]


async def normal_load(url: str, n: int, concurrency: int, max_tokens: int) -> Tally:
    tally = Tally()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                await one_request(client, url, queue.get_nowait(), max_tokens, tally)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


KINDS = ("huge prompt", "full context", "over max_tokens", "hang-up", "stream hang-up")


async def abuse(
    url: str, done: asyncio.Event, context: int, kinds: tuple[str, ...] = KINDS
) -> dict[str, int]:
    """One hostile client, one request at a time, until the normal load is done."""
    seen: dict[str, int] = {}

    def note(kind: str, outcome: str) -> None:
        key = f"{kind}: {outcome}"
        seen[key] = seen.get(key, 0) + 1

    huge = {"messages": [{"role": "user", "content": "x" * 1_000_000}], "max_tokens": 8}
    full = {"messages": [{"role": "user", "content": "lorem " * (context // 8)}], "max_tokens": 16}
    over = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100_000}
    long = {"messages": [{"role": "user", "content": "Count to ten thousand."}]}
    long["max_tokens"] = context - 64
    async with httpx.AsyncClient(timeout=600) as client:
        step = 0
        while not done.is_set():
            kind = kinds[step % len(kinds)]
            step += 1
            try:
                if kind == "huge prompt":
                    r = await client.post(url + "/v1/chat/completions", json=huge)
                    note(kind, str(r.status_code))
                elif kind == "full context":
                    r = await client.post(url + "/v1/chat/completions", json=full)
                    note(kind, str(r.status_code))
                elif kind == "over max_tokens":
                    r = await client.post(url + "/v1/chat/completions", json=over)
                    note(kind, str(r.status_code))
                elif kind == "hang-up":  # a 1 s client timeout on a long generation
                    try:
                        await client.post(url + "/v1/chat/completions", json=long, timeout=1.0)
                        note(kind, "finished")
                    except httpx.TimeoutException:
                        note(kind, "hung up")
                else:  # read a few chunks of a long stream, then close it
                    body = {**long, "stream": True}
                    async with client.stream("POST", url + "/v1/chat/completions", json=body) as r:
                        chunks = 0
                        async for _ in r.aiter_lines():
                            chunks += 1
                            if chunks >= 5:
                                break
                    note(kind, "hung up")
            except httpx.HTTPError as e:
                note(kind, type(e).__name__)
    return seen


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def run(args: argparse.Namespace, url: str, pid: int | None) -> dict:
    await normal_load(url, args.warmup, min(args.concurrency, args.warmup), args.max_tokens)
    before = rss_mb(pid) if pid else None
    peak = before or 0.0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(pid)) if pid else peak
            await asyncio.sleep(0.5)

    sampler = asyncio.ensure_future(sample())
    kinds = tuple(KINDS[int(k)] for k in args.abuse_kinds.split(","))
    abuser = asyncio.ensure_future(abuse(url, done, args.context, kinds)) if args.abuse else None
    t0 = time.perf_counter()
    tally = await normal_load(url, args.requests, args.concurrency, args.max_tokens)
    wall = time.perf_counter() - t0
    done.set()
    abused = await abuser if abuser else None
    await sampler
    after = rss_mb(pid) if pid else None
    health = httpx.get(url + "/health", timeout=10).status_code
    lat = tally.latencies
    return {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "max_tokens": args.max_tokens,
        "ok": len(lat),
        "errors": tally.errors,
        "p50_s": round(percentile(lat, 50), 3),
        "p95_s": round(percentile(lat, 95), 3),
        "p99_s": round(percentile(lat, 99), 3),
        "mean_s": round(statistics.fmean(lat), 3) if lat else None,
        "wall_s": round(wall, 1),
        "req_per_s": round(len(lat) / wall, 1),
        "tokens_per_s": round(tally.tokens / wall, 1),
        "rss_mb_before": round(before, 1) if before else None,
        "rss_mb_peak": round(peak, 1) if pid else None,
        "rss_mb_after": round(after, 1) if after else None,
        "health_after": health,
        "abuse": abused,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve-args", default="--model tiny", help="arguments of neutrophil serve")
    ap.add_argument("--url", help="an already running server (then --pid for its RSS)")
    ap.add_argument("--pid", type=int, help="the server's process id (with --url)")
    ap.add_argument("--threads", type=int, help="--threads for the spawned server")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=32)
    ap.add_argument("--abuse", action="store_true", help="run one abusive client alongside")
    ap.add_argument(
        "--abuse-kinds",
        default="0,1,2,3,4",
        help="which abuses, by number: " + ", ".join(f"{i} {k}" for i, k in enumerate(KINDS)),
    )
    ap.add_argument("--context", type=int, default=2048, help="the model's context (abuse sizes)")
    ap.add_argument("--out", help="also write the summary as JSON here")
    ap.add_argument("--server-log", default=os.devnull, help="the spawned server's output")
    args = ap.parse_args()
    proc = None
    if args.url:
        url, pid = args.url.rstrip("/").removesuffix("/v1"), args.pid
    else:
        proc, url = start_server(args.serve_args, args.threads, args.server_log)
        pid = proc.pid
    try:
        summary = asyncio.run(run(args, url, pid))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(60)
    summary["server"] = args.url or f"neutrophil serve {args.serve_args}"
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
