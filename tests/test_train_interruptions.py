"""Training survives its own interruptions: a torn metrics line, a resume on other data, a window too short
for the head, a half without feature rows."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from soccerspot.data.clips import SkippedHalfWarning
from soccerspot.errors import DataError
from soccerspot.data.features import FeatureMeta, load_features, write_features
from soccerspot.pipeline.training.run_folder import RUN_CONFIG_FILE, METRICS_FILE, STATE_FILE, read_metrics
from soccerspot.errors import SettingsError
from soccerspot.pipeline.training.tasks.features import load_train_data, train
from test_train import DIM, FPS, small_config, write_season


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    root = tmp_path_factory.mktemp("season")
    return root, write_season(root, 3, seed=1)


def run_folder_bytes(out):
    return {path.relative_to(out): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


def test_a_torn_last_metrics_line_does_not_break_resume(season, tmp_path):
    root, games = season
    config = small_config(max_epochs=2)
    data = load_train_data(config, root, "synth", games[:1], games[2:])
    train(config, data, tmp_path / "run", progress=False, max_batches=2)
    metrics = tmp_path / "run" / METRICS_FILE
    with open(metrics, "a", encoding="utf-8") as handle:  # killed while writing epoch 3's line
        handle.write('{"epoch": 3, "train_loss": 0.69, "lr"')
    resumed = train(small_config(max_epochs=3), data, tmp_path / "run", resume=True, progress=False, max_batches=2)
    assert resumed.epochs == 3 and [r["epoch"] for r in resumed.history] == [3]
    lines = metrics.read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    assert json.loads(lines[-1])["train_loss"] == resumed.history[0]["train_loss"]


def test_read_metrics_drops_only_a_torn_last_line(tmp_path):
    path = tmp_path / METRICS_FILE
    records = [{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.4}]
    whole = "".join(json.dumps(r) + "\n" for r in records)
    path.write_text(whole + '{"epoch": 3, "tra')
    assert read_metrics(path) == records
    path.write_text(whole + "\n")  # a blank last line is no record either
    assert read_metrics(path) == records
    path.write_text(whole.replace("}\n", "\n", 1) + json.dumps({"epoch": 3}) + "\n")  # damage before the end
    with pytest.raises(DataError, match=rf"{METRICS_FILE}: line 1 is not an epoch record"):
        read_metrics(path)
    path.write_text(whole + '["not", "a", "record"]\n' + json.dumps({"epoch": 3}) + "\n")
    with pytest.raises(DataError, match="line 3 is not an epoch record"):
        read_metrics(path)
    assert read_metrics(tmp_path / "absent.jsonl") == []


def copy_game(source_root, game, target_root, name="synth", target_name=None):
    for half in (1, 2):
        features = load_features(source_root / game, half, name, mmap=False)
        write_features(target_root / game, half, target_name or name, features.array, features.meta)
    if target_root != source_root:
        shutil.copy(source_root / game / "Labels-v2.json", target_root / game / "Labels-v2.json")


@pytest.fixture()
def finished_run(season, tmp_path):
    """A one-epoch run on a copy of the season's features (so a test may change them)."""
    source, games = season
    root = tmp_path / "features"
    for game in games:
        copy_game(source, game, root)
    config = small_config(max_epochs=1)
    data = load_train_data(config, root, "synth", games[:1], games[1:2])
    train(config, data, tmp_path / "run", progress=False, max_batches=1)
    return root, games, config, tmp_path / "run"


def refused(config, data, out, match):
    before = run_folder_bytes(out)
    with pytest.raises(DataError, match=match) as info:
        train(config, data, out, resume=True, progress=False, max_batches=1)
    assert info.value.path == str(out / RUN_CONFIG_FILE)
    assert run_folder_bytes(out) == before  # nothing written


def test_resume_refuses_other_games(finished_run):
    root, games, config, out = finished_run
    more = small_config(max_epochs=2)
    refused(more, load_train_data(more, root, "synth", games[:2], games[1:2]), out,
            r"on the data it started with; these differ: train games: 1 added \(e.g. 'league/2020-2021/game 1'\)$")
    refused(more, load_train_data(more, root, "synth", games[:1], games[2:]), out,
            r"valid games: 1 added \(e.g. '.*game 2'\), 1 removed \(e.g. '.*game 1'\)")
    refused(more, load_train_data(more, root, "synth", games[:1], []), out, r"valid games: 1 removed")


def test_resume_refuses_another_features_root_name_labels_root_or_settings(finished_run, tmp_path):
    root, games, config, out = finished_run
    more = small_config(max_epochs=2)
    elsewhere = tmp_path / "elsewhere"
    for game in games[:2]:
        copy_game(root, game, elsewhere)
        copy_game(root, game, root, target_name="synth_copy")
    refused(more, load_train_data(more, elsewhere, "synth", games[:1], games[1:2]), out,
            rf"features root {root} -> {elsewhere}; labels root {root} -> {elsewhere}$")
    refused(more, load_train_data(more, root, "synth_copy", games[:1], games[1:2]), out,
            r"feature name 'synth' -> 'synth_copy'$")
    refused(more, load_train_data(more, root, "synth", games[:1], games[1:2], labels_root=elsewhere), out,
            rf"labels root {root} -> {elsewhere}$")
    # same root, name and games, but the features were re-extracted with another backbone
    for game in games[:2]:
        for half in (1, 2):
            features = load_features(elsewhere / game, half, "synth", mmap=False)
            meta = FeatureMeta(**{**features.meta.to_json(), "backbone": "resnet18", "weights": "file:0123"})
            write_features(elsewhere / game, half, "synth", features.array, meta)
    shutil.copytree(out, tmp_path / "run2")
    stored = json.loads((tmp_path / "run2" / RUN_CONFIG_FILE).read_text())
    stored["data"]["features_root"] = str(elsewhere)
    (tmp_path / "run2" / RUN_CONFIG_FILE).write_text(json.dumps(stored))
    refused(more, load_train_data(more, elsewhere, "synth", games[:1], games[1:2]), tmp_path / "run2",
            r"feature settings \(backbone, weights\)$")


