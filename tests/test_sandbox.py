"""The sandbox runs real subprocesses here: limits, isolation and reporting are observed, not mocked."""

from __future__ import annotations

import os
import resource
import socket
import threading
import time
from pathlib import Path

import pytest

from neutrophil.envs.code.sandbox import (
    OUTPUT_LIMIT,
    TestResult,
    isolation,
    network_isolation,
    run_many,
    run_tests,
)

NET_MODES = ["auto", "socket-block"] + (["unshare"] if isolation() else [])


def test_passing_and_failing_asserts() -> None:
    ok = run_tests("def add(a, b):\n    return a + b\n", "assert add(1, 2) == 3\n")
    assert ok == TestResult(passed=True, timed_out=False, error=None, output="")
    bad = run_tests(
        "def add(a, b):\n    return a - b\n", "assert add(1, 1) == 0\nassert add(1, 2) == 3\n"
    )
    assert not bad.passed and not bad.timed_out
    assert bad.error == "AssertionError at tests line 2: assert add(1, 2) == 3"
    assert "Traceback" in bad.output


def test_error_lines_name_the_part_and_line() -> None:
    r = run_tests("def f(x):\n    return 1 / x\n", "f(0)\n")
    assert r.error == "ZeroDivisionError at solution line 2: division by zero"
    r = run_tests("def f(:\n", "pass\n")
    assert r.error is not None and r.error.startswith("SyntaxError at solution line 1")
    r = run_tests("x = 1\n", "assert x ==\n")
    assert r.error is not None and r.error.startswith("SyntaxError at tests line 1")
    assert "\n" not in r.error


def test_tests_are_compiled_apart_from_the_code() -> None:
    # An unterminated string in the solution must not swallow (and so skip) the tests.
    r = run_tests('s = """never closed\n', "assert False\n")
    assert not r.passed and r.error is not None and r.error.startswith("SyntaxError at solution")


def test_main_block_and_input_do_not_hang() -> None:
    code = "def f():\n    return 1\n\nif __name__ == '__main__':\n    input('value? ')\n"
    assert run_tests(code, "assert f() == 1\n").passed
    r = run_tests("x = input()\n", "pass\n", timeout_s=5)
    assert not r.timed_out and r.error is not None and r.error.startswith("EOFError")


def test_infinite_loop_is_killed() -> None:
    r = run_tests("while True:\n    pass\n", "pass\n", timeout_s=1)
    assert r.timed_out and not r.passed
    assert r.error == "Timeout after 1s"


def test_huge_allocation_fails_under_the_memory_limit() -> None:
    r = run_tests("blob = bytearray(4 * 1024 ** 3)\n", "pass\n", memory_mb=256)
    assert not r.passed and not r.timed_out
    assert r.error is not None and r.error.startswith("MemoryError")


def test_limits_are_set_inside_the_child() -> None:
    tests = (
        "import resource\n"
        "assert resource.getrlimit(resource.RLIMIT_AS)[0] == 300 * 1024 * 1024\n"
        "assert resource.getrlimit(resource.RLIMIT_CORE)[0] == 0\n"
        "assert 0 < resource.getrlimit(resource.RLIMIT_CPU)[0] <= 4\n"
    )
    assert run_tests("", tests, timeout_s=3, memory_mb=300).passed
    assert resource.getrlimit(resource.RLIMIT_AS)[0] != 300 * 1024 * 1024  # parent untouched


def test_big_file_write_is_refused() -> None:
    code = "with open('big.bin', 'wb') as f:\n    f.write(b'x' * (40 * 1024 * 1024))\n"
    r = run_tests(code, "pass\n", memory_mb=512)
    assert not r.passed
    assert r.error is not None and "File too large" in r.error


def test_relative_writes_stay_in_a_temp_dir_that_is_removed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = "import os\nopen('left.txt', 'w').write('x')\nprint('CWD=' + os.getcwd())\n"
    r = run_tests(code, "assert open('left.txt').read() == 'x'\n")
    assert r.passed, r.error
    child_cwd = Path(r.output.split("CWD=")[1].split()[0])
    assert child_cwd != tmp_path and not child_cwd.exists()
    assert not (tmp_path / "left.txt").exists()


def test_environment_is_minimal(monkeypatch) -> None:
    monkeypatch.setenv("NEUTROPHIL_TEST_SECRET", "hunter2")
    tests = (
        "import os\n"
        "assert 'NEUTROPHIL_TEST_SECRET' not in os.environ\n"
        "assert set(os.environ) <= {'PATH', 'LANG', 'HOME', 'TMPDIR', 'LC_CTYPE'}, sorted(os.environ)\n"
    )
    assert run_tests("", tests).passed


def test_early_exit_is_not_a_pass() -> None:
    r = run_tests("import os\nos._exit(0)\n", "assert False\n")
    assert not r.passed and r.error == "exited with code 0 before the tests finished"
    r = run_tests("import sys\nsys.exit(0)\n", "pass\n")
    assert not r.passed and r.error is not None and r.error.startswith("SystemExit")
    # A forged report on stdout is just output.
    forged = 'print(\'{"nonce": "x", "passed": true, "error": null}\')\n'
    assert not run_tests(forged, "assert False\n").passed


def test_output_is_truncated() -> None:
    r = run_tests("print('y' * 100_000)\n", "pass\n")
    assert r.passed
    assert len(r.output) <= OUTPUT_LIMIT + 40 and r.output.endswith("[... output truncated]")


def _count_connections(server: socket.socket, accepted: list[int], stop: threading.Event) -> None:
    server.settimeout(0.1)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        accepted.append(1)
        conn.close()


@pytest.mark.parametrize("net", NET_MODES)
def test_network_is_blocked(net: str) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[int] = []
    stop = threading.Event()
    thread = threading.Thread(target=_count_connections, args=(server, accepted, stop))
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # control: the server is reachable from here
        tests = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
            "except OSError as e:\n"
            "    print('blocked:', e)\n"
            "else:\n"
            "    raise AssertionError('connected from inside the sandbox')\n"
        )
        r = run_tests("", tests, net=net)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert r.passed, (r.error, r.output)
    assert "blocked:" in r.output
    assert len(accepted) == 1  # only the control connection got through


def test_network_isolation_is_described() -> None:
    text = network_isolation()
    assert text.startswith("unshare") == bool(isolation())
    with pytest.raises(ValueError):
        run_tests("", "", net="bogus")


def test_background_children_are_killed_with_the_group(tmp_path: Path) -> None:
    # socket-block mode has no pid namespace, so the pid is the host's and can be checked.
    code = (
        "import subprocess\n"
        "p = subprocess.Popen(['sleep', '120'])\n"
        f"open({str(tmp_path / 'pid')!r}, 'w').write(str(p.pid))\n"
    )
    assert run_tests(code, "pass\n", net="socket-block").passed
    pid = int((tmp_path / "pid").read_text())
    # SIGKILL lands asynchronously: allow the kernel a moment (bounded) to finish the kill.
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """Running or sleeping; a zombie (killed, not yet reaped by init) counts as dead."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_run_many_keeps_input_order() -> None:
    pairs = [(f"x = {i}\n", "assert x % 2 == 0\n") for i in range(6)]
    results = run_many(pairs, workers=2)
    assert [r.passed for r in results] == [True, False, True, False, True, False]
    assert run_many([], workers=2) == []
    with pytest.raises(ValueError):
        run_many(pairs, workers=0)


def test_sandbox_does_not_leak_into_the_parent() -> None:
    before = set(os.environ)
    run_tests("import os\nos.environ['LEAK'] = '1'\n", "pass\n")
    assert set(os.environ) == before
