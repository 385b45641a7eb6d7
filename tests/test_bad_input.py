"""Bad input never gives a traceback: every subcommand, driven through `soccerspot.pipeline.cli.main` with
bad arguments (unknown choices, negative numbers, missing required flags) and bad files (missing paths,
text where a video, features, a checkpoint or JSON belong, empty files, an --out that cannot be made),
exits 1 (bad data) or 2 (usage) with one error line that names the file or the flag."""
from __future__ import annotations

import json
import os
import shlex

import numpy as np
import pytest

from soccerspot.data.features import FeatureMeta, write_features
from soccerspot.data.labels import Event, GameLabels, GamePredictions, Prediction, write_labels, write_predictions
from soccerspot.data.games import LABELS_FILE, PREDICTIONS_FILE
from soccerspot.models.heads import create_head
from soccerspot.models.heads.pooling_head import PoolingHeadConfig
from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint
from soccerspot.pipeline.cli import command_modules, main, user_path_error
from video_helpers import constant_rate_times, write_video

NAME = "toy"
GAME = "league/2015/game"
SETTINGS = dict(backbone="toy", weights="none", fps=2.0, step=0.5, transform="none", precision="fp32")
FAST = "--backbone resnet18 --weights none --no-progress"  # extraction flags: small, random weights


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, str]:
    """Every file the cases name, good and bad, by placeholder."""
    root = tmp_path_factory.mktemp("bad_input")
    (root / "text.txt").write_text("not what you expected\n")
    (root / "hello.pt").write_text("hello\n")  # torch's weights-only reader fails on it with KeyError: 101
    (root / "empty.mkv").write_bytes(b"")
    (root / "text.mkv").write_text("not a video\n")
    (root / "emptydir").mkdir()
    write_video(root / "video.mkv", constant_rate_times(25, 1.0))
    features = root / "features"
    for half in (1, 2):
        write_features(features / GAME, half, NAME, np.zeros((40, 3), np.float32), FeatureMeta(**SETTINGS))
    write_labels(features / GAME / LABELS_FILE, GameLabels(url=GAME, events=[Event(1, 5000, "Goal", "home")]))
    (root / "games.txt").write_text(GAME + "\n")
    bad_features = root / "bad_features" / GAME  # a text file and an empty file where features belong
    bad_features.mkdir(parents=True)
    (bad_features / f"1_{NAME}.npy").write_text("not an array\n")
    (bad_features / f"2_{NAME}.npy").write_bytes(b"")
    config = PoolingHeadConfig(kind="avgpool", input_dim=3, num_classes=1, window_frames=4, projection_dim=None)
    save_checkpoint(root / "model", create_head(config), config, classes=["Goal"], fps=2.0,
                    feature_settings=FeatureMeta(**SETTINGS, dim=3).settings(), nms=NmsSettings(),
                    extra={"features": NAME})
    video_head = PoolingHeadConfig(kind="avgpool", input_dim=512, num_classes=1, window_frames=4, projection_dim=None)
    video_settings = FeatureMeta(backbone="resnet18", weights="none", fps=2.0, transform="crop", input_size=224,
                                 precision="fp32", dim=512).settings()  # what FAST extraction at fp32 makes
    save_checkpoint(root / "video_model", create_head(video_head), video_head, classes=["Goal"], fps=2.0,
                    feature_settings=video_settings, nms=NmsSettings(), extra={"features": "resnet18"})
    (root / "text_model").mkdir()
    (root / "text_model" / "model.pt").write_text("not weights\n")
    (root / "text_model" / "config.json").write_text("{not json")
    write_predictions(root / "spots" / PREDICTIONS_FILE,
                      GamePredictions(url=GAME, predictions=[Prediction(1, 500, "Goal", 0.9)]))
    bad_videos = root / "bad_videos" / GAME  # half videos that are not videos, with labels
    bad_videos.mkdir(parents=True)
    (bad_videos / "1_224p.mkv").write_text("not a video\n")
    (bad_videos / "2_224p.mkv").write_bytes(b"")
    write_labels(bad_videos / LABELS_FILE, GameLabels(url=GAME, events=[Event(1, 500, "Goal", "home")]))
    unlabelled = root / "unlabelled" / GAME  # a real video without labels
    unlabelled.mkdir(parents=True)
    write_video(unlabelled / "1_224p.mkv", constant_rate_times(25, 1.0))
    (root / "bad_labels" / GAME).mkdir(parents=True)
    (root / "bad_labels" / GAME / LABELS_FILE).write_text("not json")
    for kind, content in (("text_predictions", "not json"), ("empty_predictions", ""),
                          ("list_predictions", json.dumps([1, 2]))):
        (root / kind / GAME).mkdir(parents=True)
        (root / kind / GAME / PREDICTIONS_FILE).write_text(content)
    return {name: str(path) for name, path in {
        "root": root, "text": root / "text.txt", "hello": root / "hello.pt", "empty": root / "empty.mkv", "textmkv": root / "text.mkv",
        "emptydir": root / "emptydir", "video": root / "video.mkv", "missing": root / "missing",
        "features": features, "games": root / "games.txt", "bad_features": root / "bad_features",
        "bad_game": bad_features, "model": root / "model", "video_model": root / "video_model", "text_model": root / "text_model",
        "text_predictions": root / "text_predictions", "empty_predictions": root / "empty_predictions",
        "list_predictions": root / "list_predictions", "bad_labels": root / "bad_labels",
        "spots": root / "spots" / PREDICTIONS_FILE, "under_file": root / "text.txt" / "sub",
        "bad_videos": root / "bad_videos", "unlabelled": root / "unlabelled",
    }.items()}


