"""Feature rows of a live source as its frames arrive: a decode thread and the backbone in the caller's thread.

The decode thread samples the source's frames by timestamp exactly as `extract` does
(`extract.decode.select_on_screen`, the frame on screen at each target, times rounded to the µs) and
converts them to RGB; the caller transforms them (`extract.transforms`) and runs the backbone
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

from soccerspot.extract.decode import select_on_screen
from soccerspot.extract.transforms import apply_transform, frames_to_tensor

_END = object()


@dataclass
class Rows:
    """Feature rows just computed: raw backbone outputs (before any PCA), times, arrival wall times."""

    features: np.ndarray  # (n, feature_dim) float32
    times: np.ndarray  # (n,) s
    arrivals: np.ndarray  # (n,) time.time() when the frame was decoded


class LiveFeatures:
    def __init__(self, extractor, source, *, skip_rows: int = 0, start_s: float = 0.0):
        self.extractor, self.source = extractor, source
        self.skip_rows, self.start_s = skip_rows, start_s
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

    def _produce(self) -> None:
        config = self.extractor.config
        try:
            for time_s, frame in select_on_screen(self.source.frames(), config.fps, self.start_s):
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
