"""Frame geometry: crop / resize / short-side, and normalisation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from soccerspot.extract.transforms import apply_transform, frames_to_tensor, output_size
from soccerspot.models.backbones import normalize_images as normalize


def column_coded_frames(height: int, width: int, count: int = 2) -> np.ndarray:
    """Frames whose red channel is the column index (mod 256) and green the row index."""
    frames = np.zeros((count, height, width, 3), dtype=np.uint8)
    frames[..., 0] = (np.arange(width) % 256)[None, None, :]
    frames[..., 1] = (np.arange(height) % 256)[None, :, None]
    return frames


@pytest.mark.parametrize(
    "transform,height,width,expected",
    [
        ("crop", 224, 398, (224, 224)),
        ("crop", 720, 1280, (224, 224)),
        ("crop", 300, 200, (224, 224)),  # portrait: the short side is the width
        ("resize", 224, 398, (224, 224)),
        ("short-side", 224, 398, (224, 398)),
        ("short-side", 720, 1280, (224, 398)),
        ("short-side", 300, 200, (336, 224)),
    ],
)
def test_output_geometry(transform, height, width, expected):
    batch = frames_to_tensor(column_coded_frames(height, width))
    out = apply_transform(batch, transform, 224)
    assert out.dtype == torch.uint8
    assert tuple(out.shape) == (2, 3, *expected)
    assert output_size(transform, height, width, 224) == expected


def test_crop_of_soccernet_224p_is_the_centre_columns_unchanged():
    frames = column_coded_frames(224, 398)
    out = apply_transform(frames_to_tensor(frames), "crop", 224)
    # Height is already 224: no resampling, columns 87..310 are kept exactly.
    left = (398 - 224) // 2
    assert torch.equal(out[0, 0, 0], torch.from_numpy(frames[0, 0, left : left + 224, 0]))
    assert torch.equal(out[0, 1, :, 5], torch.arange(224, dtype=torch.uint8))


def test_crop_of_720p_resizes_then_centres():
    frames = column_coded_frames(720, 1280)
    frames[..., 2] = 0
    frames[:, :, 640 - 4 : 640 + 4, 2] = 255  # a vertical line at the centre stays at the centre
    out = apply_transform(frames_to_tensor(frames), "crop", 224)
    line = out[0, 2].float().mean(dim=0)
    assert int(line.argmax()) in (111, 112)


def test_resize_keeps_whole_frame():
    frames = column_coded_frames(224, 398)
    frames[..., 2] = 0
    frames[:, :, :10, 2] = 255  # a band at the left edge survives a resize, not a centre crop
    resized = apply_transform(frames_to_tensor(frames), "resize", 224)
    cropped = apply_transform(frames_to_tensor(frames), "crop", 224)
    assert resized[0, 2, :, 0].float().mean() > 200
    assert cropped[0, 2].float().max() == 0


def test_normalize_matches_formula():
    batch = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    out = normalize(batch, mean, std)
    expected = (torch.tensor([0, 128, 255]) / 255.0 - torch.tensor(mean)) / torch.tensor(std)
    torch.testing.assert_close(out[0, :, 0, 0], expected.float(), rtol=1e-5, atol=1e-5)
