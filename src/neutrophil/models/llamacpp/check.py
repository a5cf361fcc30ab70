"""`python -m neutrophil.models.llamacpp.check`: does the llama.cpp build run on this CPU?

A build for one CPU can die with SIGILL on another (or on a VM that reports an instruction
set it does not allow). `make install` runs this once: the decode runs in a child process,
so a crash becomes a readable message instead of a dead test run.
"""

from __future__ import annotations

import signal
import subprocess
import sys

CHILD = """
from neutrophil.models.llamacpp.native import NativeContext, NativeModel
from neutrophil.models.embedded import embedded_gguf
m = NativeModel.load(embedded_gguf())
c = NativeContext(m, n_seq=2, seq_ctx=128, n_batch=64, threads=1)
toks = m.tokenize("Hello")
c.decode([(t, i, 0, i == len(toks) - 1) for i, t in enumerate(toks)])
print("llama.cpp engine: ok")
"""


def main() -> int:
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True)
    if proc.returncode == 0:
        print(proc.stdout.strip())
        return 0
    if proc.returncode == -signal.SIGILL:
        print(
            "llama.cpp engine: the build uses an instruction this CPU refuses (SIGILL); "
            "rebuild with other LLAMA_CMAKE/LLAMA_CFLAGS, or `make install LLAMA=0`",
            file=sys.stderr,
        )
    else:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"llama.cpp engine: check failed ({proc.returncode}): {tail}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
