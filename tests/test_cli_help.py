import argparse

import pytest

from neutrophil.cli import COMMANDS, build_parser, main


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def test_every_command_is_registered_and_its_help_renders():
    subs = _subparsers(build_parser())
    assert set(subs) == set(COMMANDS)
    for name, sub in subs.items():
        text = sub.format_help()
        assert f"neutrophil {name}" in text
        for nested in _subparsers(sub).values():  # e.g. vector extract / export-gguf
            nested.format_help()


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_unknown_flag_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["eval", "--tasks", "builtin", "--out", "x", "--bogus"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unrecognized arguments: --bogus" in err[0]
