"""Training T-DEED (`train-dense` with the `tdeed-ball` / `tdeed-soccernetv2` presets): their clip targets
(labels dilated by radi_displacement, displacement, team) and their loss, against the authors' own
`TDEEDModel.epoch()` (SoccerNet/sn-teamspotting with its team BCE, arturxe2/T-DEED without) on the same
random outputs and the targets our clip dataset gives, with and without mixup."""
from __future__ import annotations

import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from peer_code import imported_from, peer_repo

from soccerspot.data.dense_training_clips import (
    NO_TEAM, DenseClipDataset, DenseClipSettings, DenseTrack, clip_targets, peer_frame_rows,
)
from soccerspot.pipeline.training.dense_losses import TDEEDLoss

NUM_CLASSES = 3
CLIP = 12


class _Cache:
    def __init__(self, rows: int):
        self.array = np.zeros((rows, 2, 2, 3), dtype=np.uint8)
        self.path = Path("cache")


def _track(rows: int = 60) -> DenseTrack:
    # events close together (their labels overwrite), one without a team, one near each edge
    events = [(1, 0, 0), (9, 2, 1), (12, 1, 0), (13, 0, NO_TEAM), (30, 2, 1), (33, 1, 1), (58, 0, 0)]
    return DenseTrack("g", 1, _Cache(rows), np.array([e[0] for e in events]), np.array([e[1] for e in events]),
                      np.array([e[2] for e in events]))


