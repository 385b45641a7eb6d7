import subprocess
import sys

import pytest

from pipeline.cli import build_parser, main

COMMANDS = {"demo", "evaluate", "extract", "spot", "train"}


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_every_subcommand_has_help():
    parser = build_parser()
    actions = next(a for a in parser._actions if a.dest == "command")
    assert COMMANDS <= set(actions.choices)
    for name, sub in actions.choices.items():
        assert sub.description, f"soccerspot {name} has no description"


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2


def test_unknown_option_exits_2():
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--no-such-flag"])
    assert info.value.code == 2


def test_console_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "evaluate" in result.stdout
