"""Child side of the sandbox: run as a script (`python -I _harness.py ...`), stdlib only.

Protocol with `sandbox.run_tests`:
  argv   RESULT_FD CPU_S MEM_MB FSIZE_MB BLOCK_SOCKET(0|1)
  stdin  one JSON object {"nonce", "code", "tests"}, read in full before anything runs
  fd     RESULT_FD receives one JSON object {"nonce", "passed", "error"} when the tests end

The nonce keeps an early exit in the solution (`os._exit(0)`, a forged print) from being
read as a pass: only this script, having run the tests to the end, writes it back.
It guards against accidents in model-written code, not against a determined adversary.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import traceback
import types

SOLUTION, TESTS = "<solution>", "<tests>"


def _limit(name: str, value: int) -> None:
    res = getattr(resource, name, None)
    if res is None:
        return
    _, hard = resource.getrlimit(res)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    # Not allowed here (e.g. a container caps it lower): the wall clock still applies.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(res, (value, value if name != "RLIMIT_CPU" else value + 1))


def _block_sockets() -> None:
    """Fallback when no network namespace is available: make new sockets unusable."""
    import _socket
    import socket

    class _NoNetwork(_socket.socket):
        def __init__(self, *a: object, **k: object) -> None:
            raise PermissionError("network access is disabled in the sandbox")

    def _refuse(*a: object, **k: object) -> None:
        raise PermissionError("network access is disabled in the sandbox")

    _socket.socket = socket.socket = socket.SocketType = _NoNetwork  # type: ignore[misc]
    socket.create_connection = socket.getaddrinfo = _refuse  # type: ignore[assignment]
    socket.socketpair = socket.fromfd = _refuse  # type: ignore[assignment]


def _one_line(exc: BaseException, sources: dict[str, str]) -> str:
    """`Type at FILE line N: message`, N from the innermost frame in the solution or tests."""
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename in sources:
        where = f" at {exc.filename.strip('<>')} line {exc.lineno}"
        msg = exc.msg
    else:
        msg = str(exc)
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            name = frame.f_code.co_filename
            if name in sources:
                where = f" at {name.strip('<>')} line {lineno}"
                if not msg:
                    lines = sources[name].splitlines()
                    msg = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    text = f"{type(exc).__name__}{where}" + (f": {msg}" if msg else "")
    return " ".join(text.split())[:300]


def main() -> int:
    result_fd, cpu_s, mem_mb, fsize_mb, block = (int(a) for a in sys.argv[1:6])
    job = json.loads(sys.stdin.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the solution must not wait on input()
    sources = {SOLUTION: job["code"], TESTS: job["tests"]}

    _limit("RLIMIT_CPU", cpu_s)
    _limit("RLIMIT_AS", mem_mb << 20)
    _limit("RLIMIT_FSIZE", fsize_mb << 20)
    _limit("RLIMIT_CORE", 0)
    if os.getuid() != 0:  # root ignores RLIMIT_NPROC; the pid namespace contains forks then
        _limit("RLIMIT_NPROC", 512)
    if block:
        _block_sockets()

    # Both parts share one module namespace, as `code + "\n" + tests` would, but compile
    # apart so each error names its part and tests cannot be swallowed by the solution.
    # The module is not __main__, so a demo `if __name__ == "__main__":` block stays quiet.
    module = types.ModuleType("solution")
    sys.modules["solution"] = module
    error = None
    try:
        compiled = [compile(sources[n], n, "exec") for n in (SOLUTION, TESTS)]
        for code in compiled:
            exec(code, module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt fail the run too
        error = _one_line(exc, sources)
        traceback.print_exception(exc)
    sys.stdout.flush()
    sys.stderr.flush()
    out = json.dumps({"nonce": job["nonce"], "passed": error is None, "error": error})
    os.write(result_fd, out.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
