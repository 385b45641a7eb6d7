"""Training clips of frames: RMS-Net's sampling, targets as for feature windows, balanced batches."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from soccerspot.data.clips import window_labels
from soccerspot.data.frame_store import FrameCache, FrameCacheMeta
from soccerspot.data.labels import Event, GameLabels
from soccerspot.data.video_clips import (
    BACKGROUND, FrameClipDataset, class_balanced_batches, event_free_starts, frame_track, shuffled_batches,
)

CLASSES = {"Goal": 0, "Corner": 1, "Foul": 2}


def fake_cache(rows: int, fps: float = 2.0, height: int = 4, width: int = 6) -> FrameCache:
    """A cache whose frame `r` is filled with `r % 256` (so a clip's rows can be read back)."""
    array = (np.arange(rows, dtype=np.int64) % 256).astype(np.uint8)[:, None, None, None]
    array = np.broadcast_to(array, (rows, height, width, 3)).copy()
    times = [round(r / fps, 6) for r in range(rows)]
    meta = FrameCacheMeta(fps=fps, height=height, width=width, frames=rows, timestamps=times)
    return FrameCache(array, meta, Path(f"cache-{rows}.u8"))


def labels(*events: tuple[int, float, str]) -> GameLabels:
    return GameLabels(url="g", events=[Event(half, int(seconds * 1000), label, "home") for half, seconds, label in events])


def tracks():
    first = frame_track("g1", 1, fake_cache(200), labels((1, 10.0, "Goal"), (1, 40.0, "Corner"), (1, 41.0, "Foul"),
                                                         (2, 5.0, "Goal"), (1, 30.0, "Dive")), CLASSES)
    second = frame_track("g2", 1, fake_cache(120), labels((1, 20.0, "Corner"), (1, 300.0, "Goal")), CLASSES)
    return [first, second]


def test_events_map_to_rows_through_the_caches_times():
    first, second = tracks()
    assert first.event_rows.tolist() == [20, 80, 82] and first.event_classes.tolist() == [0, 1, 2]
    assert second.event_rows.tolist() == [40]  # the event at 300 s lies past this 60-second half: dropped


def test_foreground_clips_hold_their_event_at_uniform_offsets():
    dataset = FrameClipDataset(tracks(), length=10, num_classes=3, seed=1)
    offsets = Counter()
    for epoch in range(300):
        dataset.set_epoch(epoch)
        foreground = np.flatnonzero(dataset.clip_class != BACKGROUND)
        assert len(foreground) == 4
        for index in foreground:
            track = dataset.tracks[dataset.clip_track[index]]
            start = dataset.clip_start[index]
            row = track.event_rows[track.event_classes == dataset.clip_class[index]][0]
            assert start <= row < start + 10
            offsets[int(row - start)] += 1
    counts = np.array([offsets[o] for o in range(10)])
    expected = counts.sum() / 10
    chi_square = ((counts - expected) ** 2 / expected).sum()
    assert chi_square < 27.9, counts  # 9 degrees of freedom, p = 0.001


def test_background_clips_hold_no_event_and_number_nf_over_c():
    dataset = FrameClipDataset(tracks(), length=10, num_classes=3, seed=0)
    background = np.flatnonzero(dataset.clip_class == BACKGROUND)
    assert len(background) == round(4 / 3)
    for epoch in range(50):
        dataset.set_epoch(epoch)
        for index in np.flatnonzero(dataset.clip_class == BACKGROUND):
            track = dataset.tracks[dataset.clip_track[index]]
            start = dataset.clip_start[index]
            assert not ((track.event_rows >= start) & (track.event_rows < start + 10)).any()
            assert 0 <= start <= track.num_rows - 10
            assert dataset.targets[index].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_event_free_starts_against_a_direct_scan():
    track = tracks()[0]
    direct = [s for s in range(track.num_rows - 10 + 1) if not any(s <= r < s + 10 for r in track.event_rows)]
    assert event_free_starts(track, 10).tolist() == direct


def test_targets_equal_the_feature_windows_and_batches_read_the_clip_rows():
    dataset = FrameClipDataset(tracks(), length=10, num_classes=3, seed=2)
    for index in range(len(dataset)):
        track = dataset.tracks[dataset.clip_track[index]]
        expected = window_labels(track, dataset.clip_start[[index]], 10, 3)[0]
        assert dataset.targets[index].tolist() == expected.tolist()
    clips, targets = dataset.get_batch([0, 3])
    assert clips.shape == (2, 10, 3, 4, 6) and clips.dtype.is_floating_point is False
    for slot, index in enumerate([0, 3]):
        rows = dataset.clip_rows(index)
        assert clips[slot, :, 0, 0, 0].tolist() == [r % 256 for r in rows]
        np.testing.assert_allclose(dataset.clip_times(index), rows / 2.0)
    # the event 20 rows into the first half: a clip at the half's start replicates row 0
    starts = window_labels(dataset.tracks[0], np.array([-5]), 10, 3)
    assert starts[0].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_same_seed_and_epoch_give_the_same_clips_and_another_epoch_others():
    a, b = FrameClipDataset(tracks(), 10, 3, seed=5), FrameClipDataset(tracks(), 10, 3, seed=5)
    a.set_epoch(3), b.set_epoch(3)
    assert a.clip_start.tolist() == b.clip_start.tolist()
    b.set_epoch(4)
    assert a.clip_start.tolist() != b.clip_start.tolist()


def test_class_balanced_batches_even_out_the_classes():
    cache = fake_cache(2000)
    events = [(1, 10.0 + 6 * i, "Goal") for i in range(30)] + [(1, 400.0, "Corner"), (1, 600.0, "Foul")]
    track = frame_track("g", 1, cache, labels(*events), CLASSES)
    dataset = FrameClipDataset([track], 10, 3, seed=0)
    batches = class_balanced_batches(dataset, 8, seed=0, epoch=0)
    order = [i for batch in batches for i in batch]
    assert len(order) == len(dataset) and all(len(b) <= 8 for b in batches)
    counts = Counter(int(dataset.clip_class[i]) for i in order)
    assert counts[BACKGROUND] == round(32 / 3)
    assert max(counts[c] for c in range(3)) - min(counts[c] for c in range(3)) <= 1  # 30 goals vs 1 corner
    shuffled = [i for batch in shuffled_batches(dataset, 8, seed=0, epoch=0) for i in batch]
    assert sorted(shuffled) == list(range(len(dataset)))


def halves_track() -> list:
    """One half whose frames are dark on the left (0) and bright on the right (200)."""
    cache = fake_cache(200)
    cache.array[:, :, :3], cache.array[:, :, 3:] = 0, 200
    events = [(1, 5.0 + 8 * i, "Goal") for i in range(10)]
    return [frame_track("g", 1, cache, labels(*events), CLASSES)]


def test_augmentation_is_off_by_default_and_does_what_it_says():
    plain, _ = FrameClipDataset(halves_track(), 10, 3, seed=0).get_batch(range(13))
    assert (plain[..., :3] == 0).all() and (plain[..., 3:] == 200).all()
    flipped_set = FrameClipDataset(halves_track(), 10, 3, seed=0, flip=True)
    flipped, _ = flipped_set.get_batch(range(len(flipped_set)))
    left = flipped[:, :, :, :, 0]
    assert ((left == 0) | (left == 200)).all()
    per_clip = left.flatten(1)
    assert (per_clip == per_clip[:, :1]).all()  # every frame of a clip flipped alike
    assert 0 < int((per_clip[:, 0] == 200).sum()) < len(flipped_set)  # some clips flipped, some not
    jittered_set = FrameClipDataset(halves_track(), 10, 3, seed=0, color_jitter=0.5)
    jittered, _ = jittered_set.get_batch(range(len(jittered_set)))
    again, _ = FrameClipDataset(halves_track(), 10, 3, seed=0, color_jitter=0.5).get_batch(range(len(jittered_set)))
    unjittered, _ = FrameClipDataset(halves_track(), 10, 3, seed=0).get_batch(range(len(jittered_set)))
    assert not np.array_equal(jittered.numpy(), unjittered.numpy())
    assert np.array_equal(jittered.numpy(), again.numpy())  # reproducible from (seed, epoch, clip)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="length"):
        FrameClipDataset(tracks(), 0, 3)
    empty = frame_track("g", 1, fake_cache(0), labels(), CLASSES)
    with pytest.raises(ValueError, match="without frames"):
        FrameClipDataset([empty], 10, 3)
