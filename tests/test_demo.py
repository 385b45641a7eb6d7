"""End to end on a small synthetic season: pixels -> features -> NetVLAD++ -> spots -> Average-mAP.

The season is small (4 training games, 1 held-out, halves of 120 s rendered at 10 fps: what is drawn
and sampled at 2 fps is the same as at 25 fps, only cheaper). Learning is asserted against a control:
the same head trained on labels whose classes and positions were shuffled.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from soccerspot.errors import DataError
from soccerspot.data.features import FeatureMeta, load_features, write_features
from soccerspot.data.labels import read_predictions
from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.data.synthetic.broadcast import VIDEO_NAME
from soccerspot.pipeline.demo import (
    MARKER_FILE,
    MODEL_DIR,
    SUMMARY_FILE,
    DemoConfig,
    evaluate_season,
    prepare_out_dir,
    run_demo,
    shuffled_labels,
    preset_for_head,
    spot_games,
    train_config,
    train_head,
)

pytestmark = pytest.mark.slow

SMALL = DemoConfig(train_games=4, test_games=1, half_seconds=120.0, video_fps=10.0, epochs=60, batch_size=64, seed=3)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    summary = run_demo(out, SMALL, progress=False)
    return out, summary


def test_demo_writes_summary_predictions_and_learns(demo):
    out, summary = demo
    written = json.loads((out / SUMMARY_FILE).read_text())
    assert written["a_mAP_loose"] == pytest.approx(summary["a_mAP_loose"])
    assert {"a_mAP_loose", "a_mAP_tight", "timings_s"} <= set(written)
    assert set(written["timings_s"]) >= {"generate", "extract", "train", "spot", "evaluate", "total"}
    game = summary["games"]["test"][0]
    assert (out / "predictions" / game / PREDICTIONS_FILE).is_file()
    assert summary["a_mAP_loose"] >= 0.45, summary["a_mAP_per_class_loose"]
    assert 0.0 <= summary["a_mAP_tight"] <= summary["a_mAP_loose"]


def test_held_out_map_far_above_shuffled_label_control(demo, tmp_path):
    out, summary = demo
    season = out / "season"
    config = dataclasses.replace(SMALL, shuffle_labels=True)
    train_games, test_games = summary["games"]["train"], summary["games"]["test"]
    labels_root = shuffled_labels(season, train_games, tmp_path / "shuffled", config.seed)
    checkpoint = train_head(season, summary["feature_name"], train_games, tmp_path / "run", config, labels_root,
                            progress=False)
    spot_games(checkpoint, season, summary["feature_name"], test_games, tmp_path / "predictions")
    control = evaluate_season(season, tmp_path / "predictions", test_games)["loose"]["a_mAP"]
    assert summary["a_mAP_loose"] - control >= 0.25, (summary["a_mAP_loose"], control)


def test_demo_reports_a_held_out_game_with_timeline_plots_and_a_reel(demo):
    import av
    from PIL import Image

    out, summary = demo
    report = summary["report"]
    assert report["game"] == summary["games"]["test"][0]
    assert [Path(p).name for p in report["timeline_plots"]] == ["1_timeline.png", "2_timeline.png"]
    for plot in report["timeline_plots"]:
        assert Image.open(plot).size[0] > 800
    if report["reel"] is None:  # the head spotted none of the reel's classes: said, not hidden
        assert "no spot" in report["reel_error"]
    else:
        with av.open(report["reel"]) as reel:
            assert reel.duration / 1e6 == pytest.approx(report["reel_seconds"], abs=0.2)
        assert Path(report["reel_chapters"]).read_text().strip()


def test_raw_video_one_command_spot_matches_the_features_path(demo):
    _, summary = demo
    video = summary["video_spot"]
    assert video["error"] is None, video
    assert video["predictions"] > 0
    assert video["same_as_features_path"] is True


@pytest.mark.parametrize("head, preset", [("netvlad++", "netvladpp-paper"), ("maxpool", "maxpool-paper"),
                                          ("transformer", "baidu-transformer")])
def test_every_head_trains_from_its_preset(head, preset):
    assert preset_for_head(head) == preset
    config = train_config(dataclasses.replace(SMALL, head=head))
    assert config.head == head and config.preset == f"demo-{preset}"
    assert config.max_epochs == SMALL.epochs and config.window_seconds == SMALL.window_seconds


@pytest.mark.parametrize("change, named", [(dict(head="resnet"), "head"), (dict(train_games=0), "train_games"),
                                           (dict(half_seconds=30.0), "half_seconds"), (dict(epochs=0), "epochs"),
                                           (dict(workers=-2), "workers")])
def test_config_refuses_settings_it_cannot_run(change, named):
    with pytest.raises(ValueError, match=named):
        dataclasses.replace(SMALL, **change).validate()


def test_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(DataError, match="did not make"):
        prepare_out_dir(tmp_path, SMALL)
    assert (tmp_path / "mine.txt").read_text() == "user data"
    assert not (tmp_path / MARKER_FILE).exists()


def test_reuses_its_own_folder(tmp_path):
    out = tmp_path / "demo"
    assert prepare_out_dir(out, SMALL) is False
    (out / "season").mkdir()
    (out / "season" / "kept").write_text("x")
    (out / MODEL_DIR).mkdir()
    assert prepare_out_dir(out, SMALL) is True  # same season settings: season kept, model redone
    assert (out / "season" / "kept").is_file() and not (out / MODEL_DIR).exists()
    assert prepare_out_dir(out, dataclasses.replace(SMALL, seed=4)) is False  # another season
    assert not (out / "season").exists()


def test_video_spot_refuses_features_made_differently(demo, tmp_path):
    from soccerspot.pipeline.inference.checkpoints import load_checkpoint
    from soccerspot.pipeline.inference.video_spot import spot_video

    out, summary = demo
    head = load_checkpoint(summary["checkpoint"])
    video = out / "season" / summary["games"]["test"][0] / VIDEO_NAME.format(half=1)
    target = tmp_path / "spot"
    made = load_features(out / "season" / summary["games"]["test"][0], 1, summary["feature_name"])
    other = FeatureMeta.from_json({**made.meta.to_json(), "transform": "resize"})
    write_features(target, 1, summary["feature_name"], made.array[:], other)
    with pytest.raises(DataError, match="not overwritten"):
        spot_video(video, head, out_dir=target, progress=False)
    assert load_features(target, 1, summary["feature_name"]).meta.transform == "resize"

    peer_like = dataclasses.replace(head, feature_settings=None)
    with pytest.raises(DataError, match="no feature settings"):
        spot_video(video, peer_like, out_dir=tmp_path / "peer", progress=False)


def test_spot_command_takes_a_game_folder_of_videos(demo, tmp_path):
    from soccerspot.pipeline.cli import main

    out, summary = demo
    game = tmp_path / "game"
    game.mkdir()
    source = out / "season" / summary["games"]["test"][0]
    for half in (1, 2):
        shutil.copy(source / VIDEO_NAME.format(half=half), game / VIDEO_NAME.format(half=half))
    assert main(["spot", str(game), "--model", summary["checkpoint"], "--precision", SMALL.precision]) == 0
    spotted = read_predictions(game / PREDICTIONS_FILE).predictions
    reference = read_predictions(out / "predictions" / summary["games"]["test"][0] / PREDICTIONS_FILE).predictions
    assert {p.half for p in spotted} == {1, 2}
    key = lambda p: (p.half, p.label, p.position_ms)  # noqa: E731
    assert sorted(map(key, spotted)) == sorted(map(key, reference))
