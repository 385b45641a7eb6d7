"""Whole-half inference of dense frame models against the peers' own inference code.

Both sides read the same frames (PNG bytes in the peers' `.jpg` file names: `torchvision.io.read_image`
decodes by content, so no JPEG loss enters the comparison) and run the same deterministic model: the
peers through their inference datasets and `evaluate` / `mAPevaluateTest`, soccerspot through
`pipeline.inference.dense_half.half_probabilities`. Per-frame probabilities agree within 1e-6, and the spots
after each peer's NMS are the same.
"""
from __future__ import annotations

import importlib.machinery
import json
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from peer_code import imported_from, peer_repo
from dense_helpers import IMAGENET, TinyDense
from soccerspot.models.dense.registry import PAD_BLACK, PAD_NORMALISED_ZERO, DenseInput
from soccerspot.pipeline.inference.dense_clips import (
    E2E_SPOT_RULE, TDEED_RULE, FrameAverage, clip_probabilities, clip_starts, displaced_probabilities, team_columns,
)
from soccerspot.pipeline.inference.dense_half import half_probabilities
from soccerspot.pipeline.inference.nms import grouped_soft_nms, peak_nms

def random_frames(count: int, seed: int, height: int = 12, width: int = 20) -> np.ndarray:
    generator = np.random.default_rng(seed)
    base = generator.integers(0, 256, size=(count, 1, 1, 3))
    noise = generator.integers(-40, 40, size=(count, height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def write_frames(folder, frames: np.ndarray, names) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in zip(frames, names):
        Image.fromarray(frame).save(folder / name, format="PNG")


class Batches:
    def __init__(self, frames: np.ndarray, size: int):
        self.frames, self.size = frames, size

    def __iter__(self):
        for begin in range(0, len(self.frames), self.size):
            chunk = self.frames[begin: begin + self.size]
            yield types.SimpleNamespace(frames=chunk, times=np.arange(begin, begin + len(chunk)) / 25.0)


def no_workers(loader):
    def make(*args, **kwargs):
        kwargs["num_workers"] = 0
        kwargs["pin_memory"] = False
        return loader(*args, **kwargs)
    return make


@pytest.fixture
def tabulate_stub(monkeypatch):
    """train_e2e imports tabulate to print tables; it is not a dependency of ours."""
    module = types.ModuleType("tabulate")
    module.tabulate = lambda *args, **kwargs: ""
    module.__spec__ = importlib.machinery.ModuleSpec("tabulate", None)
    monkeypatch.setitem(sys.modules, "tabulate", module)


# ------------------------------------------------------------------------------------------------ pieces


@pytest.mark.parametrize("frames", [1, 7, 50, 51, 96, 200])
@pytest.mark.parametrize("clip_len,overlap", [(100, 50), (100, 75), (16, 8)])
def test_clip_starts_cover_every_frame(frames, clip_len, overlap):
    starts = clip_starts(frames, clip_len, overlap)
    assert starts[0] == -5 and np.all(np.diff(starts) == clip_len - overlap)
    covered = np.zeros(frames, dtype=int)
    for start in starts:
        covered[max(0, start): max(0, min(frames, start + clip_len))] += 1
    assert covered.min() >= 1


def test_displacement_and_team_against_their_functions(peer_code_root):
    root = peer_repo("SoccerNet/sn-teamspotting", peer_code_root)
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 24, 7, generator=generator) * 3
    displacement = torch.randn(3, 24, generator=generator) * 4
    displacement[0, :4] = torch.tensor([0.5, 1.5, -2.5, -0.5])  # halves: torch rounds them to even
    team = torch.randn(3, 24, generator=generator) * 2
    with imported_from(root):
        from model.modules import process_prediction, process_predictionTeam

        theirs = process_predictionTeam(process_prediction(logits, displacement), team)
    ours = team_columns(displaced_probabilities(torch.softmax(logits, dim=2), displacement), team)
    assert torch.equal(ours, theirs)
    assert torch.equal(clip_probabilities(logits, displacement, team, TDEED_RULE), theirs)


def test_frame_average_refuses_an_uncovered_frame_for_e2e_spot():
    average = FrameAverage(3, "every-clip")
    average.add(0, np.ones((4, 3), np.float32), 10)
    with pytest.raises(ValueError, match="frame 4"):
        average.result(10)


# ------------------------------------------------------------------------------------------------ E2E-Spot


@pytest.mark.parametrize("num_frames", [9, 40, 77])
def test_e2e_spot_half_equals_their_evaluate(num_frames, peer_code_root, tmp_path, monkeypatch, tabulate_stub):
    clip_len, classes = 16, {"A": 1, "B": 2, "C": 3}
    root = peer_repo("jhong93/spot", peer_code_root)
    frames = random_frames(num_frames, seed=num_frames)
    write_frames(tmp_path / "frames" / "v", frames, [f"{i:06d}.jpg" for i in range(num_frames)])
    (tmp_path / "test.json").write_text(json.dumps(
        [{"video": "v", "num_frames": num_frames, "num_events": 0, "events": [], "fps": 25 / 12,
          "width": 20, "height": 12}]))
    model = TinyDense(clip_len, len(classes)).eval()
    spec = DenseInput(*IMAGENET, padding=PAD_NORMALISED_ZERO)

    monkeypatch.setattr(np, "int", int, raising=False)  # their get_labels uses the alias NumPy 1.24 removed
    captured = {}
    with imported_from(root):
        import train_e2e
        from dataset.frame import ActionSpotVideoDataset
        from util.eval import non_maximum_supression

        monkeypatch.setattr(train_e2e, "DataLoader", no_workers(train_e2e.DataLoader))
        original = train_e2e.process_frame_predictions

        def capture(dataset, classes_, pred_dict, **kwargs):
            result = original(dataset, classes_, pred_dict, **kwargs)
            captured.update({video: scores for video, (scores, _) in pred_dict.items()})
            captured["events"] = result[3]
            return result

        monkeypatch.setattr(train_e2e, "process_frame_predictions", capture)
        peer = train_e2e.E2EModel.__new__(train_e2e.E2EModel)
        peer._model, peer.device = nn.Module(), "cpu"
        peer._model.forward = lambda x: model(x).logits
        dataset = ActionSpotVideoDataset(classes, str(tmp_path / "test.json"), str(tmp_path / "frames"), "rgb",
                                         clip_len, overlap_len=clip_len // 2, crop_dim=None)
        train_e2e.evaluate(peer, dataset, "TEST", classes, None, calc_stats=False)
        their_spots = non_maximum_supression(captured["events"], 2)[0]["events"]

    ours = half_probabilities(model, Batches(frames, 6), clip_len=clip_len, rule=E2E_SPOT_RULE, spec=spec,
                              clips_per_batch=3)
    assert ours.probabilities.shape == captured["v"].shape
    np.testing.assert_allclose(ours.probabilities, captured["v"], atol=1e-6, rtol=0)
    assert ours.clips == len(dataset)
    names = {index: name for name, index in classes.items()}
    our_spots = sorted((names[c], frame, score) for c in names
                       for frame, score in peak_nms(ours.probabilities[:, c], 2, 0.01))
    their_spots = sorted((e["label"], e["frame"], e["score"]) for e in their_spots)
    assert [spot[:2] for spot in our_spots] == [spot[:2] for spot in their_spots]
    np.testing.assert_allclose([s[2] for s in our_spots], [s[2] for s in their_spots], atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------------------ T-DEED


@pytest.mark.parametrize("source_frames,team", [(23, True), (180, True), (181, False)])
def test_tdeed_half_equals_their_test_inference(source_frames, team, peer_code_root, tmp_path, monkeypatch):
    clip_len, base = 20, ["PASS", "DRIVE", "SHOT"]
    classes = ({f"{name}-{side}": 2 * i + 1 + k for i, name in enumerate(base) for k, side in enumerate(("left", "right"))}
               if team else {name: i + 1 for i, name in enumerate(base)})
    root = peer_repo("SoccerNet/sn-teamspotting", peer_code_root)
    frames = random_frames(source_frames, seed=source_frames)
    write_frames(tmp_path / "frames" / "g", frames, [f"frame{i}.jpg" for i in range(source_frames)])
    (tmp_path / "challenge.json").write_text(json.dumps([{"video": "g", "num_frames": source_frames, "events": []}]))
    model = TinyDense(clip_len, len(base), displacement=True, team=team, seed=1).eval()
    spec = DenseInput(*IMAGENET, padding=PAD_BLACK)
    monkeypatch.chdir(root)  # their dataset reads data/soccernet/labels_path.txt

    captured = {}
    with imported_from(root):
        import util.eval as their_eval
        from dataset.frame import ActionSpotVideoDataset
        from model.model import TDEEDModel

        monkeypatch.setattr(their_eval, "DataLoader", no_workers(their_eval.DataLoader))
        original = their_eval.process_frame_predictions

        def capture(dataset, classes_, pred_dict, threshold=0.01):
            result = original(dataset, classes_, pred_dict, threshold=threshold)
            captured.update({video: scores for video, (scores, _) in pred_dict.items()})
            return result

        monkeypatch.setattr(their_eval, "process_frame_predictions", capture)

        class Impl(nn.Module):
            _double_head = False

            def forward(self, x, inference=True):
                normalised = ((x / 255.0) - torch.tensor(IMAGENET[0]).view(3, 1, 1)) / torch.tensor(IMAGENET[1]).view(3, 1, 1)
                output = model(normalised)
                result = {"im_feat": output.logits, "displ_feat": output.displacement}
                if output.team is not None:
                    result["team_feat"] = output.team
                return result, None

        peer = TDEEDModel.__new__(TDEEDModel)
        peer._model, peer.device = Impl(), "cpu"
        dataset = ActionSpotVideoDataset(classes, str(tmp_path / "challenge.json"), str(tmp_path / "frames"), "rgb",
                                         clip_len, overlap_len=clip_len // 4 * 3, stride=2, dataset="soccernetball",
                                         event_team=team)
        their_eval.mAPevaluateTest(peer, "challenge", dataset, classes, printed=False, event_team=team,
                                   pred_file=str(tmp_path / "preds"), postprocessing="SNMS")
    their_spots = json.loads((tmp_path / "preds" / "g" / "results_spotting.json").read_text())["predictions"]

    read = frames[::2]  # their test stride 2: every second frame of the 25 fps extraction
    ours = half_probabilities(model, Batches(read, 7), clip_len=clip_len, rule=TDEED_RULE, spec=spec,
                              clips_per_batch=2)
    assert ours.probabilities.shape == captured["g"].shape
    np.testing.assert_allclose(ours.probabilities, captured["g"], atol=1e-6, rtol=0)
    assert ours.clips == len(dataset)

    sides = ("left", "right") if team else (None,)
    our_spots = []
    for i, name in enumerate(base):
        columns = ours.probabilities[:, 1 + len(sides) * i: 1 + len(sides) * (i + 1)]
        for frame, column, score in grouped_soft_nms(columns, 12, 0.01):
            our_spots.append((name, sides[column], int(frame / 25 * 1000 * 2), score))
    their_spots = sorted((p["label"], p.get("team"), p["position"], p["confidence"]) for p in their_spots)
    our_spots = sorted(our_spots)
    assert [spot[:3] for spot in our_spots] == [spot[:3] for spot in their_spots]
    np.testing.assert_allclose([s[3] for s in our_spots], [s[3] for s in their_spots], atol=1e-6, rtol=0)
    assert len(our_spots) > 3