def their_clip_targets(track: DenseTrack, base: int, clip_len: int, radius: int):
    """Their `_store_clips` event loop and `_get_one` (sn-teamspotting `dataset/frame.py`), transcribed on rows
    (stride 1: `label_idx = event_row - base`); team classes as their `load_classes(event_team=True)` numbers
    them (class c, left -> 2c + 1, right -> 2c + 2)."""
    stored, stored_d = [], []
    for row, cls, team in zip(track.event_rows, track.event_classes, track.event_teams):
        label_idx = int(row) - base
        if -radius <= label_idx < clip_len + radius:
            label = 2 * int(cls) + 1 + (1 if team == 1 else 0)
            for i in range(max(0, label_idx - radius), min(clip_len, label_idx + radius + 1)):
                stored.append({"label": label, "label_idx": i, "team": int(team)})
                stored_d.append({"displ": i - label_idx, "label_idx": i})
    labels = np.zeros(clip_len, np.int64)
    labels_team = np.zeros(clip_len, np.int64) - 1
    for entry in stored:
        labels[entry["label_idx"]] = -(-entry["label"] // 2)  # math.ceil(label / 2)
        labels_team[entry["label_idx"]] = (entry["label"] + 1) % 2 if entry["team"] != NO_TEAM else -1
    labels_d = np.zeros(clip_len, np.int64)
    for entry in stored_d:
        labels_d[entry["label_idx"]] = entry["displ"]
    return labels, labels_d, labels_team


@pytest.mark.parametrize("base", [-5, 0, 3, 7, 25, 50])
def test_clip_targets_are_their_labels_displacements_and_teams(base):
    track = _track()
    ours = clip_targets(track, base, CLIP, 4)
    theirs = their_clip_targets(track, base, CLIP, 4)
    for mine, their in zip(ours, theirs):
        assert mine.tolist() == their.tolist()


def test_peer_rows_are_their_frame_numbers_over_the_stride():
    # their label_idx = (int(int(position) / 1000 * 25) - base) // stride, base a multiple of the stride
    positions = np.array([0, 39, 40, 79, 80, 120, 1_000, 123_456, 2_699_960])
    for fps, stride in ((12.5, 2), (25 / 12, 12)):
        expected = [int(int(p) / 1000 * 25) // stride for p in positions.tolist()]
        assert peer_frame_rows(positions, fps).tolist() == expected


def test_stored_clips_start_every_step_and_can_keep_only_clips_with_labels():
    track = _track(60)
    settings = DenseClipSettings(clip_len=CLIP, clips=200, pad_len=5, start_step=5, displacement_radius=2)
    dataset = DenseClipDataset([track], NUM_CLASSES, settings, seed=3)
    # their range(-pad * stride, max(0, video_len - 1 + (2 * pad - clip_len) * stride), overlap), in rows
    assert sorted(set(dataset.clip_base.tolist())) == list(range(-5, 60 - 1 + 10 - CLIP, 5))
    only = DenseClipDataset([track], NUM_CLASSES, DenseClipSettings(
        clip_len=CLIP, clips=50, start_step=5, displacement_radius=2, event_clips_only=True), seed=3)
    assert all(clip_targets(track, int(b), CLIP, 2)[0].any() for b in only.stored[:, 1])
    assert len(only.stored) < len(dataset.stored)


class _Loader(list):
    """A one-batch loader with the attributes their epoch() reads from `loader.dataset`."""

    def __init__(self, batch: dict, radius: int, team: bool):
        super().__init__([batch])
        self.dataset = types.SimpleNamespace(_radi_displacement=radius, _event_team=team)


class _Outputs(torch.nn.Module):
    """Stands in for their `Impl`: returns fixed outputs, as their forward does (a dict, and y)."""

    def __init__(self, outputs: dict):
        super().__init__()
        self.outputs, self._double_head = outputs, False

    def forward(self, x, y=None, inference=False):
        return dict(self.outputs), y


def their_loss(root: Path, outputs: dict, batch: dict, radius: int, team: bool, weights: list[float]) -> float:
    """Their `TDEEDModel.epoch(loader)` (no optimizer: the loss only) on one batch, their mixup weights
    replaced by `weights` (their `random.betavariate` calls, one per clip)."""
    with imported_from(root):
        from model import model as their_model

        model = their_model.TDEEDModel.__new__(their_model.TDEEDModel)
        model.device, model._num_classes = "cpu", NUM_CLASSES + 1
        model._args = types.SimpleNamespace(num_classes=NUM_CLASSES)
        model._model = _Outputs(outputs)
        draws = iter(weights)
        their_model.random = types.SimpleNamespace(betavariate=lambda a, b: next(draws))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # their autocast("cuda") on a machine without CUDA
            result = model.epoch(_Loader(batch, radius, team))
    return float(result["loss"]) if isinstance(result, dict) else float(result)


def _batches(mixup: bool, team: bool, radius: int = 4, seed: int = 0):
    track = _track()
    settings = DenseClipSettings(clip_len=CLIP, clips=5, mixup_alpha=0.2 if mixup else 0.0, start_step=1,
                                 displacement_radius=radius, teams=team)
    dataset = DenseClipDataset([track], NUM_CLASSES, settings, seed=seed)
    inputs, targets = dataset.get_batch(range(5))
    batch = {"frame": torch.zeros(5, CLIP, 3, 2, 2)}
    keys = ("label", "labelD", "labelT")
    first = [clip_targets(track, int(b), CLIP, radius) for b in dataset.clip_base]
    for k, key in enumerate(keys):
        batch[key] = torch.from_numpy(np.stack([t[k] for t in first]))
    weights = []
    if mixup:
        second = [clip_targets(track, int(b), CLIP, radius) for b in dataset.mix_base]
        batch["frame2"] = torch.zeros(5, CLIP, 3, 2, 2)
        for k, key in enumerate(keys):
            batch[key + "2"] = torch.from_numpy(np.stack([t[k] for t in second]))
        weights = dataset.mix_weight.astype(np.float64).tolist()
    if not team:
        for key in ("labelT", "labelT2"):
            batch.pop(key, None)
    return targets, batch, weights


def _random_outputs(seed: int, team: bool):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(5, CLIP, NUM_CLASSES + 1, generator=generator) * 2
    displacement = torch.randn(5, CLIP, generator=generator) * 3
    team_logit = torch.randn(5, CLIP, generator=generator) if team else torch.zeros(5, CLIP)
    packed = torch.cat([logits, displacement[..., None], team_logit[..., None]], dim=-1)[None]
    theirs = {"im_feat": logits, "displ_feat": displacement}
    if team:
        theirs["team_feat"] = team_logit
    return packed, theirs


@pytest.mark.parametrize("mixup", [True, False])
def test_the_team_loss_is_sn_teamspottings(peer_code_root, mixup):
    root = peer_repo("SoccerNet/sn-teamspotting", peer_code_root)
    targets, batch, weights = _batches(mixup, team=True, seed=1)
    assert (targets[..., -1] != NO_TEAM).any() and (targets[..., -1] == NO_TEAM).any()
    packed, outputs = _random_outputs(2, team=True)
    ours = TDEEDLoss(NUM_CLASSES, 5.0, soft=mixup, displacement=True, team=True)(packed, targets)
    theirs = their_loss(root, outputs, batch, radius=4, team=True, weights=weights)
    assert ours.item() == pytest.approx(theirs, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("mixup", [True, False])
def test_the_loss_without_team_is_arturxe2s(peer_code_root, mixup):
    root = peer_repo("arturxe2/T-DEED", peer_code_root)
    targets, batch, weights = _batches(mixup, team=False, radius=3, seed=4)
    packed, outputs = _random_outputs(5, team=False)
    ours = TDEEDLoss(NUM_CLASSES, 5.0, soft=mixup, displacement=True, team=False)(packed, targets)
    theirs = their_loss(root, outputs, batch, radius=3, team=False, weights=weights)
    assert ours.item() == pytest.approx(theirs, rel=1e-6, abs=1e-6)


def test_sums_over_parts_of_a_batch_add_up_to_the_whole_batchs_loss():
    # the loop's exact-sum contract: parts' sums over the whole batch's counts give the batch's loss
    targets, _, _ = _batches(True, team=True, seed=7)
    packed, _ = _random_outputs(8, team=True)
    loss = TDEEDLoss(NUM_CLASSES, 5.0, soft=False, displacement=True, team=True)
    hard = torch.cat([torch.eye(NUM_CLASSES + 1)[targets[..., :NUM_CLASSES + 1].argmax(-1)], targets[..., -2:]], -1)
    whole = loss(packed, hard)
    counts = loss.counts(hard).clamp(min=1)
    parts = sum((loss.sums(packed[:, rows], hard[rows]) / counts.to(torch.float32)).sum()
                for rows in (slice(0, 2), slice(2, 5)))
    assert parts.item() == pytest.approx(whole.item(), rel=1e-6)
    # a batch without any team row: the team term is absent (theirs: `if len(labelT[labelT != -1]) > 0`)
    no_team = hard.clone()
    no_team[..., -1] = NO_TEAM
    without = TDEEDLoss(NUM_CLASSES, 5.0, soft=False, displacement=True, team=False)
    assert loss(packed, no_team).item() == pytest.approx(without(packed, no_team).item(), rel=1e-6)
