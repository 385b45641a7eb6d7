"""Training of the CALF-based replay grounding baseline (`models.heads.calf_grounding`) in the one training loop.

Per epoch and replay of the training halves (`Labels-cameras.json` beside the labels), `chunks_per_replay`
chunks of L rows, as the benchmark's released code draws them: half positives (the replayed action at a
random row of [R, L - R) of the chunk), half negatives; a negative lies, with probability
`same_class_negatives`, around another action of the replayed class in the half (same placement; ours: never
the replayed action itself), else anywhere in the half. Each chunk goes with the replay's repeated rows
(`pipeline.inference.grounding.tiled_replay_rows`). Targets: the chunk's time shifts to the replayed action
(segmentation), then [holds the action, its row / (L - 1)] (detection), whatever the draw was.
Validation: the same draw with a fixed seed (loss) and the loose grounding Average-AP of the validation
replays (`pipeline.training.tasks.grounding.validation_a_ap`), which picks the best checkpoint when computed.

The draw is a batch plan (`pipeline.training.batch_plan`): an epoch's chunk starts, shuffled, all come from
`np.random.default_rng([seed, epoch])` (validation: `[seed, VALID_SEED]`) and a row is built from its index
alone, so N ranks or `--accumulate` steps train on the rows one process does. The loss is a mean over chunks;
its trained BatchNorm normalises over the rows of a step, so several ranks equal one process with `--sync-bn`
and `--accumulate` does not (smaller batches).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from soccerspot.models.heads.calf_grounding import CALFGroundingLoss
from soccerspot.pipeline.inference.grounding import chunks, replay_clip
from soccerspot.pipeline.training.batch_plan import BatchPlan, in_order
from soccerspot.pipeline.training.config import TrainConfig
from soccerspot.pipeline.training.tasks import register_task
from soccerspot.pipeline.training.tasks.calf import input_statistics
from soccerspot.pipeline.training.tasks.grounding import ReplaySet, replay_loop_task

CHUNK_SAMPLE = tuple[int, int, int]  # (replay index, track index, chunk start)


def same_class_rows(tracks, classes: list[str]) -> list[dict[str, list[int]]]:
    """Per track: the rows of its labelled actions by class name."""
    rows = []
    for track in tracks:
        by_class: dict[str, list[int]] = {}
        for row, cls in zip(track.event_rows, track.event_classes):
            by_class.setdefault(classes[int(cls)], []).append(int(row))
        rows.append(by_class)
    return rows


def draw_chunks(data: ReplaySet, by_class: list[dict[str, list[int]]], length: int, receptive: int, count: int,
                same_class: float, rng: np.random.Generator) -> list[CHUNK_SAMPLE]:
    """`count` chunk starts per replay (see the module docstring), shuffled."""
    samples = []
    for replay_index, (track_index, replay) in enumerate(data.replays):
        track = data.tracks[track_index]
        rows = track.array.shape[0]
        action = track.row(replay.link.position_ms / 1000.0)
        others = [r for r in by_class[track_index].get(replay.link.label, []) if r != action]
        for _ in range(count):
            if rng.random() < 0.5:
                start = action - int(rng.integers(receptive, length - receptive))
            elif others and rng.random() < same_class:
                start = others[int(rng.integers(0, len(others)))] - int(rng.integers(receptive, length - receptive))
            else:
                start = int(rng.integers(0, rows))
            samples.append((replay_index, track_index, int(min(max(start, 0), max(rows - length, 0)))))
    return [samples[i] for i in rng.permutation(len(samples))]


@dataclass
class CALFReplaySamples:
    """An epoch's chunks as a dataset: `self[indices]` is the batch ((chunks (B, L, D), replays (B, L, D)),
    targets (B, L + 2)) of `samples[i]` for i in `indices`."""

    data: ReplaySet
    samples: list[CHUNK_SAMPLE]
    length: int
    _clips: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __len__(self) -> int:
        return len(self.samples)

    def targets(self, track_index: int, replay_index: int, start: int) -> np.ndarray:
        track, replay = self.data.tracks[track_index], self.data.replays[replay_index][1]
        action = track.row(replay.link.position_ms / 1000.0)
        rows = np.clip(np.arange(start, start + self.length), 0, track.array.shape[0] - 1)
        inside = 0 <= action - start < self.length
        slot = [1.0, (action - start) / max(self.length - 1, 1)] if inside else [0.0, 0.0]
        return np.concatenate([(rows - action).astype(np.float32), np.asarray(slot, dtype=np.float32)])

    def replay_rows(self, replay_index: int, track) -> np.ndarray:
        if replay_index not in self._clips:
            self._clips[replay_index] = replay_clip(track, self.data.replays[replay_index][1], self.length, "tile")
        return self._clips[replay_index]

    def __getitem__(self, indices: Sequence[int]) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        candidates, replays, targets = [], [], []
        for replay_index, track_index, start in (self.samples[int(i)] for i in indices):
            track = self.data.tracks[track_index]
            candidates.append(chunks(track, np.array([start]), self.length)[0])
            replays.append(self.replay_rows(replay_index, track))
            targets.append(self.targets(track_index, replay_index, start))
        return ((torch.from_numpy(np.stack(candidates)), torch.from_numpy(np.stack(replays))),
                torch.from_numpy(np.stack(targets)))

    def plan(self, batch_size: int) -> BatchPlan:
        """The chunks in their drawn order, in batches of `batch_size`, as a plan the loop splits."""
        return BatchPlan(self, in_order(len(self.samples), batch_size), use_loader=False)


@register_task("calf-grounding")
def calf_grounding_task(config: TrainConfig, data, head_config, out_dir: Path):
    length, receptive = head_config.window_frames, head_config.receptive
    by_class: dict[int, list] = {}  # id(tracks) -> their actions by class, computed once per set

    def batches(replays: ReplaySet, tracks, seed: tuple[int, int], augment: bool = True) -> BatchPlan:
        del augment  # no augmentation for CALF (the released code has none)
        if id(tracks) not in by_class:
            by_class[id(tracks)] = same_class_rows(tracks, data.classes)
        rows = by_class[id(tracks)]
        samples = draw_chunks(replays, rows, length, receptive, head_config.chunks_per_replay,
                              head_config.same_class_negatives, np.random.default_rng(list(seed)))
        return CALFReplaySamples(replays, samples, length).plan(config.batch_size)

    task = replay_loop_task(config, data, head_config, out_dir, batches, CALFGroundingLoss(head_config, data.fps))
    task.model.set_input_statistics(*(torch.from_numpy(v) for v in input_statistics(data.train.tracks)))
    return task
