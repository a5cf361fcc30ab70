"""One reader for prefix files: what `eval` measures is what `serve` injects, byte for byte."""

from __future__ import annotations

import pytest

from neutrophil.defenses.registry import (
    build_defense,
    guard_defense,
    read_prefix_file,
    read_text_arg,
)
from neutrophil.errors import UserError

# File contents with whitespace at the edges, where the two readers once disagreed.
CONTENTS = [
    "Let me think. \n",
    "Let me think.",
    "Two newlines.\n\n",
    "\nA leading newline.\n",
    "  Indented,\tand a tab. ",
    "Line one.\nLine two.\n",
]


def test_read_prefix_file_drops_one_trailing_newline(tmp_path):
    path = tmp_path / "p.txt"
    path.write_bytes(b"Let me think. \n")
    assert read_prefix_file(path) == "Let me think. "


@pytest.mark.parametrize("content", CONTENTS)
def test_evaluated_and_served_prefix_are_byte_identical(tmp_path, content):
    path = tmp_path / "best_prefix.txt"
    path.write_bytes(content.encode())
    # `neutrophil eval --prefix-file` (text defenses never touch the backend)...
    prefix = read_text_arg(None, str(path), "--prefix-file")
    evaluated = build_defense(None, backend=None, prefix=prefix)
    # ...and `neutrophil serve --prefix-file`.
    served = guard_defense(prefix=read_prefix_file(path))
    assert evaluated.prefix is not None and served is not None
    assert evaluated.prefix.encode() == served.prefix.encode()


@pytest.mark.parametrize("best", ["I check first. ", "I check first.", " Odd\nprefix.\n"])
def test_optimize_output_round_trips(tmp_path, best):
    # optimize writes best_prefix.txt as best + "\n"
    path = tmp_path / "best_prefix.txt"
    path.write_bytes((best + "\n").encode())
    assert read_prefix_file(path) == best


@pytest.mark.parametrize("content", [b"", b"\n", b"  \n\n"])
def test_empty_prefix_file_is_an_error(tmp_path, content):
    path = tmp_path / "p.txt"
    path.write_bytes(content)
    with pytest.raises(UserError, match="--prefix-file file is empty"):
        read_prefix_file(path)


def test_not_utf8_names_the_file_and_line(tmp_path):
    path = tmp_path / "p.txt"
    path.write_bytes(b"ok\n\xe9t\xe9\n")
    with pytest.raises(UserError, match=r"p.txt:2: not UTF-8"):
        read_prefix_file(path)
