"""FrameCV's geometry and frame rule (extract.framecv) against imutils / OpenCV and FrameCV's own arithmetic."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from soccerspot.extract.framecv import crop_problem, imutils_crop, keep_frame
from soccerspot.extract.transforms import apply_transform, frames_to_tensor

cv2 = pytest.importorskip("cv2")
imutils = pytest.importorskip("imutils")


def framecv_crop(frame: np.ndarray) -> np.ndarray:
    """FrameCV's `transform == "crop"` branch, as the SoccerNet package writes it."""
    frame = imutils.resize(frame, height=224)
    off_side = int((frame.shape[1] - 224) / 2)
    return frame[:, off_side:-off_side, :]


@pytest.mark.parametrize("size", [(224, 398), (720, 1280), (360, 640), (1080, 1920), (480, 854), (576, 1024)])
def test_imutils_crop_equals_framecvs(size):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
    expected = framecv_crop(frame)
    assert expected.shape == (224, 224, 3) and crop_problem(size[1], size[0]) is None
    np.testing.assert_array_equal(imutils_crop(frame), expected)
    batch = frames_to_tensor(np.stack([frame, frame[::-1].copy()]))
    out = apply_transform(batch, "imutils-crop", 224)
    assert out.dtype == torch.uint8 and tuple(out.shape) == (2, 3, 224, 224)
    np.testing.assert_array_equal(out[0].permute(1, 2, 0).numpy(), expected)


@pytest.mark.parametrize("width,height", [(399, 224), (224, 224), (225, 224)])
def test_widths_framecv_cannot_crop_to_224_are_refused(width, height):
    problem = crop_problem(width, height)
    assert problem and "224x224" in problem
    batch = torch.zeros((1, 3, height, width), dtype=torch.uint8)
    with pytest.raises(ValueError, match="FrameCV's crop"):
        apply_transform(batch, "imutils-crop", 224)


@pytest.mark.parametrize("fps_video", [25.0, 30.0, 24.0, 29.97002997002997, 17.0, 5.5])
def test_keep_rule_is_framecvs_float_modulo(fps_video):
    drop = fps_video / 2.0
    for start, duration in [(None, None), (3.0, 10.0), (0.5, 1.0)]:
        kept = [i for i in range(1, 1000) if keep_frame(i, fps_video, 2.0, start, duration)]
        expected = [i for i in range(1, 1000)
                    if not (start is not None and i < fps_video * start)
                    and not (duration is not None and i > fps_video * (start + duration)) and i % drop < 1]
        assert kept == expected
    rows = [i for i in range(1, int(fps_video * 60) + 1) if keep_frame(i, fps_video, 2.0, None, None)]
    assert abs(len(rows) - 120) <= 1  # two rows a second