# (command line with {placeholders}, what the error line must name: a flag or a placeholder's path)
CASES: list[tuple[str, str]] = [
    # demo
    ("demo --head transformerx --out {root}/d", "--head"),
    ("demo --train-games -1 --out {root}/d", "--train-games"),
    ("demo --half-seconds -5 --out {root}/d", "--half-seconds"),
    ("demo --epochs 0 --out {root}/d", "--epochs"),
    ("demo --workers -3 --out {root}/d", "--workers"),
    ("demo --seed abc", "--seed"),
    ("demo --out {text}", "{text}"),
    ("demo --out {under_file}", "{under_file}"),
    # extract
    ("extract", "--out"),
    ("extract {video}", "--out"),
    ("extract {video} --out {root}/x --decoder nope", "--decoder"),
    ("extract {video} --out {root}/x --transform nope", "--transform"),
    ("extract {video} --out {root}/x --fps -2", "--fps"),
    ("extract {video} --out {root}/x --input-size 0", "--input-size"),
    ("extract {video} --out {root}/x --batch-size -1", "--batch-size"),
    ("extract {video} --out {root}/x --start -1", "--start"),
    ("extract {video} --out {root}/x --duration 0", "--duration"),
    ("extract {video} --out {root}/x --name ../elsewhere", "--name"),
    ("extract {video} --out {root}/x --device nope " + FAST, "--device"),
    ("extract {video} --out {root}/x --backbone nope --weights none --no-progress", "nope"),
    ("extract {missing} --out {root}/x " + FAST, "{missing}"),
    ("extract {text} --out {root}/x " + FAST, "{text}"),
    ("extract {textmkv} --out {root}/x " + FAST, "{textmkv}"),
    ("extract {empty} --out {root}/x " + FAST, "{empty}"),
    ("extract {emptydir} --out {root}/x " + FAST, "{emptydir}"),
    ("extract {video} --out {text} " + FAST, "{text}"),
    ("extract {video} --out {under_file} " + FAST, "{under_file}"),
    ("extract {video} --out {root}/x --backbone resnet18 --weights {missing} --no-progress", "{missing}"),
    ("extract {video} --out {root}/x --pca {missing} " + FAST, "{missing}"),
    ("extract {video} --out {root}/x --backbone resnet18 --weights {hello} --no-progress", "{hello}"),
    ("extract {video} --out {root}/x --backbone resnet18 --weights {text} --no-progress", "{text}"),
    ("extract {video} --out {root}/x --pca {text} " + FAST, "{text}"),
    ("extract {video} --out {root}/x --features ResNET_TF2 --backbone resnet50 --no-progress",
     "--backbone resnet50 disagrees with --features ResNET_TF2"),
    ("extract {video} --out {root}/x --features ResNET_TF2 --fps 1 --no-progress", "--fps 1 disagrees with --features"),
    # combine
    ("combine --parts a,b --name c", "--features"),
    ("combine --features {features} --parts toy --name c", "--parts"),
    ("combine --features {features} --parts toy,toy --name c", "--parts"),
    ("combine --features {features} --parts toy,other --name toy", "--name"),
    ("combine --features {features} --parts toy,other --name c --normalize nope", "--normalize"),
    ("combine --features {missing} --parts toy,other --name c --no-progress", "{missing}"),
    ("combine --features {text} --parts toy,other --name c --no-progress", "{text}"),
    # spot
    ("spot {features}", "--model"),
    ("spot {features} --model {model} --nms nope", "--nms"),
    ("spot {features} --model {model} --nms-window -3", "--nms-window"),
    ("spot {features} --model {model} --threshold 2", "--threshold"),
    ("spot {features} --model {model} --window -5", "--window"),
    ("spot {features} --model {model} --method nope", "--method"),
    ("spot {features} --model {missing}", "{missing}"),
    ("spot {features} --model {emptydir}", "{emptydir}"),
    ("spot {features} --model {text_model}", "{text_model}"),
    ("spot {features} --model {text}", "{text}"),
    ("spot {features} --model {hello}", "{hello}"),
    ("spot {features} --model {empty}", "{empty}"),
    ("spot {missing} --model {model}", "{missing}"),
    ("spot {bad_game} --model {model} --features toy", "{bad_game}"),
    ("spot {textmkv} --model {video_model}", "{textmkv}"),
    ("spot {empty} --model {video_model}", "{empty}"),
    ("spot {video} --model {video_model} --out {under_file}", "{under_file}"),
    ("spot {features} --model {model} --out {under_file}", "{under_file}"),
    ("spot {video} --model {video_model} --features ResNET_TF2 --out {root}/s --no-progress",
     "--features ResNET_TF2 disagrees with --model {video_model}"),
    # train
    ("train", "--features-root"),
    ("train --features-root {features}", "--features"),
    ("train --features-root {features} --features toy --preset nope", "--preset"),
    ("train --features-root {features} --features toy --epochs -1", "--epochs"),
    ("train --features-root {features} --features toy --lr -1", "--lr"),
    ("train --features-root {features} --features toy --batch-size abc", "--batch-size"),
    ("train --features-root {missing} --features toy", "{missing}"),
    ("train --features-root {text} --features toy", "{text}"),
    ("train --features-root {features} --features toy --train-split {missing}", "{missing}"),
    ("train --features-root {features} --features toy --train-split {empty}", "{empty}"),
    ("train --features-root {features} --features toy --train-split {text}", "{features}"),
    ("train --features-root {features} --features toy --resume", "--resume"),
    ("train --features-root {features} --features toy --nproc 0", "--nproc"),
    ("train --features-root {features} --features toy --dist-timeout 0", "--dist-timeout"),
    ("train --features-root {features} --features toy --accumulate 0", "--accumulate"),
    ("train --features-root {features} --features toy --sync-bn maybe --train-split {games} --valid-split none "
     "--out {root}/run3 --no-progress", "--sync-bn"),
    ("train --features-root {features} --features toy --train-split {games} --valid-split none --out {text}",
     "{text}"),
    ("train --features-root {features} --features toy --train-split {games} --valid-split none "
     "--out {under_file}", "{text}"),
    ("train --features-root {bad_features} --features toy --train-split all --valid-split none "
     "--out {root}/run --no-progress", "{bad_features}"),
    ("train --features-root {features} --features toy --labels-root {bad_labels} --train-split {games} "
     "--valid-split none --out {root}/run2 --no-progress", "{bad_labels}"),
    # finetune
    # train-dense
    ("train-dense", "--videos"),
    ("train-dense --videos {missing}", "{missing}"),
    ("train-dense --videos {unlabelled} --preset nope --out {root}/d", "--preset"),
    ("train-dense --videos {unlabelled} --model-options nope --out {root}/d", "--model-options"),
    ("train-dense --videos {unlabelled} --clip-len 0 --out {root}/d", "--model-options"),
    ("train-dense --videos {unlabelled} --frame-recipe nope --out {root}/d", "--frame-recipe"),
    ("train-dense --videos {unlabelled} --epoch-frames 0 --out {root}/d", "--epoch-frames"),
    ("train-dense --videos {unlabelled} --lr -1 --out {root}/d", "--lr"),
    ("train-dense --videos {unlabelled} --out {root}/d --no-progress", "{unlabelled}"),
    ("finetune", "--videos"),
    ("finetune --videos {missing}", "{missing}"),
    ("finetune --videos {text}", "{text}"),
    ("finetune --videos {unlabelled} --preset nope", "--preset"),
    ("finetune --videos {unlabelled} --transform nope", "--transform"),
    ("finetune --videos {unlabelled} --trainable-stages -1 --out {root}/f", "--trainable-stages"),
    ("finetune --videos {unlabelled} --color-jitter 3 --out {root}/f", "--color-jitter"),
    ("finetune --videos {unlabelled} --fps 0 --out {root}/f", "--fps"),
    ("finetune --videos {unlabelled} --nproc -2 --out {root}/f", "--nproc"),
    ("finetune --videos {unlabelled} --lr -1 --out {root}/f", "--lr"),
    ("finetune --videos {unlabelled} --optimizer nope --out {root}/f", "--optimizer"),
    ("finetune --videos {unlabelled} --backbone nope --out {root}/f", "--backbone"),
    ("finetune --videos {unlabelled} --backbone video:r3d_18 --weights none --out {root}/f", "--recipe snippets"),
    ("finetune --videos {unlabelled} --resume", "--resume"),
    ("finetune --videos {unlabelled} --head calf --out {root}/f", "--head"),
    ("finetune --videos {unlabelled} --backbone resnet18 --weights {hello} --out {root}/f", "{hello}"),
    ("finetune --videos {unlabelled} --backbone resnet18 --weights {missing} --out {root}/f", "{missing}"),
    ("finetune --videos {unlabelled} --out {text}", "{text}"),
    ("finetune --videos {unlabelled} --train-split {missing} --out {root}/f " + FAST, "{missing}"),
    ("finetune --videos {emptydir} --train-split all --valid-split none --out {root}/f " + FAST, "{emptydir}"),
    ("finetune --videos {unlabelled} --train-split all --valid-split none --out {root}/f " + FAST, GAME),
    ("finetune --videos {bad_videos} --train-split all --valid-split none --out {root}/f " + FAST, "{bad_videos}"),
    ("finetune --videos {unlabelled} --labels {text} --train-split all --out {root}/f", "{text}"),
    # evaluate
    ("evaluate", "--labels"),
    ("evaluate --labels {features} --predictions {features} --metric nope", "--metric"),
    ("evaluate --labels {features} --predictions {features} --classes ,", "--classes"),
    ("evaluate --labels {missing} --predictions {features}", "{missing}"),
    ("evaluate --labels {features} --predictions {features} --classes Goal,Goal", "--classes"),
    ("evaluate --labels {features} --predictions {features} --json {under_file}", "--json"),
    ("evaluate --labels {features} --predictions {features} --json {emptydir} --force", "--json"),
    ("evaluate --labels {features} --predictions {features} --plots {under_file}", "{under_file}"),
    ("evaluate --labels {text} --predictions {features}", "{text}"),
    ("evaluate --labels {emptydir} --predictions {features}", "{emptydir}"),
    ("evaluate --labels {features} --predictions {features} --split {missing}", "{missing}"),
    ("evaluate --labels {features} --predictions {features} --split {empty}", "{empty}"),
    ("evaluate --labels {features} --predictions {missing} --quiet", "{missing}"),
    ("evaluate --labels {bad_labels} --predictions {features} --allow-missing --quiet", "{bad_labels}"),
    ("evaluate --labels {features} --predictions {text_predictions} --quiet", "{text_predictions}"),
    ("evaluate --labels {features} --predictions {empty_predictions} --quiet", "{empty_predictions}"),
    ("evaluate --labels {features} --predictions {list_predictions} --quiet", "{list_predictions}"),
    ("evaluate --labels {features} --predictions {text_predictions} --json {text} --quiet", "{text}"),
    # highlights
    ("highlights {video}", "--out"),
    ("highlights {video} --predictions {spots} -o {root}/r.mp4 --min-confidence 2 --quiet", "--min-confidence"),
    ("highlights {video} --predictions {spots} -o {root}/r.mp4 --before -5 --quiet", "--before"),
    ("highlights {missing} --predictions {spots} -o {root}/r.mp4 --quiet", "{missing}"),
    ("highlights {video} --predictions {missing} -o {root}/r.mp4 --quiet", "{missing}"),
    ("highlights {video} --predictions {text} -o {root}/r.mp4 --quiet", "{text}"),
    ("highlights {textmkv} --predictions {spots} -o {root}/r.mp4 --quiet", "{textmkv}"),
    ("highlights {empty} --predictions {spots} -o {root}/r.mp4 --quiet", "{empty}"),
    ("highlights {video} --predictions {spots} -o {under_file}/r.mp4 --quiet", "{text}"),
    # plot
    ("plot {missing}", "{missing}"),
    ("plot {text}", "{text}"),
    ("plot {text_predictions}/league/2015/game", "{text_predictions}"),
    ("plot {spots} --labels {missing}", "{missing}"),
    ("plot {spots} --labels {text}", "{text}"),
    ("plot {spots} --out {under_file}", "{text}"),
    ("plot {spots} --task grounding", "--task"),
    ("plot {spots} --task ball --labels {root}", "no Labels-ball.json"),
    # archive
    ("archive {features}", "--model"),
    ("archive {video} --model {model} --out {root}/a --jobs -1 --no-progress", "--jobs"),
    ("archive {video} --model {model} --out {root}/a --engine nope", "--engine"),
    ("archive {video} --model {hello} --out {root}/a --no-progress", "{hello}"),
    ("archive {missing} --model {model} --out {root}/a --no-progress", "{missing}"),
    ("archive {video} --model {missing} --out {root}/a --no-progress", "{missing}"),
    ("archive {video} --model {text_model} --out {root}/a --no-progress", "{text_model}"),
    ("archive {emptydir} --model {video_model} --out {root}/a --no-progress", "{emptydir}"),
    ("archive {video} --model {model} --out {text} --no-progress", "{text}"),
    ("archive {video} --model {model} --ground NetVLAD++ --out {root}/a --no-progress", "--ground NetVLAD++"),
    # ground
    ("ground {missing} --model similarity", "{missing}"),
    ("ground {features} --model {missing}", "{missing}"),
    ("ground {features} --model {text_model}", "{text_model}"),
    ("ground {features} --model similarity --keep-before -5", "--keep-before"),
    ("ground {features} --model NetVLAD++", "--model NetVLAD++"),  # a released spotting head: refused, not fetched
    # live
    ("live {missing} --model {video_model} --out {root}/live", "{missing}"),
    ("live {video} --model {missing} --out {root}/live", "{missing}"),
    ("live {video} --model {model} --out {root}/live --max-latency 0", "--max-latency"),
    ("live {video} --model {video_model} --features ResNET_TF2 --out {root}/live",
     "--features ResNET_TF2 disagrees with --model {video_model}"),
    # render
    ("render --task ball --out {root}/season --minutes 0.1", "--minutes"),
    ("render --task ball --out {root}/season --width 397", "--width"),
    ("render --task ball --out {root}/season --workers 0", "--workers"),
    ("render --task nope --out {root}/season", "--task"),
    ("render --task ball --out {text} --minutes 0.4 --width 32 --height 32 --test-games 1 --train-games 0 "
     "--valid-games 0 --workers 1 --no-progress", "{text}"),
    # view (each refused before a server starts)
    ("view {missing}", "{missing}"),
    ("view {text}", "{text}"),
    ("view {missing} --task ball", "{missing}"),
    ("view {root} --task grounding", "--task"),
    ("view {features} --labels {missing}", "{missing}"),
    ("view {features} --port 70000", "--port"),
]


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    return code, capsys.readouterr().err


