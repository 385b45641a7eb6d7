"""A dense frame model's frames from a live source: its frame recipe's rule applied in a decode thread.

The frames are the ones `extract.frame_recipes.iter_recipe_frames` reads from the finished file: the 0-based
decoded frame `i` is kept when `FrameRecipe.keeps(i, video_fps)` (the peers' stride on the stream's average
frame rate, here the live source's), converted to RGB and resized as the recipe says (`resize_like_opencv`),
each with its presentation time (seconds from the first frame, rounded to the µs, as `extract`). The queue to
the caller is unbounded, as `extraction.LiveFeatures`'s: a source is read as fast as it delivers.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from soccerspot.errors import DataError
from soccerspot.extract.frame_recipes import FrameRecipe, resize_like_opencv

_END = object()


@dataclass
class RecipeFrames:
    """Frames just decoded: uint8 RGB (n, height, width, 3), their times and arrival wall times."""

    frames: np.ndarray
    times: np.ndarray  # (n,) s
    arrivals: np.ndarray  # (n,) time.time() when the frame was decoded


class LiveRecipeFrames:
    def __init__(self, source, recipe: FrameRecipe):
        self.source, self.recipe = source, recipe
        self.queue: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self.ended = False
        self.video_fps: float | None = None  # the source's average rate, once its first frame arrived
        self.thread = threading.Thread(target=self._produce, name="soccerspot-live-dense-decode", daemon=True)

    def start(self) -> "LiveRecipeFrames":
        self.thread.start()
        return self

    @property
    def backlog(self) -> int:
        return self.queue.qsize()

    def model_fps(self) -> float | None:
        return self.recipe.model_fps(self.video_fps) if self.video_fps else None

    def _produce(self) -> None:
        try:
            for index, (time_s, frame) in enumerate(self.source.frames()):
                if self.video_fps is None:
                    self.video_fps = self._rate()
                if not self.recipe.keeps(index, self.video_fps):
                    continue
                rgb = resize_like_opencv(frame.to_ndarray(format="rgb24"), self.recipe.width, self.recipe.height)
                self.queue.put((round(time_s, 6), rgb, self.source.last_arrival or time.time()))
        except BaseException as error:  # handed to the caller
            self.error = error
        finally:
            self.queue.put(_END)

    def _rate(self) -> float:
        rate = self.source.average_fps
        if not rate or not rate > 0:
            raise DataError(self.source.spec, "the video stream declares no frame rate (the frame recipe's stride "
                                              "needs one)")
        try:
            self.recipe.stride(rate)
        except ValueError as error:
            raise DataError(self.source.spec, f"{error} (the {self.recipe.name} frame recipe)") from None
        return float(rate)

    def take(self, max_frames: int, wait_s: float) -> RecipeFrames | None:
        """The frames that have arrived (at most `max_frames`, waiting up to `wait_s` for one); None once the
        source has ended and every frame was taken."""
        items = []
        try:
            items.append(self.queue.get(timeout=wait_s))
            while len(items) < max_frames:
                items.append(self.queue.get_nowait())
        except queue.Empty:
            pass
        if items and items[-1] is _END:
            items.pop()
            self.ended = True
        if self.error is not None and self.ended:
            raise self.error
        if not items:
            if self.ended:
                return None
            return RecipeFrames(np.zeros((0, self.recipe.height, self.recipe.width, 3), np.uint8), np.zeros(0),
                                np.zeros(0))
        return RecipeFrames(np.stack([rgb for _, rgb, _ in items]), np.array([t for t, _, _ in items]),
                            np.array([a for _, _, a in items]))
