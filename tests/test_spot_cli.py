"""`soccerspot spot`: features -> results_spotting.json per game, bad input reported, nothing overwritten."""
import json

import numpy as np
import pytest
import torch

from soccerspot.errors import DataError
from soccerspot.data.features import FeatureMeta, write_features
from soccerspot.data.labels import read_predictions
from soccerspot.models.heads import create_head
from soccerspot.models.heads.pooling_head import PoolingHeadConfig
from soccerspot.models.heads.transformer import TransformerHeadConfig
from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.spot import spot_features, spot_paths
from soccerspot.pipeline.inference.checkpoints import load_checkpoint

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
    config = PoolingHeadConfig(kind="avgpool", input_dim=3, num_classes=2, window_frames=7, projection_dim=None)
    head = create_head(config)
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
    assert main(["spot", str(tree), "--model", str(model), "--out", str(tmp_path / "r"), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "1 error(s)" in captured.out
    errors = captured.err.splitlines()
    assert len(errors) == 1 and "2_toy.npy: row 123 holds NaN or inf" in errors[0]
    assert (tmp_path / "r/a/2015/game2/results_spotting.json").is_file()
    assert not (tmp_path / "r/a/2015/game1/results_spotting.json").exists()


def test_features_made_differently_are_refused(tmp_path, capsys):
    tree = make_tree(tmp_path / "features", {("g", 1): [("Goal", 60)]}, backbone="resnet50", pca="pca:abc")
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "r")]) == 1
    output = capsys.readouterr().err
    assert "other settings than the head" in output
    assert "backbone: features 'resnet50', head 'toy'; pca: features 'pca:abc', head None" in output


def test_frame_rate_mismatch_is_refused_even_without_feature_settings(tmp_path, capsys):
    tree = make_tree(tmp_path / "features", {("g", 1): [("Goal", 60)]}, fps=1.0, step=1.0)
    model = make_detector(tmp_path / "model", feature_settings=None)
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "r")]) == 1
    assert "features are sampled at 1.0 fps but the head" in capsys.readouterr().err


def test_feature_width_mismatch(tmp_path, capsys):
    write_features(tmp_path / "g", 1, NAME, np.zeros((50, 5), np.float32), meta())
    model = make_detector(tmp_path / "model", feature_settings=None)
    assert main(["spot", str(tmp_path / "g"), "--model", str(model), "--out", str(tmp_path / "r")]) == 1
    assert "features are 5-d but the head" in capsys.readouterr().err


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


# --- precision is not identity ---------------------------------------------------------------------------


@pytest.mark.parametrize("trained, extracted", [("fp32", "bf16"), ("bf16", "fp32"), ("fp16", "fp32")])
def test_features_at_another_precision_are_spotted_with_one_warning(tmp_path, capsys, trained, extracted):
    events = {("a/g1", 1): [("Goal", 60)], ("a/g1", 2): [("Corner", 30)], ("a/g2", 1): [("Goal", 100)]}
    same = make_tree(tmp_path / "same", events, precision=trained)
    other = make_tree(tmp_path / "other", events, precision=extracted)
    model = make_detector(tmp_path / "model", meta(dim=3, precision=trained).settings())
    assert main(["spot", str(same), "--model", str(model), "--out", str(tmp_path / "r1"), "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["spot", str(other), "--model", str(model), "--out", str(tmp_path / "r2"), "--no-progress"]) == 0
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 1  # one line for the whole batch, not one per half
    assert warnings[0].startswith("soccerspot spot: warning: features computed at " + extracted)
    assert f"trained on {trained} features" in warnings[0] and "(2 games)" in warnings[0]
    for game in ("a/g1", "a/g2"):  # the same numbers give the same spots, whatever precision they claim
        assert spots(tmp_path / "r2" / game / "results_spotting.json") == spots(tmp_path / "r1" / game / "results_spotting.json")


def test_identity_still_refused_when_precision_also_differs(tmp_path, capsys):
    tree = make_tree(tmp_path / "f", {("g", 1): [("Goal", 60)]}, precision="bf16", transform="resize")
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "r")]) == 1
    error = capsys.readouterr().err
    assert "transform: features 'resize', head 'none'" in error and "precision" not in error


