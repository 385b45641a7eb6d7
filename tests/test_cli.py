import os
import shutil
import subprocess
import sys

import pytest

from soccerspot.pipeline.cli import build_parser, main

COMMANDS = {"archive", "demo", "evaluate", "extract", "spot", "train"}


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


def test_python_m_soccerspot_runs():
    result = subprocess.run([sys.executable, "-m", "soccerspot", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "evaluate" in result.stdout


def _console_script() -> str:
    script = shutil.which("soccerspot", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip(f"the soccerspot console script is not installed beside {sys.executable}: pip install -e .")
    return script


def test_console_script_runs_beside_a_users_own_models_and_data_packages(tmp_path):
    """A user project with its own top-level `models/` and `data/` packages neither shadows ours nor is
    shadowed: soccerspot lives in one import package, `soccerspot`."""
    for name in ("models", "data", "pipeline", "extract"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("MARK = 'user project'\n")
    result = subprocess.run([_console_script(), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "evaluate" in result.stdout
    probe = ("import models, data, soccerspot.models.heads as ours, soccerspot.data.labels as labels; "
             "print(models.MARK, data.MARK); print(ours.__file__); print(labels.__file__)")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    users, ours, labels = result.stdout.splitlines()
    assert users == "user project user project"
    assert not ours.startswith(str(tmp_path)) and not labels.startswith(str(tmp_path))


def test_the_parser_loads_no_torch_so_help_prints_at_once():
    """Every command's parser is built from light modules: torch, torchvision and timm load only when a
    command runs (measured: `soccerspot --help` in about 0.25 s instead of 4-6 s)."""
    import subprocess
    import sys

    code = ("import sys; from soccerspot.pipeline.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'torchvision', 'timm', 'av', 'cv2') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
