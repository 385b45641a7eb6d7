"""Feature rows of a live source as its frames arrive: a decode thread and the backbone in the caller's thread.

The decode thread samples the source's frames exactly as `extract` does: by timestamp
(`extract.decode.select_on_screen`, the frame on screen at each target), or, for features of SoccerNet's
FrameCV rule (`ExtractConfig.sampling == "framecv"`, the `ResNET_TF2` recipe), by FrameCV's counter over every
decoded frame from the stream's first, on the header's average rate (`extract.framecv.keep_frame`, with
`LiveSource.header_fps`); times rounded to the µs. What FrameCV settles only on the finished file (its rate
check against the container's duration) is settled by the session at the end. A resumed run on a source
that replays (a file) counts again from its first frame and skips the rows it has; on one that does not (a
URL), the counter goes on after the last stored row's frame. The decode thread converts frames to RGB; the caller transforms them (`extract.transforms`) and runs the backbone
(`Extractor.forward`) on whatever has arrived. The queue between them is unbounded: a source is read as fast as it delivers
(a UDP socket not read drops packets), and a backlog is reported by the caller, never dropped silently.

Equal to `extract`'s features: the backbone's output for a frame does not depend on the other frames
of its batch on CPU when a batch holds 2 or more (measured: resnet18, resnet152, regnety_002), but a
batch of one can differ in the last bits. So a lone frame is run as a pair with itself, and at the end,
where `extract` ran a last batch of one frame (rows % batch_size == 1), that row is computed again alone.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import numpy as np
import torch

from soccerspot.errors import DataError
from soccerspot.extract.decode import select_on_screen
from soccerspot.extract.framecv import NO_RATE, check_crop, keep_frame, nth_kept_number
from soccerspot.extract.transforms import apply_transform, frames_to_tensor

_END = object()


@dataclass
class Rows:
    """Feature rows just computed: raw backbone outputs (before any PCA), times, arrival wall times."""

    features: np.ndarray  # (n, feature_dim) float32
    times: np.ndarray  # (n,) s
    arrivals: np.ndarray  # (n,) time.time() when the frame was decoded


class LiveFeatures:
    """`skip_rows`: rows a previous run made that the source delivers again (skipped); `rows_before`: rows a
    previous run made that it does not (a URL resumed at `start_s`)."""

    def __init__(self, extractor, source, *, skip_rows: int = 0, start_s: float = 0.0, rows_before: int = 0):
        self.extractor, self.source = extractor, source
        self.skip_rows, self.start_s, self.rows_before = skip_rows, start_s, rows_before
        self.framecv_fps: float | None = None  # FrameCV sampling: the rate its counter runs on
        self.counted = 0  # FrameCV sampling: the number of the last frame counted
        self.queue: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self.ended = False
        self.sampled = 0  # frames sampled (skipped ones included)
        self.last_image: torch.Tensor | None = None
        self.forward_s = 0.0  # seconds the last `take` spent in the backbone
        self.thread = threading.Thread(target=self._produce, name="soccerspot-live-decode", daemon=True)

    def start(self) -> "LiveFeatures":
        self.thread.start()
        return self

    @property
    def backlog(self) -> int:
        return self.queue.qsize()

    def _sampled(self):
        """(time s, frame) of the frames the features' frame rule keeps."""
        config = self.extractor.config
        frames = self._checked(self.source.frames())
        if config.sampling != "framecv":
            yield from select_on_screen(frames, config.fps, self.start_s)
            return
        for time_s, frame in frames:
            if self.framecv_fps is None:
                self.framecv_fps = self.source.header_fps
                if not self.framecv_fps or not self.framecv_fps > 0:
                    raise DataError(self.source.spec, NO_RATE)
                self.counted = nth_kept_number(self.rows_before, self.framecv_fps, config.fps)
            self.counted += 1
            if keep_frame(self.counted, self.framecv_fps, config.fps, None, None):
                yield time_s, frame

    def _checked(self, frames):
        """The source's frames, the first one's size checked against FrameCV's crop where the features use it."""
        config = self.extractor.config
        for index, (time_s, frame) in enumerate(frames):
            if index == 0 and config.transform == "imutils-crop":
                check_crop(self.source.spec, frame.width, frame.height, self.extractor.input_size)
            yield time_s, frame

    def _produce(self) -> None:
        try:
            for time_s, frame in self._sampled():
                self.sampled += 1
                if self.sampled <= self.skip_rows:
                    continue  # resuming: rows a previous run already computed
                arrival = self.source.last_arrival or time.time()
                # RGB here (libswscale), the transform in the caller's thread: no torch op in this thread, which
                # must keep reading the source while the backbone runs (an unread UDP socket loses packets)
                self.queue.put((round(time_s, 6), frame.to_ndarray(format="rgb24"), arrival))
        except BaseException as error:  # handed to the caller
            self.error = error
        finally:
            self.queue.put(_END)

    def take(self, max_rows: int, wait_s: float) -> Rows | None:
        """The rows of the frames that have arrived (at most `max_rows`, waiting up to `wait_s` for one);
        None once the source has ended and every row was taken."""
        items = []
        try:
            items.append(self.queue.get(timeout=wait_s))
            while len(items) < max_rows:
                items.append(self.queue.get_nowait())
        except queue.Empty:
            pass
        if items and items[-1] is _END:
            items.pop()
            self.ended = True
        if self.error is not None and self.ended:
            raise self.error
        if not items:
            return None if self.ended else Rows(np.zeros((0, 0), np.float32), np.zeros(0), np.zeros(0))
        config = self.extractor.config
        images = apply_transform(frames_to_tensor(np.stack([rgb for _, rgb, _ in items])), config.transform,
                                 self.extractor.input_size).contiguous()
        self.last_image = images[-1:]
        batch = images if len(items) > 1 else images.repeat(2, 1, 1, 1)  # never a batch of one (see above)
        began = time.perf_counter()
        features = self.forward(batch)[: len(items)]
        self.forward_s = time.perf_counter() - began
        return Rows(features, np.array([t for t, _, _ in items]), np.array([a for _, _, a in items]))

    def forward(self, images: torch.Tensor) -> np.ndarray:
        images = images.contiguous(memory_format=torch.channels_last)
        return self.extractor.forward(images).cpu().numpy().astype(np.float32, copy=False)

    def last_row_alone(self) -> np.ndarray:
        """The last frame's features computed in a batch of one (as `extract` computes a lone last batch)."""
        return self.forward(self.last_image)[0]