def case_id(case: tuple[str, str]) -> str:
    return case[0].replace(" " + FAST, "").replace("{", "").replace("}", "")


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_bad_input_exits_1_or_2_with_one_line_naming_the_file_or_flag(case, paths, capsys, monkeypatch, tmp_path):
    command, named = case
    if command.split()[0] not in command_modules():
        pytest.skip(f"no soccerspot {command.split()[0]} command in this tree")
    monkeypatch.chdir(tmp_path)  # a command's default output folder lands here
    code, err = run_cli(shlex.split(command.format(**paths)), capsys)
    assert code in (1, 2), (code, err)
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert errors[0].startswith(f"soccerspot {command.split()[0]}: error: "), errors[0]
    assert named.format(**paths) in errors[0], errors[0]


def test_every_command_has_bad_input_cases():
    covered = {case[0].split()[0] for case in CASES}
    assert set(command_modules()) <= covered, set(command_modules()) - covered


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_out_folder_is_one_line(paths, capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, err = run_cli(["demo", "--out", str(locked / "demo"), "--no-progress"], capsys)
    finally:
        locked.chmod(0o755)
    assert code == 1 and "Traceback" not in err
    assert [line for line in err.splitlines() if "error:" in line] == [
        f"soccerspot demo: error: {locked / 'demo'}: Permission denied"]


def test_user_path_errors_are_reported_and_other_os_errors_are_not():
    assert user_path_error(PermissionError(13, "Permission denied", "/a/b")) == "/a/b: Permission denied"
    assert user_path_error(IsADirectoryError(21, "Is a directory", "/a")) == "/a: Is a directory"
    assert user_path_error(OSError(28, "No space left on device", "/disk/f")) == "/disk/f: No space left on device"
    assert user_path_error(PermissionError(13, "Permission denied")) is None  # no file named: a bug, not input
    assert user_path_error(ConnectionResetError(104, "Connection reset by peer", "x")) is None
    assert user_path_error(FileNotFoundError(2, "No such file or directory", "/a")) is None


SNIPPET_CASES = [
    ("finetune --videos {unlabelled} --recipe nope", "--recipe"),
    ("finetune --videos {unlabelled} --recipe snippets --snippet-seconds 0 --out {root}/s", "--snippet-seconds"),
    ("finetune --videos {unlabelled} --recipe snippets --flip --out {root}/s", "--flip"),
    ("finetune --videos {unlabelled} --recipe snippets --backbone video:r3d_18 --weights none --decoder decord "
     "--out {root}/s", "--decoder"),
    ("finetune --videos {unlabelled} --recipe snippets --backbone nope --out {root}/s", "--backbone"),
    ("finetune --videos {unlabelled} --recipe snippets --backbone resnet18 --weights {missing} --out {root}/s",
     "{missing}"),
    ("finetune --videos {unlabelled} --recipe snippets --train-split all --valid-split none --out {root}/s " + FAST,
     GAME),
]


@pytest.mark.parametrize("case", SNIPPET_CASES, ids=[c[0].split("--recipe ")[1][:40] for c in SNIPPET_CASES])
def test_snippet_recipe_bad_input_is_one_line(case, paths, capsys, monkeypatch, tmp_path):
    test_bad_input_exits_1_or_2_with_one_line_naming_the_file_or_flag(case, paths, capsys, monkeypatch, tmp_path)
