"""What an archive's workers are built from: one picklable record, light to import (the driver starts an
engine's workers with it before it loads torch)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from soccerspot.pipeline.inference.spot import SpotOptions


@dataclass(frozen=True)
class ArchiveSettings:
    """Everything a worker needs to rebuild the driver's checkpoint and extractor (picklable)."""

    model: str
    device: str = "auto"
    precision: str = "auto"  # of features extracted here; features on disk at another precision are reused
    batch_size: int | None = None  # frames per backbone pass (32), or clips per dense model pass (4)
    weights_file: str | tuple[str, ...] | None = None  # several: one per fine-tuned part of combined features
    pca_file: str | None = None
    nms: str | None = None
    nms_window: float | None = None
    threshold: float | None = None
    features_only: bool = False
    grounding_model: str | None = None  # a grounding checkpoint or "similarity": games with camera labels are grounded
    grounding_fusion: str | None = None  # `--ground-fusion` (baidu | off | W,S,BETA1,BETA2); None: the head's setting
    torch_threads: int = 1
    task: str | None = None  # what the model must spot (`data.tasks`), else what it says it spots
    progress: bool = False

    def spot_options(self) -> "SpotOptions":
        from soccerspot.pipeline.inference.spot import SpotOptions

        # overwrite: a game that is not finished in the manifest is redone from a clean state
        return SpotOptions(nms=self.nms, nms_window=self.nms_window, threshold=self.threshold, overwrite=True)


def threads_per_job(jobs: int, cores: int | None = None) -> int:
    """Torch threads for each of `jobs` concurrent games so that threads x jobs <= cores."""
    cores = cores or len(os.sched_getaffinity(0))
    return max(1, cores // max(1, jobs))
