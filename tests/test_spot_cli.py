"""`soccerspot spot`: features -> results_spotting.json per game, bad input reported, nothing overwritten."""
import json

import numpy as np
import pytest
import torch

from soccerspot.data.errors import DataError
from soccerspot.data.features import FeatureMeta, write_features
from soccerspot.data.labels import read_predictions
from soccerspot.models.heads import HeadConfig, build_head
from soccerspot.pipeline.checkpoints import NmsSettings, save_checkpoint
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.spot import SpotOptions, spot_features, spot_paths
from soccerspot.pipeline.checkpoints import load_checkpoint

NAME = "toy"
CLASSES = ["Goal", "Corner"]
EVENTS = {("a/2015/game1", 1): [("Goal", 60), ("Corner", 150)], ("a/2015/game1", 2): [("Corner", 30)],
          ("a/2015/game2", 1): [("Goal", 100)], ("a/2015/game2", 2): []}


def meta(**overrides) -> FeatureMeta:
    values = dict(backbone="toy", weights="none", fps=2.0, step=0.5, transform="none", precision="fp32")
    return FeatureMeta(**{**values, **overrides})


def bumps(frames: int, events: list[tuple[str, int]]) -> np.ndarray:
    """3-d features: one Gaussian bump per event in its class's dimension."""
    features = np.zeros((frames, 3), np.float32)
    rows = np.arange(frames)
    for label, row in events:
        features[:, CLASSES.index(label)] += np.exp(-0.5 * ((rows - row) / 2.0) ** 2)
    return features


def make_tree(root, events=EVENTS, frames=200, **meta_overrides):
    for (game, half), game_events in events.items():
        write_features(root / game, half, NAME, bumps(frames, game_events), meta(**meta_overrides))
    return root


def make_detector(out_dir, feature_settings="default"):
    """An avgpool head set by hand to fire where a class's bump is centred in the window."""
    config = HeadConfig(kind="avgpool", input_dim=3, num_classes=2, window_frames=7, projection_dim=None)
    head = build_head(config)
    with torch.no_grad():
        head.fc.weight.copy_(torch.tensor([[0.0, 0, -5], [14.0, 0, 0], [0, 14.0, 0]]))
        head.fc.bias.copy_(torch.tensor([0.0, -4.0, -4.0]))
    settings = meta(dim=3).settings() if feature_settings == "default" else feature_settings
    return save_checkpoint(out_dir, head, config, classes=CLASSES, feature_settings=settings, fps=2.0,
                           nms=NmsSettings("hard", 20.0, 0.5), extra={"features": NAME})


def spots(path):
    return sorted((p.half, p.label, p.position_ms) for p in read_predictions(path).predictions)


def test_tree_is_spotted_per_game_with_event_times(tmp_path, capsys):
    tree = make_tree(tmp_path / "features")
    model = make_detector(tmp_path / "model")
    out = tmp_path / "results"
    assert main(["spot", str(tree), "--model", str(model), "--out", str(out)]) == 0
    assert "spotted 2 game(s)" in capsys.readouterr().out
    assert spots(out / "a/2015/game1/results_spotting.json") == [(1, "Corner", 75000), (1, "Goal", 30000),
                                                                  (2, "Corner", 15000)]
    assert spots(out / "a/2015/game2/results_spotting.json") == [(1, "Goal", 50000)]
    saved = json.loads((out / "a/2015/game1/results_spotting.json").read_text())
    assert saved["UrlLocal"] == "a/2015/game1"
    assert all(0.9 < p["confidence"] <= 1 for p in saved["predictions"])


def test_existing_results_are_skipped_unless_overwrite(tmp_path, capsys):
    tree = make_tree(tmp_path / "features")
    model = make_detector(tmp_path / "model")
    existing = tree / "a/2015/game1/results_spotting.json"
    existing.write_text("precious")
    assert main(["spot", str(tree), "--model", str(model)]) == 0  # default: beside the features
    assert "1 skipped" in capsys.readouterr().out
    assert existing.read_text() == "precious"
    assert spots(tree / "a/2015/game2/results_spotting.json") == [(1, "Goal", 50000)]
    assert main(["spot", str(tree), "--model", str(model), "--overwrite"]) == 0
    assert spots(existing)[0] == (1, "Corner", 75000)


def test_single_feature_file_and_game_folder(tmp_path):
    tree = make_tree(tmp_path / "features")
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tree / "a/2015/game2/1_toy.npy"), "--model", str(model), "--out", str(tmp_path / "o1")]) == 0
    assert spots(tmp_path / "o1/results_spotting.json") == [(1, "Goal", 50000)]
    assert main(["spot", str(tree / "a/2015/game1"), "--model", str(model), "--out", str(tmp_path / "o2")]) == 0
    assert len(spots(tmp_path / "o2/results_spotting.json")) == 3