def test_feature_identity_leaves_out_only_the_precision():
    settings = meta(dim=3, pca="pca:1").settings()
    identity = meta(dim=3, pca="pca:1").identity()
    assert set(settings) - set(identity) == {"precision"}
    assert all(identity[key] == settings[key] for key in identity)
    assert meta(precision="bf16").identity() == meta(precision="fp32").identity()
    assert meta(input_size=112).identity() != meta().identity()


# --- options ---------------------------------------------------------------------------------------------


def test_batch_size_and_device_options_give_the_same_spots(tmp_path):
    tree = make_tree(tmp_path / "f", {("g", 1): [("Goal", 60), ("Corner", 150)]})
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "a")]) == 0
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "b"), "--method", "per-window",
                 "--batch-size", "3", "--device", "cpu", "--no-progress"]) == 0
    assert spots(tmp_path / "b/results_spotting.json") == spots(tmp_path / "a/results_spotting.json")


def make_peer(path, outputs: int = 5, dim: int = 3):
    """A fc-only (max pooling) peer checkpoint with `outputs - 1` classes: not a number whose names are known."""
    path.parent.mkdir(parents=True, exist_ok=True)
    weight = torch.zeros(outputs, dim)
    weight[1, 0] = weight[2, 1] = 14.0
    torch.save({"state_dict": {"fc.weight": weight, "fc.bias": torch.tensor([0.0] + [-4.0] * (outputs - 1))}}, path)
    return path


def test_peer_checkpoint_with_classes_given(tmp_path, capsys):
    make_tree(tmp_path / "f", {("g", 1): [("Goal", 60)]})
    peer = make_peer(tmp_path / "peer" / "model.pth.tar")
    assert main(["spot", str(tmp_path / "f/g"), "--model", str(peer), "--out", str(tmp_path / "r")]) == 1
    assert "--classes" in capsys.readouterr().err
    assert main(["spot", str(tmp_path / "f/g"), "--model", str(peer), "--out", str(tmp_path / "r"),
                 "--classes", "Goal,Corner,Foul,Card"]) == 0
    found = read_predictions(tmp_path / "r/results_spotting.json").predictions
    assert {p.label for p in found} == {"Goal", "Corner", "Foul", "Card"}  # the names given, in output order
    best = max(found, key=lambda p: p.confidence)
    # the goal bump (30 s) drives output 1 = "Goal"; a max-pooling window of 20 s sees it from 10 s away
    assert best.label == "Goal" and abs(best.position_ms - 30000) <= 10000
    assert max(p.confidence for p in found if p.label == "Corner") < 0.1 < best.confidence


# --- bad input: one line, exit 1 (data) or 2 (usage), never a traceback ----------------------------------


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("soccerspot spot: error: ")
    return lines[0]


@pytest.mark.parametrize("flags, named", [
    (["--batch-size", "0"], "--batch-size"),
    (["--nms-window", "-1"], "--nms-window"),
    (["--nms-window", "0"], "--nms-window"),
    (["--threshold", "1.5"], "--threshold"),
    (["--window", "0"], "--window"),
    (["--device", "nonsense"], "--device nonsense"),
    (["--classes", "Goal,,Corner"], "--classes"),
    (["--classes", "Goal,Goal"], "--classes"),
    (["--classes", "Corner,Goal"], "--classes is for peer checkpoints"),
    (["--precision", "bf16"], "--precision"),
    (["--pca", "x.npz"], "--pca"),
    (["--features", "scores"], "--features scores"),
])
def test_bad_option_values_exit_2_naming_the_flag(tmp_path, capsys, flags, named):
    make_tree(tmp_path / "f", {("g", 1): [("Goal", 60)]})
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tmp_path / "f/g"), "--model", str(model), "--out", str(tmp_path / "r"), *flags]) == 2
    assert named in one_error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_fast_method_for_a_head_without_one_exits_2(tmp_path, capsys):
    config = TransformerHeadConfig(kind="transformer", input_dim=3, num_classes=2, window_frames=8)
    checkpoint = save_checkpoint(tmp_path / "model", create_head(config), config, classes=CLASSES,
                                 feature_settings=meta(dim=3).settings(), fps=2.0)
    make_tree(tmp_path / "f", {("g", 1): [("Goal", 60)]})
    assert main(["spot", str(tmp_path / "f/g"), "--model", str(checkpoint), "--method", "fast"]) == 2
    assert "--method fast" in one_error_line(capsys)


