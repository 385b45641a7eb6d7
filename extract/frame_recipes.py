"""The frames a dense frame model reads, as named recipes, decoded straight into memory.

The peers extract JPEG files with OpenCV and read them back at test time; a recipe states which frames of
the video those are and at what size, and `iter_recipe_frames` decodes exactly those frames (PyAV, one
sequential decode, in batches: memory does not grow with the video), each with its presentation time.

What the peers' extraction scripts do (read in their code):

- **E2E-Spot** (jhong93/spot `frames_as_jpg_soccernet.py`, `frames_as_jpg_soccernet_ball.py`): `fps` is
  OpenCV's `CAP_PROP_FPS` (the stream's average rate), `stride = int(fps / sample_fps)`, and the 0-based
  decoded frame `i` is kept when `i % stride == 0`: frames 0, 12, 24... of a 25 fps video at
  `--sample_fps 2` (25 / 12 = 2.083 frames a second), every frame at `--sample_fps 25` (Ball Action
  Spotting). A frame not already 398x224 is resized with `cv2.resize(frame, (398, 224))` (bilinear).
- **T-DEED** (SoccerNet/sn-teamspotting `extract_frames_snb.py`): the same rule at `--sample_fps 25`, resized
  to 796x448 (from the 720p videos), files named by the source frame number; its test code
  (`train_tdeed_bas.py`, `STRIDE_SNB = 2`) reads every second source frame number: 12.5 frames a second.
  Their SoccerNet-v2 frames (`extract_frames_sn.py`, `--sample_fps 12.5`, 796x448) are read every 12th
  source frame number (`STRIDE_SN = 12`): the 2.083 frames a second E2E-Spot reads, at T-DEED's size.
- Each recipe's frames carry their own presentation time (seconds from the first frame), so spots are placed
  at the frames' true times (the peers compute `frame / fps`).

Not reproduced: when OpenCV decodes fewer frames than its header count by more than 1000 (a damaged
video), E2E-Spot's script recomputes the rate from the duration and extracts again with the new stride;
here the header's rate always decides the stride. And the JPEG round trip itself: frames go to the model
as decoded (`scripts/bench_dense_jpeg.py` measures what the JPEG step changes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from soccerspot.errors import DataError
from soccerspot.extract.decode import FrameBatch, VideoInfo, _checked_end, _open_container, _video_stream, pyav_frames


@dataclass(frozen=True)
class FrameRecipe:
    """Which frames of a video a dense model reads, and at what size."""

    name: str
    sample_fps: float  # the extraction script's --sample_fps: stride = int(video fps / sample_fps); <= 0: every frame
    width: int
    height: int
    read_stride: int = 1  # the test code reads the source frame numbers divisible by it (T-DEED: 2)
    source: str = ""

    def stride(self, video_fps: float) -> int:
        """Keep every `stride`-th decoded frame (their `get_stride`)."""
        if self.sample_fps <= 0:
            return 1
        stride = int(video_fps / self.sample_fps)
        if stride < 1:
            raise ValueError(f"a {video_fps:g} fps video has fewer frames than {self.sample_fps:g} a second")
        return stride

    def keeps(self, index: int, video_fps: float) -> bool:
        """Whether the 0-based decoded frame `index` is one the model reads."""
        return index % self.stride(video_fps) == 0 and index % self.read_stride == 0

    def model_fps(self, video_fps: float) -> float:
        """The nominal rate of the frames the model reads."""
        return video_fps / int(np.lcm(self.stride(video_fps), self.read_stride))


E2E_SOCCERNETV2 = FrameRecipe(
    name="e2e-soccernetv2", sample_fps=2, width=398, height=224,
    source="jhong93/spot frames_as_jpg_soccernet.py (--sample_fps 2: every int(fps / 2)-th frame, 398x224)",
)
E2E_BALL = FrameRecipe(
    name="e2e-ball", sample_fps=25, width=398, height=224,
    source="jhong93/spot frames_as_jpg_soccernet_ball.py --sample_fps 25 (data/soccernet_ball/README.md), 398x224",
)
TDEED_BALL = FrameRecipe(
    name="tdeed-ball", sample_fps=25, width=796, height=448, read_stride=2,
    source="SoccerNet/sn-teamspotting extract_frames_snb.py (--sample_fps 25, 796x448 from 720p); "
           "train_tdeed_bas.py reads every second frame (STRIDE_SNB = 2)",
)
TDEED_SOCCERNETV2 = FrameRecipe(
    name="tdeed-soccernetv2", sample_fps=12.5, width=796, height=448, read_stride=12,
    source="SoccerNet/sn-teamspotting and arturxe2/T-DEED extract_frames_sn.py (--sample_fps 12.5, 796x448); "
           "their test code reads every 12th source frame (STRIDE_SN = 12)",
)
FRAME_RECIPES: dict[str, FrameRecipe] = {
    recipe.name: recipe for recipe in (E2E_SOCCERNETV2, E2E_BALL, TDEED_BALL, TDEED_SOCCERNETV2)
}


def frame_recipe(name: str) -> FrameRecipe:
    if name not in FRAME_RECIPES:
        raise ValueError(f"unknown frame recipe {name!r}; known: {', '.join(FRAME_RECIPES)}")
    return FRAME_RECIPES[name]


def video_rate(info: VideoInfo) -> float:
    """OpenCV's CAP_PROP_FPS: the stream's average frame rate, else FFmpeg's guess; `DataError` when none."""
    with _open_container(info.path) as container:
        stream = _video_stream(container, info.path)
        rate = stream.average_rate or stream.guessed_rate
    if not rate or not float(rate) > 0:
        raise DataError(info.path, "the video stream declares no frame rate (the frame recipe's stride needs one)")
    return float(rate)


def resize_like_opencv(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """`cv2.resize(frame, (width, height))` (bilinear) unless the frame already has that size, as they do."""
    if frame.shape[0] == height and frame.shape[1] == width:
        return frame
    import cv2

    return cv2.resize(frame, (width, height))


def iter_recipe_frames(info: VideoInfo, recipe: FrameRecipe, *, batch_size: int = 32,
                       video_fps: float | None = None) -> Iterator[FrameBatch]:
    """The recipe's frames of the video, RGB uint8 (n, height, width, 3), in batches of at most `batch_size`,
    each with its presentation time (seconds from the first frame). One sequential decode."""
    video_fps = video_fps or video_rate(info)
    try:
        recipe.stride(video_fps)  # refuse a rate below the recipe's before decoding
    except ValueError as error:
        raise DataError(info.path, f"{error} (the {recipe.name} frame recipe)") from None
    frames: list[np.ndarray] = []
    times: list[float] = []
    for index, (time, frame) in enumerate(_checked_end(pyav_frames(info), info, 0.0, None)):
        if not recipe.keeps(index, video_fps):
            continue
        frames.append(resize_like_opencv(frame.to_ndarray(format="rgb24"), recipe.width, recipe.height))
        times.append(round(time, 6))
        if len(frames) == batch_size:
            yield FrameBatch(np.stack(frames), np.array(times, dtype=np.float64))
            frames, times = [], []
    if frames:
        yield FrameBatch(np.stack(frames), np.array(times, dtype=np.float64))