def test_nms_options_override_the_checkpoint(tmp_path):
    events = {("g", 1): [("Goal", 60), ("Goal", 75)]}  # 7.5 s apart
    tree = make_tree(tmp_path / "f", events)
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "a")]) == 0
    assert spots(tmp_path / "a/results_spotting.json") == [(1, "Goal", 30000)]  # checkpoint's 20 s window
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "b"), "--nms-window", "5"]) == 0
    assert spots(tmp_path / "b/results_spotting.json") == [(1, "Goal", 30000), (1, "Goal", 37500)]
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "c"), "--nms", "soft",
                 "--threshold", "0.2"]) == 0
    soft = spots(tmp_path / "c/results_spotting.json")
    # soft-NMS keeps the second goal, its decayed peak pushed slightly away from the first
    assert len(soft) == 2 and soft[0] == (1, "Goal", 30000) and abs(soft[1][2] - 37500) <= 1500


def test_bad_games_are_reported_and_the_batch_goes_on(tmp_path, capsys):
    tree = make_tree(tmp_path / "features")
    bad = bumps(200, [])
    bad[123, 1] = np.nan
    write_features(tree / "a/2015/game1", 2, NAME, bad, meta())
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tree), "--model", str(model), "--out", str(tmp_path / "r")]) == 1
    output = capsys.readouterr().out
    assert "1 error(s)" in output and "2_toy.npy: row 123 holds NaN or inf" in output
    assert (tmp_path / "r/a/2015/game2/results_spotting.json").is_file()
    assert not (tmp_path / "r/a/2015/game1/results_spotting.json").exists()


def test_features_made_differently_are_refused(tmp_path, capsys):
    tree = make_tree(tmp_path / "features", {("g", 1): [("Goal", 60)]}, backbone="resnet50", pca="pca:abc")
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "r")]) == 1
    output = capsys.readouterr().out
    assert "other settings than the head" in output
    assert "backbone: features 'resnet50', head 'toy'; pca: features 'pca:abc', head None" in output


def test_frame_rate_mismatch_is_refused_even_without_feature_settings(tmp_path, capsys):
    tree = make_tree(tmp_path / "features", {("g", 1): [("Goal", 60)]}, fps=1.0, step=1.0)
    model = make_detector(tmp_path / "model", feature_settings=None)
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "r")]) == 1
    assert "features are sampled at 1.0 fps but the head" in capsys.readouterr().out


def test_feature_width_mismatch(tmp_path, capsys):
    write_features(tmp_path / "g", 1, NAME, np.zeros((50, 5), np.float32), meta())
    model = make_detector(tmp_path / "model", feature_settings=None)
    assert main(["spot", str(tmp_path / "g"), "--model", str(model), "--out", str(tmp_path / "r")]) == 1
    assert "features are 5-d but the head" in capsys.readouterr().out


def test_half_shorter_than_a_window(tmp_path):
    tree = make_tree(tmp_path / "f", {("g", 1): [("Goal", 2)]}, frames=4)
    model = make_detector(tmp_path / "model")
    result = spot_features(load_checkpoint(model), tree / "g", NAME, tmp_path / "r.json")
    found = spots(tmp_path / "r.json")
    # windows padded with the edge rows: the goal is found, within the 2 s half
    assert result.status == "spotted" and len(found) == 1 and found[0][:2] == (1, "Goal") and found[0][2] <= 1500


def test_missing_input_and_unknown_features(tmp_path, capsys):
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tmp_path / "nowhere"), "--model", str(model)]) == 1
    assert "no such feature file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    head = load_checkpoint(model)
    with pytest.raises(DataError, match="no game folder below holds 1_other.npy"):
        spot_paths(tmp_path / "empty", head, feature_name="other")


def test_pickled_checkpoint_is_refused_by_the_cli(tmp_path, capsys):
    model = make_detector(tmp_path / "model")
    torch.save({"weights": torch.nn.Linear(2, 2)}, model / "model.pt")  # a whole module: pickled classes
    make_tree(tmp_path / "f", {("g", 1): []})
    assert main(["spot", str(tmp_path / "f"), "--model", str(model)]) == 1
    assert "refused: the checkpoint holds pickled Python objects" in capsys.readouterr().err


@pytest.mark.real
def test_peer_checkpoint_spots_official_features(soccernet_data, tmp_path):
    """MAXPOOL_v2 on an official-style PCA512 feature file (random values: checks the plumbing)."""
    game = tmp_path / "england_epl/2014-2015/2015-02-21 - 18-00 Chelsea 1 - 1 Burnley"
    game.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for half in (1, 2):
        np.save(game / f"{half}_ResNET_TF2_PCA512.npy", rng.standard_normal((300, 512)).astype(np.float32))
    model = soccernet_data / "checkpoints" / "MAXPOOL_v2" / "model.pth.tar"
    assert main(["spot", str(tmp_path), "--model", str(model), "--out", str(tmp_path / "out")]) == 0
    result = read_predictions(tmp_path / "out/england_epl/2014-2015/2015-02-21 - 18-00 Chelsea 1 - 1 Burnley/results_spotting.json")
    assert {p.half for p in result.predictions} == {1, 2}
    assert {p.label for p in result.predictions} <= set(load_checkpoint(model).classes)
    positions = sorted(p.position_ms for p in result.predictions if p.half == 1 and p.label == "Goal")
    assert all(b - a >= 10000 for a, b in zip(positions, positions[1:]))  # NMS 20 s: peaks >= 10 s apart
