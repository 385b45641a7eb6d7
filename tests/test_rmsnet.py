"""RMS-Net on features: offsets -> rows, the loss, masking, sampling, whole-half votes, checkpoints."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from soccerspot.data.clips import Track
from soccerspot.data.features import FeatureMeta, HalfFeatures
from soccerspot.data.offset_windows import OffsetWindowDataset, mask_before
from soccerspot.models.heads import create_head, head_config
from soccerspot.models.heads.rmsnet import RMSNetLoss, offset_rows
from soccerspot.pipeline.inference.checkpoints import load_checkpoint, save_checkpoint


def track(rows: int = 120, dim: int = 5, events=((20, 0), (60, 1), (62, 2))) -> Track:
    array = np.arange(rows * dim, dtype=np.float32).reshape(rows, dim)  # row r starts with r * dim
    features = HalfFeatures(array, FeatureMeta(num_frames=rows, dim=dim), Path("f.npy"))
    return Track("g", 1, features, np.array([e[0] for e in events]), np.array([e[1] for e in events]))


def test_offsets_point_at_rows():
    starts = torch.tensor([10, -5, 0])
    offsets = torch.tensor([0.5, 0.0, 1.0])
    assert offset_rows(starts, offsets, 41).tolist() == [30, -5, 40]


def test_loss_is_cross_entropy_plus_ten_mse_on_foreground_only():
    outputs = torch.tensor([[2.0, 0.0, -1.0, 0.3], [0.5, 1.5, 0.0, -2.0]])  # 2 classes + background, offset
    targets = torch.tensor([[1.0, 0.25], [0.0, 0.0]])
    by_hand_ce = 0.0
    for row, label in zip(outputs[:, :3].tolist(), [1, 0]):
        by_hand_ce += -(row[label] - math.log(sum(math.exp(v) for v in row)))
    by_hand_ce /= 2
    offset = 1 / (1 + math.exp(-0.3))
    expected = by_hand_ce + 10 * (offset - 0.25) ** 2
    assert RMSNetLoss(10.0)(outputs, targets).item() == pytest.approx(expected, rel=1e-6)


def test_masking_replaces_only_the_rows_before_the_event():
    window, background = np.ones((6, 2)), np.zeros((6, 2))
    assert mask_before(window, background, 3)[:, 0].tolist() == [0, 0, 0, 1, 1, 1]
    assert mask_before(window, background, 0)[:, 0].tolist() == [1] * 6  # event first: nothing before it
    assert window[:, 0].tolist() == [1] * 6  # the input is not changed


def test_sampling_targets_background_and_masked_windows():
    dataset = OffsetWindowDataset([track()], length=10, num_classes=3, seed=0, mask_probability=0.5)
    seen_offsets, masked_any = set(), False
    for epoch in range(40):
        dataset.set_epoch(epoch)
        foreground = dataset.event_offset >= 0
        assert foreground.sum() == 3 and (~foreground).sum() == 1  # round(3 / 3)
        for index in range(len(dataset)):
            start, offset = dataset.window_start[index], dataset.event_offset[index]
            window = dataset.window(index)
            if offset < 0:
                assert dataset.targets[index].tolist() == [0.0, 0.0]
                assert not ((track().event_rows >= start) & (track().event_rows < start + 10)).any()
                continue
            event = start + offset
            label = int(track().event_classes[list(track().event_rows).index(event)])
            assert dataset.targets[index][0] == label + 1
            assert dataset.targets[index][1] == pytest.approx(offset / 9)
            seen_offsets.add(int(offset))
            rows = np.clip(np.arange(start, start + 10), 0, 119)
            np.testing.assert_array_equal(window[offset:, 0], rows[offset:] * 5.0)  # the event and after: as is
            if dataset.mask_source[index][0] >= 0 and offset > 0:
                masked_any = True
                source = dataset.mask_source[index][1]
                np.testing.assert_array_equal(window[:offset, 0], np.arange(source, source + offset) * 5.0)
    assert seen_offsets == set(range(10)) and masked_any


def rmsnet(window: int = 8, dim: int = 5, classes: int = 3, **overrides):
    torch.manual_seed(0)
    return create_head(head_config("rmsnet", input_dim=dim, num_classes=classes, window_frames=window,
                                  hidden_dim=16, fc_dim=8, **overrides)).eval()


@pytest.mark.parametrize("vote", ["sum", "max"])
def test_half_probabilities_equal_a_loop_over_windows(vote):
    model, features = rmsnet(vote=vote), torch.randn(30, 5)
    got = model.half_probabilities(features, batch_size=7)
    votes: dict[int, list[torch.Tensor]] = {}
    for start in range(-7, 30):
        rows = [min(max(start + i, 0), 29) for i in range(8)]
        out = model(features[rows][None])[0]
        probabilities = torch.softmax(out[:4], 0)[1:]
        row = start + int(torch.round(torch.sigmoid(out[4]) * 7))
        if 0 <= row < 30:
            votes.setdefault(row, []).append(probabilities)
    expected = torch.zeros(30, 3)
    for row, received in votes.items():
        stacked = torch.stack(received)
        expected[row] = stacked.sum(0) / 8 if vote == "sum" else stacked.max(0).values
    torch.testing.assert_close(got[:, 1:], expected)
    torch.testing.assert_close(got[:, 0], 1 - expected.max(dim=1).values)


def test_unknown_vote_is_refused():
    with pytest.raises(ValueError, match="vote"):
        rmsnet(vote="mean")


def test_checkpoint_round_trip(tmp_path):
    model = rmsnet()
    save_checkpoint(tmp_path / "ckpt", model, model.config, classes=["A", "B", "C"], fps=2.0, feature_settings=None)
    loaded = load_checkpoint(tmp_path / "ckpt")
    features = torch.randn(20, 5)
    torch.testing.assert_close(loaded.model.half_probabilities(features), model.half_probabilities(features))
    assert loaded.config.mask_probability == 0.5 and loaded.config.offset_weight == 10.0
    assert loaded.config.vote == "sum"


def frame_track(rows: int = 60, events=((10, 0), (30, 1), (33, 2)), half: int = 1):
    """A half of tiny frames whose every pixel holds its row number (uint8), and its events."""
    from types import SimpleNamespace

    from soccerspot.data.video_clips import FrameTrack

    array = np.broadcast_to(np.arange(rows, dtype=np.uint8)[:, None, None, None], (rows, 4, 6, 3)).copy()
    cache = SimpleNamespace(array=array, path=Path(f"half{half}.cache"),
                            meta=SimpleNamespace(timestamps=[r / 2 for r in range(rows)], fps=2.0))
    return FrameTrack("g", half, cache, np.array([e[0] for e in events]), np.array([e[1] for e in events]))


def test_offset_clips_target_their_own_event_and_mask_frames_before_it():
    from soccerspot.data.offset_windows import OffsetClipDataset

    tracks = [frame_track(), frame_track(events=((40, 1),), half=2)]
    events = [(0, 10, 0), (0, 30, 1), (0, 33, 2), (1, 40, 1)]  # (track, row, class)
    for mask in (0.0, 1.0):
        clips = OffsetClipDataset(tracks, 8, 3, seed=3, mask_probability=mask)
        for epoch in (0, 1):
            clips.set_epoch(epoch)
            batch, targets = clips.get_batch(list(range(len(clips))))
            assert batch.shape == (len(clips), 8, 3, 4, 6) and batch.dtype == torch.uint8
            foreground = targets[:, 0] > 0
            assert int(foreground.sum()) == len(events)
            for index, (track_index, row, cls) in enumerate(events):  # one clip per event, its own target
                start = int(clips.clip_start[index])
                offset = row - start
                assert 0 <= offset < 8 and int(clips.clip_track[index]) == track_index
                assert targets[index].tolist() == pytest.approx([cls + 1, offset / 7])
                frames = batch[index, :, 0, 0, 0].tolist()  # each frame's row number (edges replicated)
                expected = [min(max(start + k, 0), 59) for k in range(8)]
                assert frames[offset:] == expected[offset:]  # the event and what follows it are kept
                if mask == 0.0:
                    assert frames == expected
                else:  # the rows before the event come from an event-free clip of one of the halves
                    source_track, source_start = clips.mask_source[index]
                    assert frames[:offset] == [source_start + k for k in range(offset)]
                    rows = np.arange(source_start, source_start + 8)
                    assert not np.isin(tracks[source_track].event_rows, rows).any()
            background = ~foreground
            assert targets[background].abs().sum() == 0
            assert (clips.mask_source[len(events):] == -1).all()  # background clips are never masked