def test_peer_classes_of_the_wrong_length_exit_1_naming_the_checkpoint(tmp_path, capsys):
    make_tree(tmp_path / "f", {("g", 1): [("Goal", 60)]})
    peer = make_peer(tmp_path / "peer" / "model.pth.tar")
    assert main(["spot", str(tmp_path / "f/g"), "--model", str(peer), "--classes", "Goal,Corner"]) == 1
    line = one_error_line(capsys)
    assert str(peer) in line and "2 class names given (--classes) for a head with 4 classes" in line


def _garbage_weights(model):
    (model / "model.pt").write_bytes(b"not a checkpoint at all")


def _truncated_weights(model):
    data = (model / "model.pt").read_bytes()
    (model / "model.pt").write_bytes(data[: len(data) // 2])


def _bad_config(model):
    (model / "config.json").write_text("{ not json")


def _wrong_format(model):
    (model / "config.json").write_text(json.dumps({"format": "something else"}))


@pytest.mark.parametrize("damage, named", [
    (_garbage_weights, "model.pt"), (_truncated_weights, "model.pt"), (_bad_config, "config.json"),
    (_wrong_format, "config.json"),
])
def test_corrupt_checkpoints_exit_1_naming_the_file(tmp_path, capsys, damage, named):
    make_tree(tmp_path / "f", {("g", 1): [("Goal", 60)]})
    model = make_detector(tmp_path / "model")
    damage(model)
    assert main(["spot", str(tmp_path / "f/g"), "--model", str(model)]) == 1
    assert named in one_error_line(capsys)


def test_missing_checkpoint_exits_1(tmp_path, capsys):
    make_tree(tmp_path / "f", {("g", 1): [("Goal", 60)]})
    assert main(["spot", str(tmp_path / "f/g"), "--model", str(tmp_path / "nothing")]) == 1
    assert str(tmp_path / "nothing") in one_error_line(capsys)


def _not_npy(game):
    (game / "1_toy.npy").write_bytes(b"garbage")


def _three_d(game):
    np.save(game / "1_toy.npy", np.zeros((4, 3, 2), np.float32))


def _bad_sidecar_json(game):
    (game / "1_toy.json").write_text("{")


def _bad_fps(game):
    side = json.loads((game / "1_toy.json").read_text())
    (game / "1_toy.json").write_text(json.dumps({**side, "fps": "two"}))


def _short_timestamps(game):
    side = json.loads((game / "1_toy.json").read_text())
    (game / "1_toy.json").write_text(json.dumps({**side, "timestamps": [0.0, 0.5]}))


def _rows_disagree(game):
    np.save(game / "1_toy.npy", np.zeros((10, 3), np.float32))


@pytest.mark.parametrize("damage, named", [
    (_not_npy, "1_toy.npy"), (_three_d, "1_toy.npy"), (_bad_sidecar_json, "1_toy.json"), (_bad_fps, "1_toy.json"),
    (_short_timestamps, "1_toy.json"), (_rows_disagree, "1_toy.npy"),
])
def test_bad_feature_files_exit_1_naming_the_file(tmp_path, capsys, damage, named):
    make_tree(tmp_path / "f", {("g", 1): [("Goal", 60)]})
    damage(tmp_path / "f/g")
    model = make_detector(tmp_path / "model", feature_settings=None)
    assert main(["spot", str(tmp_path / "f/g/1_toy.npy"), "--model", str(model), "--out", str(tmp_path / "r")]) == 1
    line = one_error_line(capsys)
    assert named in line
    assert not (tmp_path / "r/results_spotting.json").exists()
