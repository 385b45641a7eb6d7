"""Per-frame probabilities of a growing half through a dense frame model, each frame's final as soon as no later
clip can cover it, equal to the whole-half `pipeline.inference.dense_half.half_probabilities`.

The clips are the peers' (`dense_clips`: starts `range(-pad_len, max(0, N - overlap), step)`): a clip whose
frames have all arrived is cut and run at once (its frames are the same as in the whole half: only the clips
that reach past the half's last frame hold padding after it, and those are cut when the half ends). Frame `f`
is final once every clip starting at or before `f` has run, i.e. once the next clip to cut starts after it:
at most one clip length after `f` arrived. What stays open until the end is the tail: the frames covered by
a clip that reaches past the last frame, whose number only the end says (the displacement moves and team
products of T-DEED are within one clip, so they decide nothing later).

Equal to the whole half, not only close: each final frame is the sum of its clips' probabilities in clip order
divided by its support, in float32 as `dense_clips.FrameAverage` does it, and the model's output for a clip does
not depend on the other clips of its (contiguous: `dense_half.run_clips`) batch on CPU when a batch holds 2 or
more (as `extraction` relies on for frames), so a lone clip runs as a pair with itself. A whole-half run that ended with a batch of one clip
(clips % clips_per_batch == 1) gets that clip computed alone at the end, and the frames it covers again (their
events are settled at the end: `events.EventTracker.finish`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from soccerspot.models.dense.registry import DenseInput
from soccerspot.pipeline.inference.dense_clips import ClipRule, clip_frames
from soccerspot.pipeline.inference.dense_half import CLIPS_PER_BATCH, pad_value, run_clips


@dataclass
class IncrementalDenseProbabilities:
    """Final per-frame probabilities (frames, 1 + columns) of a half whose frames arrive in pieces."""

    model: nn.Module  # forward(x) -> DenseOutput
    clip_len: int
    rule: ClipRule
    spec: DenseInput
    clips_per_batch: int = CLIPS_PER_BATCH  # the whole-half run's, for the one case that differs (see above)
    precision: str = "fp32"
    received: int = 0
    clips: int = 0  # clips run (a clip run again at the end counted once)
    rows: list = field(default_factory=list)  # one (1 + columns,) float32 array per final frame
    _pieces: list = field(default_factory=list)  # normalised (n, 3, H, W) frames from `_first` on, joined when needed
    _first: int = 0
    _next_start: int = 0
    _outputs: dict = field(default_factory=dict)  # clip start -> (clip_len, columns) probabilities, while needed

    def __post_init__(self) -> None:
        self.device = next(self.model.parameters()).device
        self.pad = pad_value(self.spec).to(self.device)
        self.step, self.overlap = self.rule.step(self.clip_len), self.rule.overlap(self.clip_len)
        self._next_start = -self.rule.pad_len

    @property
    def final(self) -> int:
        return len(self.rows)

    def add(self, frames: np.ndarray) -> np.ndarray:
        """Take newly arrived frames (n, H, W, 3) uint8; returns the probabilities of the frames that became final
        (new, 1 + columns)."""
        if len(frames):
            tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).to(self.device)
            self._pieces.append(self.spec.normalise(tensor))
            self.received += len(frames)
        starts = []
        while self._next_start + self.clip_len <= self.received:
            starts.append(self._next_start)
            self._next_start += self.step
        self._run(starts, self.received, alone=False)
        return self._finalise(min(self.received, self._next_start))

    def finish(self) -> np.ndarray:
        """The half ended: its remaining clips (padded after the last frame) run, every frame is final.
        Returns the probabilities of all frames (frames, 1 + columns), as the whole-half run gives them."""
        if self.received == 0:
            raise ValueError("no frames to spot")
        starts = []
        while self._next_start < max(0, self.received - self.overlap):
            starts.append(self._next_start)
            self._next_start += self.step
        total = self.clips + len(starts)
        lone = total % self.clips_per_batch == 1  # the whole-half run's last batch held only the last clip
        last = -self.rule.pad_len + (total - 1) * self.step
        self._run([start for start in starts if not (lone and start == last)], self.received, alone=False)
        if lone:
            self._run([last], self.received, alone=True)
            if last not in starts:  # it ran before the end, in a pair: it counts once, its frames are made again
                self.clips -= 1
                del self.rows[max(0, last):]
        self._finalise(self.received)
        return self.array()

    def array(self) -> np.ndarray:
        return np.stack(self.rows) if self.rows else np.zeros((0, 0), np.float32)

    def _run(self, starts: list[int], total: int, alone: bool) -> None:
        for begin in range(0, len(starts), self.clips_per_batch):
            group = starts[begin: begin + self.clips_per_batch]
            batch = [self._clip(start, total) for start in group]
            if len(batch) == 1 and not alone and self.clips_per_batch > 1:
                batch = batch * 2  # never a batch of one (see the module docstring)
            probabilities = run_clips(self.model, batch, self.rule, self.precision)
            for start, clip in zip(group, probabilities):
                self._outputs[start] = clip
            self.clips += len(group)

    def _held(self) -> torch.Tensor:
        if len(self._pieces) > 1:
            self._pieces[:] = [torch.cat(self._pieces)]
        return self._pieces[0]

    def _clip(self, start: int, total: int) -> torch.Tensor:
        lo, hi = max(start, 0), min(start + self.clip_len, total)
        body = self._held()[lo - self._first: hi - self._first]
        return clip_frames(body, start - lo, self.clip_len, self.pad)

    def _finalise(self, upto: int) -> np.ndarray:
        """Frames [final, upto) from their clips' outputs: sums in clip order, then / support (as
        `FrameAverage`: float32 sums, int32 counts, frames no clip reached divided by 1 under "nonzero-rows")."""
        begin = self.final
        if upto <= begin:
            return np.zeros((0, 0), np.float32)
        columns = next(iter(self._outputs.values())).shape[1]
        scores = np.zeros((upto - begin, columns), np.float32)
        support = np.zeros(upto - begin, np.int32)
        for start in sorted(self._outputs):
            clip = self._outputs[start][max(0, -start): max(0, self.received - start)]  # rows in [0, received)
            first = max(0, start)
            lo, hi = max(first, begin), min(first + len(clip), upto)
            if lo >= hi:
                continue
            rows = clip[lo - first: hi - first]
            scores[lo - begin: hi - begin] += rows
            support[lo - begin: hi - begin] += 1 if self.rule.support == "every-clip" else (rows.sum(axis=1) != 0)
        if self.rule.support == "nonzero-rows":
            support[support == 0] = 1
        elif support.min() == 0:
            raise ValueError(f"frame {begin + int(np.argmin(support))} is covered by no clip")
        scores /= support[:, None]
        self.rows.extend(scores)
        self._forget()
        return scores

    def _forget(self) -> None:
        """Drop the frames no clip still to cut needs, and the clip outputs no frame still to finalise (nor a
        last clip that may run again alone) needs."""
        keep_from = max(0, self._next_start - self.step)  # the latest clip cut: it may be the half's last
        if self._pieces and keep_from > self._first:
            held = self._held()
            drop = min(keep_from - self._first, held.shape[0])
            self._pieces[0] = held[drop:]
            self._first += drop
        needed_from = min(self.final, keep_from)
        for start in [start for start in self._outputs if start + self.clip_len <= needed_from]:
            del self._outputs[start]