def test_resume_on_the_same_features_named_by_another_path_continues(finished_run, monkeypatch):
    root, games, _config, out = finished_run
    monkeypatch.chdir(root.parent)
    more = small_config(max_epochs=2)
    data = load_train_data(more, root.name, "synth", games[:1], games[1:2], labels_root=f"{root.name}/../{root.name}")
    assert train(more, data, out, resume=True, progress=False, max_batches=1).epochs == 2


def test_resume_refuses_a_state_that_does_not_fit_and_a_run_without_its_settings(finished_run):
    root, games, config, out = finished_run
    wider = small_config(max_epochs=2, head_settings={"projection_dim": 8})  # a library caller passing other head settings
    data = load_train_data(wider, root, "synth", games[:1], games[1:2])
    with pytest.raises(DataError, match=rf"{STATE_FILE}: does not fit this head and settings \(.*size mismatch"):
        train(wider, data, out, resume=True, progress=False)
    (out / RUN_CONFIG_FILE).unlink()
    with pytest.raises(DataError, match=rf"{RUN_CONFIG_FILE}: missing: the run's settings and data are unknown"):
        train(small_config(max_epochs=2), data, out, resume=True, progress=False)


@pytest.mark.parametrize("head", ["netvlad++", "maxpool++", "avgpool++", "netrvlad++"])
def test_a_window_too_short_for_a_split_head_is_a_settings_error_naming_window_seconds(season, tmp_path, head):
    root, games = season
    config = small_config(head=head, window_seconds=0.4, max_epochs=1)  # 0.8 rows at 2 fps -> 1 row
    data = load_train_data(config, root, "synth", games[:1], [])
    assert data.train.length == 1
    with pytest.raises(SettingsError, match=rf"0.4 s at 2 fps is 1 feature row\(s\) per window, too short for "
                                            rf"the {head.replace('+', '[+]')} head") as info:
        train(config, data, tmp_path / "run", progress=False)
    assert info.value.setting == "window_seconds" and not (tmp_path / "run").exists()


def test_the_real_window_length_decides_not_the_seconds(season, tmp_path):
    root, games = season
    # the same 0.4 s is one row (refused above) for "++" heads but is fine for a head that does not split it
    config = small_config(head="maxpool", window_seconds=0.4, max_epochs=1)
    data = load_train_data(config, root, "synth", games[:1], [])
    assert train(config, data, tmp_path / "maxpool", progress=False, max_batches=1).epochs == 1
    config = small_config(window_seconds=1.0, max_epochs=1)  # 2 rows: one per half of the window
    data = load_train_data(config, root, "synth", games[:1], [])
    assert train(config, data, tmp_path / "netvladpp", progress=False, max_batches=1).epochs == 1


def test_other_invalid_head_settings_are_not_blamed_on_the_window(season, tmp_path):
    root, games = season
    config = small_config(head_settings={"clusters": 7}, max_epochs=1)  # "++" gives K/2 to each half
    data = load_train_data(config, root, "synth", games[:1], [])
    with pytest.raises(SettingsError, match="invalid head settings: .*clusters must be even") as info:
        train(config, data, tmp_path / "run", progress=False)
    assert info.value.setting == "head_options.clusters"


def test_a_half_with_zero_feature_rows_is_skipped_with_a_warning(season, tmp_path):
    root, games = season
    copy = tmp_path / "features"
    for game in games:
        copy_game(root, game, copy)
    meta = FeatureMeta(backbone="synthetic", weights="none", fps=FPS, step=1 / FPS, transform="none",
                       precision="float32")
    empty_train = write_features(copy / games[0], 2, "synth", np.zeros((0, DIM), np.float32), meta)
    empty_valid = write_features(copy / games[2], 1, "synth", np.zeros((0, DIM), np.float32), meta)
    config = small_config(max_epochs=1, eval_every=1)
    with pytest.warns(SkippedHalfWarning) as caught:
        data = load_train_data(config, copy, "synth", games[:2], games[2:])
    assert [str(w.message).split(":")[0] for w in caught] == [str(empty_train), str(empty_valid)]
    assert data.description["skipped_halves"] == [str(empty_train), str(empty_valid)]
    assert [(t.game, t.half) for t in data.train.tracks] == [(games[0], 1), (games[1], 1), (games[1], 2)]
    result = train(config, data, tmp_path / "run", progress=False, max_batches=2)
    assert "valid_a_mAP" in result.history[0] and np.isfinite(result.history[0]["valid_loss"])


def test_precision_is_not_identity_for_training_and_resume(finished_run):
    """Halves re-extracted at another precision are the same features: a run resumes on them, and a
    training set may mix them; another backbone is still refused (above)."""
    root, games, _config, out = finished_run
    for half in (1, 2):  # game 0 (training) re-extracted at bf16, game 1 (validation) left at fp32
        features = load_features(root / games[0], half, "synth", mmap=False)
        meta = FeatureMeta(**{**features.meta.to_json(), "precision": "bf16"})
        write_features(root / games[0], half, "synth", features.array, meta)
    more = small_config(max_epochs=2)
    data = load_train_data(more, root, "synth", games[:1], games[1:2])
    assert train(more, data, out, resume=True, progress=False, max_batches=1).epochs == 2
