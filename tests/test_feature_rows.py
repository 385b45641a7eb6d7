"""The extractor's memory does not grow with the half's length: its rows go into one array allocated before
the first forward pass (`extract.feature_rows`), not one block per batch kept to the end (the growth of
issue 30: those blocks fragment the never-trimmed heap the extractor runs with)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from soccerspot.extract import extractor as extractor_module
from soccerspot.extract.extractor import ExtractConfig, Extractor
from soccerspot.extract.feature_rows import FeatureRows
from video_helpers import constant_rate_times, write_video


def test_rows_fill_one_array_allocated_once():
    rows = FeatureRows(10, 3)
    first = rows.data.data_ptr()
    batches = [torch.full((4, 3), 1.0), torch.full((4, 3), 2.0), torch.full((2, 3), 3.0)]
    for index, batch in enumerate(batches):
        rows.append(batch, np.arange(len(batch)) + 10.0 * index)
    features, times = rows.result()
    assert rows.grown == 0 and rows.data.data_ptr() == first
    np.testing.assert_array_equal(features, torch.cat(batches).numpy())
    np.testing.assert_array_equal(times, [0, 1, 2, 3, 10, 11, 12, 13, 20, 21])


def test_more_rows_than_expected_grow_the_array_and_keep_every_row():
    rows = FeatureRows(3, 2)
    for index in range(4):
        rows.append(torch.full((2, 2), float(index)), np.full(2, float(index)))
    features, times = rows.result()
    assert rows.grown == 3 and features.shape == (8, 2)  # capacity 3 -> 4 -> 6 -> 9
    np.testing.assert_array_equal(features[:, 0], np.repeat(np.arange(4.0), 2))
    np.testing.assert_array_equal(times, np.repeat(np.arange(4.0), 2))


@pytest.mark.parametrize("sampling", ["timestamp", "framecv"])
def test_a_half_is_extracted_into_one_array_sized_before_the_first_pass(tmp_path, monkeypatch, sampling):
    """Whatever the length, the extractor keeps no per-batch block: one array, never grown, holds the rows."""
    made: list[FeatureRows] = []

    class Recorded(FeatureRows):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(extractor_module, "FeatureRows", Recorded)
    extra = dict(transform="imutils-crop", decoder="pyav") if sampling == "framecv" else {}
    config = ExtractConfig(backbone="timm:regnety_002", weights="none", input_size=64 if sampling == "timestamp" else None,
                           batch_size=4, precision="fp32", progress=False, sampling=sampling, **extra)
    extractor = Extractor(config)
    video = write_video(tmp_path / "match.mkv", constant_rate_times(25, 12), width=398, height=224)
    result = extractor.extract(video, tmp_path / "out", 1)
    assert result.frames == 24 and len(made) == 1
    assert made[0].grown == 0 and made[0].count == 24 and len(made[0].data) <= 24 + 2 * config.batch_size
