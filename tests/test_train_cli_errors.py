"""Every bad input to `soccerspot train` is one line on stderr naming the file or flag, exit 1 (data) or
2 (usage), no traceback; nothing a user made is overwritten."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from soccerspot.data.features import FeatureMeta, load_features, write_features
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.training.run_folder import RUN_CONFIG_FILE, METRICS_FILE
from test_train import DIM, FPS, write_season

FAST = ["--projection-dim", "8", "--clusters", "4", "--window-seconds", "4", "--batch-size", "64", "--epochs", "1",
        "--max-batches", "1", "--eval-every", "0", "--no-progress"]


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    root = tmp_path_factory.mktemp("season")
    games = write_season(root, 3, seed=2)
    listing = root.parent / f"{root.name}-games"
    listing.mkdir()
    (listing / "train.txt").write_text("\n".join(games[:2]) + "\n")
    (listing / "valid.txt").write_text(games[2] + "\n")
    (listing / "empty.txt").write_text("# no games yet\n\n")
    return root, games, listing


def command(season, out, *extra, root=None, features="synth", train_split="train.txt", valid_split="valid.txt"):
    base, _games, listing = season
    args = ["train", "--features-root", str(root or base), "--features", features,
            "--train-split", str(listing / train_split) if train_split.endswith(".txt") else train_split,
            "--valid-split", str(listing / valid_split) if valid_split.endswith(".txt") else valid_split]
    return args + (["--out", str(out)] if out is not None else []) + FAST + list(extra)


def failure(capsys, args) -> tuple[int, str]:
    """Exit code and the one stderr line of a failing run."""
    code = main(args)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("soccerspot train: error: ")
    return code, lines[0][len("soccerspot train: error: "):]


@pytest.mark.parametrize("flags, message", [
    (["--lr", "abc"], "--lr abc: could not convert string to float: 'abc'"),
    (["--lr", "-1"], "--lr -1: lr must be > 0"),
    (["--batch-size", "0"], "--batch-size 0: batch_size must be > 0"),
    (["--batch-size", "2.5"], "--batch-size 2.5: invalid literal for int()"),
    (["--epochs", "0"], "--epochs 0: max_epochs must be > 0"),
    (["--max-batches", "0"], "--max-batches 0: must be >= 1"),
    (["--window-seconds", "nan"], "--window-seconds nan: window_seconds must be > 0"),
    (["--window-seconds", "0.4"], "--window-seconds: 0.4 s at 2 fps is 1 feature row(s) per window, too short "
                                  "for the netvlad++ head: netvlad++ splits the window in two"),
    (["--dropout", "1.5"], "--dropout 1.5: dropout must lie in [0, 1)"),
    (["--plateau-factor", "2"], "--plateau-factor 2: plateau_factor must lie in (0, 1)"),
    (["--betas", "0.9"], "--betas 0.9: betas: two values in [0, 1) are needed"),
    (["--clusters", "5"], "--clusters 5: netvlad++ gives K/2 clusters to each half: clusters must be even"),
    (["--head", "lstm"], "--head lstm: unknown head kind 'lstm'"),
    (["--head-options", "[1]"], "--head-options [1]: head_options: a JSON object of head settings is needed"),
    (["--head-options", "{"], "--head-options {: Expecting property name"),
    (["--head-options", '{"no_such_field": 1}'], "--head-options {\"no_such_field\": 1}: head_options names "
                                                 "settings the netvlad++ head (PoolingHeadConfig) does not have: "
                                                 "no_such_field"),
    (["--device", "gpu0"], "--device gpu0: not a torch device: 'gpu0'"),
    (["--sampling", "random"], "--sampling random: sampling must be one of chunks, events"),
    (["--select-on", "valid_a_mAP", "--valid-split", "none"], "--select-on: 'valid_a_mAP' needs validation games"),
])
def test_a_bad_setting_is_a_usage_error_naming_its_flag(season, tmp_path, capsys, flags, message):
    code, line = failure(capsys, command(season, tmp_path / "run") + flags)
    assert code == 2 and line.startswith(message), line
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_missing_or_unusable_input_data_is_exit_1_naming_the_file(season, tmp_path, capsys):
    root, games, listing = season
    cases = [
        (dict(root=tmp_path / "nowhere"), f"{tmp_path / 'nowhere'}: folder not found (--features-root)"),
        (dict(features="resnet152"), f"{root}: 2 of 2 training games lack 1_resnet152.npy / 2_resnet152.npy: "
                                     f"{games[0]}; {games[1]} (features in {games[0]}: synth)"),
        (dict(train_split="empty.txt"), f"{listing / 'empty.txt'}: lists no games"),
        (dict(train_split="none"), f"{root}: no training games (--train-split none)"),
        (dict(train_split="missing.txt"), f"{listing / 'missing.txt'}: games file not found"),
        (dict(valid_split=str(tmp_path)), f"{tmp_path}: a games folder must lie inside --features-root"),
    ]
    for options, message in cases:
        code, line = failure(capsys, command(season, tmp_path / "run", **options))
        assert code == 1 and line.startswith(message), line
    (tmp_path / "labels").write_text("not a folder")
    code, line = failure(capsys, command(season, tmp_path / "run", "--labels-root", str(tmp_path / "labels")))
    assert code == 1 and line == f"{tmp_path / 'labels'}: not a folder (--labels-root)"
    assert not (tmp_path / "run").exists()


def test_a_run_folder_that_cannot_be_written_is_refused(season, tmp_path, capsys):
    (tmp_path / "file").write_text("a user's file")
    code, line = failure(capsys, command(season, tmp_path / "file"))
    assert code == 1 and line == f"{tmp_path / 'file'}: exists and is not a folder: choose another --out"
    code, line = failure(capsys, command(season, tmp_path / "file" / "run"))
    assert code == 1 and line.startswith(f"{tmp_path / 'file'}: is not a folder, so the run folder")
    assert (tmp_path / "file").read_text() == "a user's file"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_read_only_parent_folder_is_refused(season, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        code, line = failure(capsys, command(season, locked / "run"))
    finally:
        locked.chmod(0o700)
    assert code == 1 and line == f"{locked}: not writable: the run folder {locked / 'run'} cannot be written"


def folder_bytes(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_holding_files_is_never_overwritten(season, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("a user's notes")
    code, line = failure(capsys, command(season, mine))
    assert code == 1 and line.startswith(f"{mine}: already holds files (a previous run?): pass --resume")
    code, line = failure(capsys, command(season, mine, "--resume"))
    assert code == 1 and line.startswith(f"{mine / 'state.pt'}: no training state to resume from")
    assert folder_bytes(mine) == {Path("notes.txt"): b"a user's notes"}
    code, line = failure(capsys, command(season, None, "--resume"))
    assert code == 2 and line == "--resume needs --out (the run folder to continue)"


def test_another_run_is_refused_without_resume_and_resumed_only_on_its_own_data(season, tmp_path, capsys):
    root, games, listing = season
    out = tmp_path / "run"
    assert main(command(season, out)) == 0
    capsys.readouterr()
    before = folder_bytes(out)
    code, line = failure(capsys, command(season, out))
    assert code == 1 and "already holds files" in line and "nothing was overwritten" in line
    code, line = failure(capsys, command(season, out, "--resume", valid_split="train.txt"))
    assert code == 1 and line.startswith(f"{out / RUN_CONFIG_FILE}: --resume continues a run on the data it started "
                                         f"with; these differ: valid games: 2 added")
    other = tmp_path / "other"
    for game in games:
        for half in (1, 2):
            features = load_features(root / game, half, "synth", mmap=False)
            write_features(other / game, half, "synth", features.array, features.meta)
        (other / game / "Labels-v2.json").write_bytes((root / game / "Labels-v2.json").read_bytes())
    code, line = failure(capsys, command(season, out, "--resume", root=other))
    assert code == 1 and f"these differ: features root {root} -> {other}; labels root {root} -> {other}" in line
    code, line = failure(capsys, command(season, out, "--resume", "--lr", "0.5"))
    assert code == 1 and line == f"{out / RUN_CONFIG_FILE}: --resume continues the run with its own settings; " \
                                 "these differ: lr"
    (out / RUN_CONFIG_FILE).write_text("{")
    code, line = failure(capsys, command(season, out, "--resume"))
    assert code == 1 and line.startswith(f"{out / RUN_CONFIG_FILE}: unreadable run settings")
    (out / RUN_CONFIG_FILE).write_bytes(before[Path(RUN_CONFIG_FILE)])
    assert folder_bytes(out) == before  # every refusal above left the run as it was


def test_a_run_of_an_older_version_resumes_with_the_flags_it_started_with(season, tmp_path, capsys):
    """Runs written when projection_dim and clusters were run fields (top level of train_config.json)."""
    out = tmp_path / "run"
    assert main(command(season, out)) == 0
    capsys.readouterr()
    stored = json.loads((out / RUN_CONFIG_FILE).read_text())
    options = stored["config"]["head_options"]
    assert (options.pop("projection_dim"), options.pop("clusters")) == (8, 4)  # FAST's flags
    stored["config"].update(projection_dim=8, clusters=4)
    (out / RUN_CONFIG_FILE).write_text(json.dumps(stored))
    code, line = failure(capsys, command(season, out, "--resume", "--clusters", "6"))
    assert code == 1 and line.endswith("--resume continues the run with its own settings; these differ: "
                                       "head_options.clusters")
    assert main(command(season, out, "--resume", "--epochs", "2")) == 0  # the state fits the head it describes
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["epochs"] == 2
    # the preset's head options given again with the flags: the same head, so the same run
    assert main(command(season, out, "--resume", "--epochs", "3", "--head-options", '{"assignment_bias": false}')) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["epochs"] == 3


def test_head_setting_flags_set_the_head_options_of_heads_that_have_them():
    from soccerspot.pipeline.cli import build_parser
    from soccerspot.pipeline.cli.train import build_config
    from soccerspot.pipeline.training.presets import get_preset

    def config(*flags):
        return build_config(build_parser().parse_args(["train", "--features-root", ".", "--features", "x", *flags]))

    assert config("--clusters", "16", "--projection-dim", "none").head_options == {
        "projection_dim": None, "clusters": 16, "assignment_bias": False}
    assert config("--preset", "baidu-transformer", "--clusters", "16") == get_preset("baidu-transformer")  # ignored
    assert config("--head-options", '{"clusters": 6}', "--clusters", "16").head_options == {"clusters": 6}


def test_a_damaged_training_state_is_refused_naming_it(season, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(command(season, out)) == 0
    capsys.readouterr()
    (out / "state.pt").write_bytes(b"not a torch file")
    code, line = failure(capsys, command(season, out, "--resume", "--epochs", "2"))
    assert code == 1 and line.startswith(f"{out / 'state.pt'}: not a readable PyTorch training state")


def test_resume_after_a_kill_mid_metrics_line_continues(season, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(command(season, out)) == 0
    with open(out / METRICS_FILE, "a", encoding="utf-8") as handle:
        handle.write('{"epoch": 2, "train_loss": 0.')
    assert main(command(season, out, "--resume", "--epochs", "2")) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 2
    lines = (out / METRICS_FILE).read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


def test_a_half_without_rows_is_one_warning_line_and_training_goes_on(season, tmp_path, capsys):
    root, games, listing = season
    copy = tmp_path / "features"
    for game in games:
        for half in (1, 2):
            features = load_features(root / game, half, "synth", mmap=False)
            write_features(copy / game, half, "synth", features.array, features.meta)
        (copy / game / "Labels-v2.json").write_bytes((root / game / "Labels-v2.json").read_bytes())
    meta = FeatureMeta(backbone="synthetic", weights="none", fps=FPS, step=1 / FPS, transform="none",
                       precision="float32")
    empty = write_features(copy / games[1], 1, "synth", np.zeros((0, DIM), np.float32), meta)
    assert main(command(season, tmp_path / "run", root=copy)) == 0
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"warning: {empty}: no feature rows; half 1 of {games[1]!r} skipped (17 event(s) dropped)"]
    assert json.loads(captured.out.strip().splitlines()[-1])["epochs"] == 1
    saved = json.loads((tmp_path / "run" / RUN_CONFIG_FILE).read_text())
    assert saved["data"]["skipped_halves"] == [str(empty)]


def test_a_pooling_preset_trains_another_head_without_its_pooling_settings(season, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(command(season, out, "--preset", "maxpool-paper", "--head", "transformer")) == 0
    stored = json.loads((out / RUN_CONFIG_FILE).read_text())["config"]
    assert (stored["preset"], stored["head"], stored["head_options"]) == ("maxpool-paper", "transformer", {})
