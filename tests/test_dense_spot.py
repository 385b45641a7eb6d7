"""A raw video through a dense frame model: the recipe's frames, the clips' average, the peers' NMS, results and
scores at the frames' true times."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dense_helpers import TinyDense
from soccerspot.data.labels import read_predictions
from soccerspot.data.scores import read_scores
from soccerspot.extract.decode import probe
from soccerspot.extract.frame_recipes import E2E_SOCCERNETV2, FrameRecipe, iter_recipe_frames
from soccerspot.pipeline.inference.dense_clips import E2E_SPOT_RULE, TDEED_RULE
from soccerspot.pipeline.inference.dense_half import half_probabilities
from soccerspot.pipeline.inference.dense_spot import DenseNms, DenseSpotter, half_spots, spot_dense_video
from soccerspot.pipeline.inference.nms import grouped_soft_nms
from video_helpers import constant_rate_times, write_video

CLASSES = ["Goal", "Corner", "Foul"]
SMALL_BALL = FrameRecipe("small-ball", sample_fps=25, width=80, height=48, read_stride=2)  # T-DEED's rule, small


def e2e_spotter(clip_len: int = 16) -> DenseSpotter:
    return DenseSpotter(TinyDense(clip_len, len(CLASSES)).eval(), CLASSES, False, E2E_SOCCERNETV2, E2E_SPOT_RULE,
                        DenseNms("peaks", 2), Path("e2e-model"), "e2e-spot")


def tdeed_spotter(clip_len: int = 20) -> DenseSpotter:
    model = TinyDense(clip_len, len(CLASSES), displacement=True, team=True, pad_black=True, seed=2).eval()
    return DenseSpotter(model, CLASSES, True, SMALL_BALL, TDEED_RULE, DenseNms("grouped-soft", 12), Path("tdeed"),
                        "t-deed", bin_ms=40)


@pytest.fixture(scope="module")
def half_video(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dense_game")
    return write_video(folder / "1_224p.mkv", constant_rate_times(25, 12.0), width=96, height=64)


def test_e2e_spot_video_writes_results_and_scores_at_frame_times(half_video, tmp_path):
    spotter = e2e_spotter()
    report = spot_dense_video(half_video, spotter, out_dir=tmp_path / "out", save_scores=True, progress=False)
    [result] = report.results
    assert result.status == "spotted" and result.halves == [1]
    scores = read_scores(tmp_path / "out", 1)
    assert scores.classes == CLASSES
    np.testing.assert_allclose(scores.times, np.arange(0, 300, 12) / 25, atol=1e-6)  # frames 0, 12, 24...
    frames = list(iter_recipe_frames(probe(half_video), E2E_SOCCERNETV2))
    expected = half_probabilities(spotter.model, frames, clip_len=16, rule=E2E_SPOT_RULE,
                                  spec=spotter.model.input_spec)
    np.testing.assert_allclose(scores.probabilities, expected.probabilities[:, 1:], atol=1e-6)
    predictions = read_predictions(tmp_path / "out" / "results_spotting.json").predictions
    assert predictions and {p.label for p in predictions} <= set(CLASSES)
    frame_ms = set(np.round(scores.times * 1000).astype(int))
    assert all(p.position_ms in frame_ms and p.half == 1 for p in predictions)
    again = spot_dense_video(half_video, spotter, out_dir=tmp_path / "out", progress=False)
    assert again.results[0].status == "skipped"


def test_team_model_columns_and_team_spots(half_video, tmp_path):
    spotter = tdeed_spotter()
    spot_dense_video(half_video.parent, spotter, out_dir=tmp_path / "out", save_scores=True, progress=False)
    scores = read_scores(tmp_path / "out", 1)
    assert scores.classes == ["Goal-left", "Goal-right", "Corner-left", "Corner-right", "Foul-left", "Foul-right"]
    np.testing.assert_allclose(scores.times, np.arange(0, 300, 2) / 25, atol=1e-6)  # 12.5 frames a second
    entries = json.loads((tmp_path / "out" / "results_spotting.json").read_text())["predictions"]
    assert entries and {e["team"] for e in entries} <= {"left", "right"}
    goal = scores.probabilities[:, :2]
    kept = grouped_soft_nms(goal, 12, 0.01)
    written = sorted((e["position"], e["team"]) for e in entries if e["label"] == "Goal")
    assert written == sorted((int(round(scores.times[f] * 1000)), ("left", "right")[c]) for f, c, _ in kept)


def test_a_video_shorter_than_one_clip_is_padded_as_theirs(tmp_path):
    video = write_video(tmp_path / "short.mp4", constant_rate_times(25, 3.0), width=64, height=48)
    spotter = e2e_spotter(clip_len=16)  # 3 s = 7 frames at 2.083 fps: one clip, mostly padding
    spot_dense_video(video, spotter, out_dir=tmp_path / "out", save_scores=True, progress=False)
    scores = read_scores(tmp_path / "out", 1)
    assert scores.probabilities.shape == (7, 3)
    assert np.all(np.isfinite(scores.probabilities))


def test_half_spots_refuses_an_unknown_nms_kind():
    spotter = e2e_spotter()
    spotter.nms = DenseNms("hard", 2)
    with pytest.raises(ValueError, match="unknown dense NMS kind"):
        half_spots(np.zeros((4, 4), np.float32), np.arange(4.0), spotter, 1)


@pytest.fixture
def tiny_model_folder(tmp_path, monkeypatch):
    """A folder of a test-only peer format (registered for the test), loading `TinyDense` as E2E-Spot would be."""
    import torch

    from soccerspot.models.dense import registry

    def recognises(folder: Path) -> bool:
        return (folder / "tiny.json").is_file()

    def load(folder: Path, **options) -> registry.PeerDenseModel:
        config = json.loads((folder / "tiny.json").read_text())
        model = TinyDense(config["clip_len"], len(config["classes"]), seed=5)
        model.load_state_dict(torch.load(folder / "tiny.pt", weights_only=True))
        return registry.PeerDenseModel(model.eval(), tuple(config["classes"]), config["recipe"], config["variant"],
                                       folder / "tiny.pt")

    monkeypatch.setitem(registry._PEER_FORMATS, "tiny-test", registry.PeerDenseFormat("tiny-test", recognises, load))
    folder = tmp_path / "tiny_model"
    folder.mkdir()
    reference = TinyDense(16, len(CLASSES), seed=9)
    torch.save(reference.state_dict(), folder / "tiny.pt")
    (folder / "tiny.json").write_text(json.dumps({"clip_len": 16, "classes": CLASSES, "recipe": "e2e-soccernetv2",
                                                  "variant": "E2E-Spot"}))
    return folder, reference


def test_spot_cli_with_a_dense_model_folder(half_video, tiny_model_folder, tmp_path, capsys):
    from soccerspot.pipeline.cli import main

    folder, reference = tiny_model_folder
    out = tmp_path / "out"
    assert main(["spot", str(half_video), "--model", str(folder), "--out", str(out), "--save-scores",
                 "--no-progress", "--precision", "fp32"]) == 0
    scores = read_scores(out, 1)
    frames = list(iter_recipe_frames(probe(half_video), E2E_SOCCERNETV2))
    expected = half_probabilities(reference.eval(), frames, clip_len=16, rule=E2E_SPOT_RULE,
                                  spec=reference.input_spec)
    np.testing.assert_allclose(scores.probabilities, expected.probabilities[:, 1:], atol=1e-6)
    assert read_predictions(out / "results_spotting.json").predictions
    assert "spotted 1 game(s)" in capsys.readouterr().out


def test_spot_cli_dense_model_refusals(half_video, tiny_model_folder, tmp_path, capsys):
    from soccerspot.pipeline.cli import main

    folder, _ = tiny_model_folder
    assert main(["spot", str(half_video), "--model", str(folder), "--nms-window", "3", "--out", str(tmp_path)]) == 2
    assert "--nms-window: not for a dense frame model" in capsys.readouterr().err
    features = tmp_path / "game"
    features.mkdir()
    assert main(["spot", str(features), "--model", str(folder)]) == 1
    assert "spots raw video" in capsys.readouterr().err


@pytest.mark.slow
def test_spot_cli_on_an_e2e_spot_folder_equals_their_evaluate(peer_code_root, tmp_path, monkeypatch):
    """Their model class (random weights, non-trivial BatchNorm statistics) saved as train_e2e.py saves it;
    `soccerspot spot VIDEO --model DIR --save-scores` against their `evaluate` on the same frames."""
    import torch
    from PIL import Image

    from dense_peer_helpers import peer_modules, randomize
    from peer_code import peer_repo
    from soccerspot.pipeline.cli import main

    clip_len = 8
    config = {"batch_size": 8, "clip_len": clip_len, "crop_dim": None, "dataset": "soccernetv2", "dilate_len": 0,
              "dist_tol": 0, "epoch_num_frames": 500000, "feature_arch": "rny002_gsm", "fg_upsample": None,
              "gpu_parallel": False, "learning_rate": 0.001, "mixup": True, "modality": "rgb", "num_classes": 17,
              "num_epochs": 100, "start_val_epoch": 80, "temporal_arch": "gru", "warm_up_epochs": 3}
    root = peer_repo("jhong93/spot", peer_code_root)
    half_video = write_video(tmp_path / "1_224p.mkv", constant_rate_times(25, 5.0), width=96, height=64)
    frames = np.concatenate([b.frames for b in iter_recipe_frames(probe(half_video), E2E_SOCCERNETV2)])
    (tmp_path / "frames" / "v").mkdir(parents=True)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / "frames" / "v" / f"{index:06d}.jpg", format="PNG")
    (tmp_path / "test.json").write_text(json.dumps([{"video": "v", "num_frames": len(frames), "num_events": 0,
                                                      "events": [], "fps": 25 / 12, "width": 398, "height": 224}]))
    monkeypatch.setattr(np, "int", int, raising=False)
    captured = {}
    with peer_modules(root, monkeypatch):
        import train_e2e
        from dataset.frame import ActionSpotVideoDataset

        torch.manual_seed(0)
        impl = randomize(train_e2e.E2EModel.Impl(18, "rny002_gsm", "gru", clip_len, "rgb"), seed=4)
        folder = tmp_path / "soccer_rny002gsm_gru_rgb"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(config))
        torch.save(impl.state_dict(), folder / "checkpoint_088.pt")
        original = train_e2e.process_frame_predictions

        def capture(dataset, classes, pred_dict, **kwargs):
            result = original(dataset, classes, pred_dict, **kwargs)
            captured.update({video: scores for video, (scores, _) in pred_dict.items()})
            return result

        monkeypatch.setattr(train_e2e, "process_frame_predictions", capture)
        monkeypatch.setattr(train_e2e, "DataLoader", lambda *a, **k: torch.utils.data.DataLoader(
            *a, **{**k, "num_workers": 0, "pin_memory": False}))
        peer = train_e2e.E2EModel.__new__(train_e2e.E2EModel)
        peer._model, peer.device = impl, "cpu"
        classes = {f"c{i}": i + 1 for i in range(17)}
        dataset = ActionSpotVideoDataset(classes, str(tmp_path / "test.json"), str(tmp_path / "frames"), "rgb",
                                         clip_len, overlap_len=clip_len // 2, crop_dim=None)
    # after the block: peer_modules makes GSM's padding a CPU tensor on leaving it
    with torch.no_grad():
        train_e2e.evaluate(peer, dataset, "TEST", classes, None, calc_stats=False)

    out = tmp_path / "out"
    assert main(["spot", str(half_video), "--model", str(folder), "--out", str(out), "--save-scores",
                 "--no-progress", "--precision", "fp32"]) == 0
    scores = read_scores(out, 1)
    assert scores.probabilities.shape == (len(frames), 17)
    np.testing.assert_allclose(scores.probabilities, captured["v"][:, 1:], atol=1e-5, rtol=0)
