"""Run untrusted (model-written) Python against unit tests in a fresh, limited subprocess.

Each run gets:
- a new interpreter, `sys.executable -I` (isolated: no user site, no PYTHON* variables), fed
  the code and tests on stdin, working directory a fresh temporary folder (removed after);
- rlimits set in the child before any user code: CPU seconds, address space (`memory_mb`),
  file size, no core files, and a process cap for non-root users;
- a wall-clock timeout that kills the whole process group (`start_new_session`);
- a minimal environment (PATH, LANG, HOME/TMPDIR pointing into the temp folder);
- no network. Preferred: `unshare --net --pid --fork --kill-child` (util-linux), so the child
  sits in an empty network namespace (only a downed loopback: every connect fails, even
  to 127.0.0.1) and a pid namespace whose processes all die with it. As non-root this is
  tried again with `--map-root-user` (unprivileged user namespaces). When neither works,
  the fallback replaces `socket.socket` and friends in the child with versions that raise
  PermissionError: this stops ordinary Python networking, but not a determined program
  (ctypes, a spawned `curl`), so `isolation()` says which path a machine takes.

What this does not do: hide the file system. Relative writes land in the temp folder and
vanish; absolute paths are as writable as for the calling user, bounded by RLIMIT_FSIZE.
Harmful tasks' code never reaches this module through the graders (see `grade.py`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HARNESS = Path(__file__).with_name("_harness.py")
OUTPUT_LIMIT = 4000  # characters of stdout+stderr kept in a TestResult
FSIZE_MB = 16
_UNSHARE_CANDIDATES: tuple[tuple[str, ...], ...] = (
    ("unshare", "--net", "--pid", "--fork", "--kill-child"),
    ("unshare", "--map-root-user", "--net", "--pid", "--fork", "--kill-child"),
    ("unshare", "--net"),
    ("unshare", "--map-root-user", "--net"),
)
# The probe passes only when the child sees no interface but loopback.
_PROBE = "import socket,sys; sys.exit(any(n != 'lo' for _, n in socket.if_nameindex()))"
NET_MODES = ("auto", "unshare", "socket-block")


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class, despite the name

    passed: bool
    timed_out: bool
    error: str | None  # one line, e.g. "AssertionError at tests line 3: assert f(1) == 2"
    output: str  # stdout + stderr of the run, truncated to OUTPUT_LIMIT characters


@cache  # a fact about this machine; probing costs a subprocess, so ask once per process
def isolation() -> tuple[str, ...]:
    """The `unshare` prefix that gives an empty network namespace here, or () for none."""
    for prefix in _UNSHARE_CANDIDATES:
        try:
            done = subprocess.run(
                [*prefix, sys.executable, "-I", "-c", _PROBE],
                capture_output=True,
                timeout=10,
                env={"PATH": "/usr/bin:/bin"},
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return prefix
    return ()


def network_isolation() -> str:
    """Human-readable: which no-network path `run_tests` takes on this machine."""
    prefix = isolation()
    return " ".join(prefix) if prefix else "socket-block (fallback: no usable unshare)"


def _prefix_for(net: str) -> tuple[str, ...]:
    if net not in NET_MODES:
        raise ValueError(f"net must be one of {', '.join(NET_MODES)}, got {net!r}")
    if net == "socket-block":
        return ()
    prefix = isolation()
    if net == "unshare" and not prefix:
        raise RuntimeError("unshare cannot create a network namespace on this machine")
    return prefix


def run_tests(
    code: str,
    tests: str,
    *,
    timeout_s: float = 10,
    memory_mb: int = 512,
    net: str = "auto",
) -> TestResult:
    """Run `code` then `tests` (asserts) in one namespace in a sandboxed subprocess.

    `net`: "auto" (namespace when possible, else socket blocking), "unshare" (namespace
    or RuntimeError), "socket-block" (always the fallback; for testing it).
    """
    prefix = _prefix_for(net)
    nonce = secrets.token_hex(16)
    cpu_s = max(1, int(timeout_s) + 1)
    with tempfile.TemporaryDirectory(prefix="neutrophil-sandbox-") as tmp:
        work = Path(tmp, "work")
        work.mkdir()
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(work), "TMPDIR": str(work)}
        read_fd, write_fd = os.pipe()
        argv = [
            *prefix,
            sys.executable,
            "-I",
            str(HARNESS),
            str(write_fd),
            str(cpu_s),
            str(memory_mb),
            str(FSIZE_MB),
            "0" if prefix else "1",
        ]
        job = json.dumps({"nonce": nonce, "code": code, "tests": tests}).encode()
        with open(Path(tmp, "output.txt"), "w+b") as out:
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=work,
                    env=env,
                    pass_fds=(write_fd,),
                    start_new_session=True,  # its own process group, killed as one
                )
            except BaseException:
                os.close(read_fd)
                raise
            finally:
                os.close(write_fd)
            timed_out = False
            try:
                try:
                    proc.stdin.write(job)  # type: ignore[union-attr]
                    proc.stdin.close()  # type: ignore[union-attr]
                except BrokenPipeError:
                    pass  # died at start-up; the exit status tells
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc.pid)  # also ends anything the code left running
                proc.wait()
            report = _read_available(read_fd)
            out.seek(0)
            output = out.read(OUTPUT_LIMIT * 4).decode("utf-8", "replace")
    return _result(proc.returncode, timed_out, timeout_s, report, nonce, output)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _read_available(fd: int) -> bytes:
    """Whatever the harness wrote, without blocking on a writer that escaped the group."""
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
    return b"".join(chunks)


def _result(
    returncode: int, timed_out: bool, timeout_s: float, report: bytes, nonce: str, output: str
) -> TestResult:
    if len(output) > OUTPUT_LIMIT:
        output = output[:OUTPUT_LIMIT] + "\n[... output truncated]"
    if timed_out:
        return TestResult(False, True, f"Timeout after {timeout_s:g}s", output)
    try:
        data = json.loads(report)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("nonce") == nonce:
        return TestResult(bool(data["passed"]), False, data.get("error"), output)
    # No valid report: the run ended before the tests did.
    signum = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if signum == signal.SIGXCPU:
        return TestResult(False, True, "CPU time limit exceeded", output)
    if signum > 0:
        return TestResult(False, False, f"killed by {signal.Signals(signum).name}", output)
    return TestResult(
        False, False, f"exited with code {returncode} before the tests finished", output
    )


def run_many(
    pairs: Iterable[tuple[str, str]],
    workers: int = 2,
    *,
    timeout_s: float = 10,
    memory_mb: int = 512,
    net: str = "auto",
) -> list[TestResult]:
    """`run_tests` on each (code, tests) pair, `workers` at a time; results in input order."""
    items: Sequence[tuple[str, str]] = list(pairs)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    _prefix_for(net)  # probe once here, not racing in every thread

    def one(pair: tuple[str, str]) -> TestResult:
        return run_tests(pair[0], pair[1], timeout_s=timeout_s, memory_mb=memory_mb, net=net)

    if workers == 1 or len(items) <= 1:
        return [one(p) for p in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, items))
