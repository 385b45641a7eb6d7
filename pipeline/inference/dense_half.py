"""A whole half through a dense frame model, streamed: frames in, per-frame probabilities out.

Frames arrive in decoded batches (uint8 RGB, `extract.frame_recipes.iter_recipe_frames`, each with its
time); clips are cut as `pipeline.inference.dense_clips` says (the peers' layout), `clips_per_batch` at a
time go through the model, and each clip's probabilities are added to the frames it covers. Only the frames
the unfinished clips still need are held (normalised once, on arrival: a frame is in several clips), so
memory is bounded by a batch of clips, whatever the half's length. The model is driven only through the dense
interface (`forward(x) -> DenseOutput`: `logits`, `displacement`, `team`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from soccerspot.extract.precision import autocast
from soccerspot.models.dense.registry import PAD_BLACK, DenseInput
from soccerspot.pipeline.inference.dense_clips import ClipRule, FrameAverage, clip_frames, clip_probabilities

CLIPS_PER_BATCH = 4  # INFERENCE_BATCH_SIZE of both peers


def pad_value(spec: DenseInput) -> torch.Tensor:
    """(3,) a padding frame in normalised units: a black frame normalised (T-DEED), or zeros (E2E-Spot)."""
    if spec.padding == PAD_BLACK:
        return spec.normalise(torch.zeros(1, 3, 1, 1, dtype=torch.uint8)).view(3)
    return torch.zeros(3)


@dataclass
class HalfProbabilities:
    probabilities: np.ndarray  # (frames, columns) float32
    times: np.ndarray  # (frames,) seconds of each frame the model read
    clips: int


class _Clips:
    """The clip layout of a half whose length is known only at its end."""

    def __init__(self, clip_len: int, rule: ClipRule):
        self.clip_len, self.rule = clip_len, rule
        self.step, self.overlap = rule.step(clip_len), rule.overlap(clip_len)
        self.next_start = -rule.pad_len

    def ready(self, received: int, total: int | None) -> list[int]:
        """Starts of the clips that can be cut now: whole clips of received frames, or, once the half's
        `total` is known, every remaining clip (`range(-pad, max(0, N - overlap), step)`)."""
        starts = []
        while (self.next_start + self.clip_len <= received if total is None
               else self.next_start < max(0, total - self.overlap)):
            starts.append(self.next_start)
            self.next_start += self.step
        return starts


def run_clips(model: nn.Module, clips: list[torch.Tensor], rule: ClipRule, precision: str = "fp32") -> np.ndarray:
    """(B, clip_len, K) probabilities of a batch of normalised clips. A clip's numbers do not depend on which clips
    share its batch (live spotting batches them otherwise): the batch is made contiguous (the clips' own layouts,
    slices of the held frames or padded copies, would pick the kernels' summation order) and the softmax,
    displacement and team steps run clip by clip (vectorised exp and scalar exp differ in the last bit, and
    which elements take which depends on the batch's size)."""
    with torch.no_grad(), autocast(clips[0].device.type, precision):
        output = model(torch.stack(clips).contiguous())

    def part(values: torch.Tensor | None, index: int) -> torch.Tensor | None:
        return None if values is None else values[index: index + 1]

    return np.concatenate([
        clip_probabilities(part(output.logits, i), part(output.displacement, i), part(output.team, i), rule)
        .float().cpu().numpy() for i in range(len(clips))])


def half_probabilities(
    model: nn.Module, batches: Iterable, *, clip_len: int, rule: ClipRule, spec: DenseInput,
    clips_per_batch: int = CLIPS_PER_BATCH, precision: str = "fp32",
    on_frames: Callable[[int], None] | None = None,
) -> HalfProbabilities:
    """Per-frame probabilities of a half from `batches` of frames (items with `.frames` (n, H, W, 3) uint8 and
    `.times` (n,)), by the peers' clip layout and average. `precision`: the resolved precision the model runs
    at (`extract.precision`: fp32, bf16 or fp16 autocast). `on_frames(n)` is told of every decoded batch (a progress bar)."""
    device = next(model.parameters()).device
    pad = pad_value(spec).to(device)
    clips = _Clips(clip_len, rule)
    average: FrameAverage | None = None
    buffer: list[torch.Tensor] = []  # normalised (n, 3, H, W) pieces from frame `first` on
    first = 0
    received = 0
    times: list[np.ndarray] = []
    pending: list[int] = []
    count = 0

    def held() -> torch.Tensor:
        if len(buffer) > 1:
            buffer[:] = [torch.cat(buffer)]
        return buffer[0]

    def run(starts: list[int], total: int) -> None:
        nonlocal average, count
        frames = held()
        batch = []
        for start in starts:
            lo, hi = max(start, 0), min(start + clip_len, total)
            body = frames[lo - first: hi - first]
            batch.append(clip_frames(body, start - lo, clip_len, pad))
        probabilities = run_clips(model, batch, rule, precision)
        if average is None:
            average = FrameAverage(probabilities.shape[2], rule.support)
        for start, clip in zip(starts, probabilities):
            average.add(start, clip, total)
        count += len(starts)

    def flush(total: int | None) -> None:
        nonlocal first
        pending.extend(clips.ready(received, total))
        while len(pending) >= clips_per_batch or (total is not None and pending):
            run(pending[:clips_per_batch], received if total is None else total)
            del pending[:clips_per_batch]
        keep_from = min([clips.next_start, *pending])
        if buffer and keep_from > first:
            frames = held()
            drop = min(keep_from - first, frames.shape[0])
            buffer[0] = frames[drop:]
            first += drop

    for batch in batches:
        frames = torch.from_numpy(np.ascontiguousarray(batch.frames)).permute(0, 3, 1, 2)
        buffer.append(spec.normalise(frames.to(device)))
        times.append(np.asarray(batch.times, dtype=np.float64))
        received += frames.shape[0]
        if on_frames is not None:
            on_frames(frames.shape[0])
        flush(None)
    if received == 0:
        raise ValueError("no frames to spot")
    flush(received)
    return HalfProbabilities(average.result(received), np.concatenate(times), count)
