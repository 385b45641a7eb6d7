"""Training windows: the right rows, the right labels, straight from memory maps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from soccerspot.data.classes import EVENT_DICTIONARY_V2
from soccerspot.data.clips import SkippedHalfWarning, build_window_dataset, chunk_starts, event_rows, slice_window
from soccerspot.errors import DataError
from soccerspot.data.features import FeatureMeta, write_features
from soccerspot.data.labels import Event, GameLabels, write_labels
from soccerspot.data.games import LABELS_FILE

GOAL = EVENT_DICTIONARY_V2["Goal"]
CORNER = EVENT_DICTIONARY_V2["Corner"]
FOUL = EVENT_DICTIONARY_V2["Foul"]


def write_game(root, game, rows, events, *, fps=2.0, start=0.0, dim=4, labels_root=None, name="feat"):
    """Features whose row i holds the value i in every column (so a window's rows are readable)."""
    meta = FeatureMeta(backbone="test", fps=fps, start=start, step=1.0 / fps)
    for half in (1, 2):
        array = np.repeat(np.arange(rows, dtype=np.float32)[:, None], dim, axis=1) + 1000 * half
        write_features(root / game, half, name, array, meta)
    labels = GameLabels(url=game, events=[Event(h, ms, label) for h, ms, label in events])
    write_labels((labels_root or root) / game / LABELS_FILE, labels)


def test_chunk_starts_cover_every_row_with_stride_length():
    assert chunk_starts(90, 30).tolist() == [0, 30, 60]
    assert chunk_starts(91, 30).tolist() == [0, 30, 60, 90]  # the last row gets its own (padded) chunk
    assert chunk_starts(5, 30).tolist() == [0]


def test_event_rows_nearest_frame_with_offset_start():
    times = 0.25 + 0.5 * np.arange(10)  # 2 fps, first frame at 0.25 s
    rows, inside = event_rows(times, np.array([0.0, 0.25, 0.5, 0.76, 4.74, 5.3, 9.0]), step=0.5)
    # 0.5 lies exactly between rows 0 (0.25) and 1 (0.75): the earlier row
    assert rows.tolist()[:5] == [0, 0, 0, 1, 9]
    assert inside.tolist() == [True, True, True, True, True, False, False]


def test_paper_chunks_slice_the_right_rows_and_labels(tmp_path):
    # 2 fps, T = 15 s = 30 rows, 100 rows -> chunks at 0, 30, 60, 90 (the last padded)
    events = [
        (1, 0, "Goal"),             # row 0: first row of chunk 0
        (1, 14_500, "Corner"),      # row 29: last row of chunk 0
        (1, 15_000, "Foul"),        # row 30: first row of chunk 1
        (1, 40_000, "Goal"),        # row 80, chunk 2 ...
        (1, 41_000, "Corner"),      # ... two events in one chunk
        (2, 49_500, "Goal"),        # row 99: the last row, alone in padded chunk 3 of half 2
        (2, 60_000, "Foul"),        # row 120: past the end (more than one step): dropped
        (1, 20_000, "Not a class"),  # unknown labels are ignored
    ]
    write_game(tmp_path, "league/season/game a", 100, events)
    data = build_window_dataset(["league/season/game a"], tmp_path, "feat", EVENT_DICTIONARY_V2, window_seconds=15)
    assert data.length == 30 and len(data) == 8 and data.dropped_events == 1
    assert data.window_start.tolist() == [0, 30, 60, 90] * 2

    def classes(i):
        target = data[i][1].numpy()
        return [int(c) - 1 for c in np.flatnonzero(target)]  # -1 = background column

    assert sorted(classes(0)) == sorted([GOAL, CORNER])
    assert classes(1) == [FOUL]
    assert sorted(classes(2)) == sorted([GOAL, CORNER])
    assert classes(3) == [-1]  # background
    assert classes(4) == classes(5) == classes(6) == [-1]
    assert classes(7) == [GOAL]

    window, _ = data[1]
    assert window.shape == (30, 4) and window.dtype.__str__() == "torch.float32"
    np.testing.assert_array_equal(window[:, 0].numpy(), np.arange(30, 60) + 1000)
    last, _ = data[7]  # rows 90..99 then row 99 replicated (the peers' "replicate_last")
    np.testing.assert_array_equal(last[:, 0].numpy(), np.r_[np.arange(90, 100), np.full(20, 99)] + 2000)


def test_one_fps_and_nonzero_start_map_positions_through_frame_times(tmp_path):
    # 1 fps, first frame at 3 s: position 10 s -> row 7; T = 7 s = 7 rows -> chunk 1 (rows 7..13)
    write_game(tmp_path, "g", 30, [(1, 10_000, "Goal"), (1, 9_400, "Foul")], fps=1.0, start=3.0)
    data = build_window_dataset(["g"], tmp_path, "feat", EVENT_DICTIONARY_V2, window_seconds=7)
    assert data.length == 7
    assert data.tracks[0].event_rows.tolist() == [6, 7]  # 9.4 s -> 6.4 rows -> row 6 (chunk 0); 10 s -> row 7
    assert np.flatnonzero(data.targets[1]).tolist() == [1 + GOAL]
    assert np.flatnonzero(data.targets[0]).tolist() == [1 + FOUL]


def test_windows_are_read_from_memory_maps_without_copies(tmp_path):
    write_game(tmp_path, "g", 200, [(1, 5_000, "Goal")], dim=8)
    data = build_window_dataset(["g"], tmp_path, "feat", EVENT_DICTIONARY_V2, window_seconds=15)
    for track in data.tracks:
        assert isinstance(track.features.array, np.memmap)
        assert not track.features.array.flags.writeable
    # the dataset holds no feature rows of its own: only the window table and the targets
    held = sum(a.nbytes for a in (data.window_start, data.window_track, data.targets))
    assert held < data.tracks[0].features.array.nbytes / 2
    # a window inside the half is a slice of the map (shares its file buffer) until converted
    view = data.tracks[0].features.array[30:60]
    assert np.shares_memory(view, data.tracks[0].features.array)
    np.testing.assert_array_equal(slice_window(data.tracks[0].features.array, 30, 30), np.asarray(view, np.float32))


def test_batches_gathered_from_maps_equal_single_windows(tmp_path):
    write_game(tmp_path, "g", 95, [(1, 5_000, "Goal"), (2, 47_000, "Foul")], dim=6)
    data = build_window_dataset(["g"], tmp_path, "feat", EVENT_DICTIONARY_V2, window_seconds=15, sampling="events")
    order = [len(data) - 1, 0, 3, 1, 4]  # mixed halves, padded edge windows, any order
    features, targets = data[order]
    assert features.shape == (5, 30, 6) and targets.shape == (5, 18)
    for k, i in enumerate(order):
        single_features, single_target = data[i]
        assert torch.equal(features[k], single_features) and torch.equal(targets[k], single_target)


def test_event_centred_windows_hold_their_event_at_random_offsets(tmp_path):
    events = [(1, 30_000, "Goal"), (1, 31_000, "Corner"), (2, 80_000, "Foul")]
    write_game(tmp_path, "g", 200, events)
    data = build_window_dataset(["g"], tmp_path, "feat", EVENT_DICTIONARY_V2, window_seconds=15,
                                sampling="events", seed=3)
    # 3 event windows + the chunks without events (7 chunks per half, 2 + 1 hold events)
    assert len(data) == 3 + (7 - 1) + (7 - 1)
    rows = np.concatenate([t.event_rows for t in data.tracks])
    offsets_by_epoch = []
    for epoch in range(4):
        data.set_epoch(epoch)
        holding = np.flatnonzero(data.targets[:, 0] == 0)  # windows holding an event
        assert len(holding) == 3 and data.targets[:, 0].sum() == len(data) - 3
        starts = data.window_start[holding]
        assert ((starts <= rows) & (rows < starts + 30)).all()
        assert data.targets[holding[0], 1 + GOAL] == 1 and data.targets[holding[2], 1 + FOUL] == 1
        for i in holding:  # the features are the rows the window names (edge rows replicated)
            expected = np.clip(np.arange(data.window_start[i], data.window_start[i] + 30), 0, 199)
            track = data.tracks[data.window_track[i]]
            np.testing.assert_array_equal(data[i][0][:, 0].numpy(), expected + 1000 * track.half)
        offsets_by_epoch.append(tuple(rows - starts))
    assert len(set(offsets_by_epoch)) > 1  # a new draw each epoch ...
    data.set_epoch(2)
    again = tuple(rows - data.window_start[np.flatnonzero(data.targets[:, 0] == 0)])
    assert again == offsets_by_epoch[2]  # ... reproducible from (seed, epoch)


def test_separate_labels_root_and_missing_labels(tmp_path):
    features, labels = tmp_path / "features", tmp_path / "labels"
    write_game(features, "g", 60, [(1, 1_000, "Goal")], labels_root=labels)
    data = build_window_dataset(["g"], features, "feat", EVENT_DICTIONARY_V2, window_seconds=15, labels_root=labels)
    assert data.targets[0, 1 + GOAL] == 1
    with pytest.raises(DataError, match="labels for game 'g' not found"):
        build_window_dataset(["g"], features, "feat", EVENT_DICTIONARY_V2, window_seconds=15)
    with pytest.raises(DataError, match="feature file not found"):
        build_window_dataset(["other"], features, "feat", EVENT_DICTIONARY_V2, window_seconds=15, require_labels=False)


def test_a_half_without_feature_rows_is_skipped_with_a_warning_naming_it(tmp_path):
    write_game(tmp_path, "g", 60, [(1, 1_000, "Goal"), (2, 2_000, "Foul"), (2, 3_000, "Corner")])
    empty = write_features(tmp_path / "g", 2, "feat", np.zeros((0, 4), np.float32),
                           FeatureMeta(backbone="test", fps=2.0, step=0.5))
    with pytest.warns(SkippedHalfWarning, match=f"{empty}: no feature rows; half 2 of 'g' skipped "
                                                r"\(2 event\(s\) dropped\)"):
        data = build_window_dataset(["g"], tmp_path, "feat", EVENT_DICTIONARY_V2, window_seconds=15)
    assert [t.half for t in data.tracks] == [1] and data.skipped_halves == [str(empty)]
    assert data.dropped_events == 2 and len(data) == 2  # half 1: 60 rows = two 30-row chunks
    features, targets = data[[0, 1]]
    assert features.shape == (2, 30, 4) and targets[0, 1 + GOAL] == 1
    for half in (1, 2):
        write_features(tmp_path / "h", half, "feat", np.zeros((0, 4), np.float32), FeatureMeta(backbone="test"))
    write_labels(tmp_path / "h" / LABELS_FILE, GameLabels(url="h", events=[]))
    with pytest.warns(SkippedHalfWarning), pytest.raises(DataError, match="every half has zero feature rows"):
        build_window_dataset(["h"], tmp_path, "feat", EVENT_DICTIONARY_V2, window_seconds=15)


def test_features_of_another_width_or_frame_rate_are_named(tmp_path):
    write_game(tmp_path, "a", 40, [])
    write_game(tmp_path, "b", 40, [], dim=6)
    with pytest.raises(DataError, match=rf"{tmp_path / 'b' / '1_feat.npy'}: 6-d features, but "
                                        rf"{tmp_path / 'a' / '1_feat.npy'} has 4-d"):
        build_window_dataset(["a", "b"], tmp_path, "feat", EVENT_DICTIONARY_V2, window_seconds=15)
    write_game(tmp_path, "c", 40, [], fps=1.0)
    with pytest.raises(DataError, match=rf"{tmp_path / 'c' / '1_feat.npy'}: features at 1 fps, but "
                                        rf"{tmp_path / 'a' / '1_feat.npy'} has 2"):
        build_window_dataset(["a", "c"], tmp_path, "feat", EVENT_DICTIONARY_V2, window_seconds=15)
