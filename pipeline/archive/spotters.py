"""What an archive's workers spot a game with, built once per worker from `ArchiveSettings`:

- `FeatureSpotting`: a feature head; per game its features are extracted (complete ones reused: the same
  per-game chain as `spot VIDEO`, `inference.video_spot.extract_game`), then spotted;
- `DenseSpotting`: a dense frame model folder (E2E-Spot, T-DEED, `train-dense`'s); per game each half's frames
  are decoded by the model's frame recipe, run in clips and kept by its peer's NMS, as `spot VIDEO --model DIR`
  does (`inference.dense_spot.spot_dense_game`). Nothing is extracted to disk.

Both give the driver what it needs (`path`: the model file or folder the fingerprint hashes, `described`: what
else decides the outputs, `conflict`: why a game's folder must not be written) and run a game (`spot`).
`load_spotting` chooses by what the model is (a registered dense folder format recognises it, or not).
"""
from __future__ import annotations

import time
from pathlib import Path

from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.errors import DataError, SettingsError
from soccerspot.extract.extractor import resolve_device, resolve_precision
from soccerspot.models.heads import head_entry
from soccerspot.pipeline.archive.grounding import ground_archive_game
from soccerspot.pipeline.archive.settings import ArchiveSettings
from soccerspot.pipeline.inference.checkpoints import LoadedHead, load_checkpoint
from soccerspot.pipeline.inference.dense_half import CLIPS_PER_BATCH
from soccerspot.pipeline.inference.dense_models import is_dense_model_folder, load_dense_spotter
from soccerspot.pipeline.inference.dense_spot import spot_dense_game
from soccerspot.pipeline.inference.spot import resolve_nms, spot_features
from soccerspot.pipeline.inference.video_spot import ExtractionPlan, check_game, extract_game, plan_extraction

FEATURE_BATCH = 32  # frames per backbone pass, unless --batch-size


class FeatureSpotting:
    """A feature head and the extraction of the features it was trained on (one extractor, or one per part of
    combined features and how to combine them)."""

    def __init__(self, settings: ArchiveSettings):
        self.settings = settings
        self.head: LoadedHead = load_checkpoint(settings.model)
        if settings.task is not None and settings.task != self.task:
            raise SettingsError(None, f"--task {settings.task}: the head {self.head.path} ({self.head.config.kind}) "
                                      f"spots {self.task}, not {settings.task}")
        self.plan: ExtractionPlan = plan_extraction(
            self.head, device=settings.device, precision=settings.precision,
            batch_size=settings.batch_size or FEATURE_BATCH, weights_file=settings.weights_file,
            pca_file=settings.pca_file, progress=settings.progress)
        dim = sum(extractor.dim for extractor in self.plan.extractors)
        if dim != self.head.config.input_dim:
            raise DataError(self.head.path, f"the extractor gives {dim}-d features but the head expects "
                                            f"{self.head.config.input_dim}-d inputs")
        resolve_nms(self.head, settings.spot_options())  # bad NMS options fail before any work

    @property
    def task(self) -> str:
        return head_entry(self.head.config.kind).task

    @property
    def path(self) -> Path:
        return self.head.path

    @property
    def classes(self) -> list[str]:
        return list(self.head.classes)

    team = False  # feature heads score classes only

    @property
    def described(self) -> dict:
        return {"features": self.plan.name}

    @property
    def feature_settings(self) -> dict | None:
        return self.head.feature_settings

    def conflict(self, game, game_dir: Path) -> str | None:
        """Why `game_dir` must not be written (features there made differently), or None."""
        try:
            check_game(self.plan, game.halves, game_dir)
        except DataError as error:
            return str(error)
        return None

    def spot(self, game, game_dir: Path, outcome) -> None:
        began = time.perf_counter()
        extraction = extract_game(self.plan, game.halves, game_dir)
        outcome.files, outcome.frames, outcome.video_seconds = extraction.files, extraction.frames, extraction.video_seconds
        outcome.timings["extract"] = round(time.perf_counter() - began, 3)
        if self.settings.features_only:
            return
        began = time.perf_counter()
        result = spot_features(self.head, game_dir, self.plan.name, game_dir / PREDICTIONS_FILE,
                               options=self.settings.spot_options(), url=game.key, game=game.key)
        outcome.predictions = result.predictions
        outcome.files.append(PREDICTIONS_FILE)
        outcome.timings["spot"] = round(time.perf_counter() - began, 3)
        if self.settings.grounding_model is not None:
            began = time.perf_counter()
            outcome.files += ground_archive_game(self.settings.grounding_model, game, game_dir, self.plan.name,
                                                 fusion=self.settings.grounding_fusion)
            outcome.timings["ground"] = round(time.perf_counter() - began, 3)


# settings of a feature head's archive that a dense model (no features, its peers' NMS) has no use for, by flag
DENSE_REFUSED = {"--features-only": "features_only", "--ground": "grounding_model",
                 "--ground-fusion": "grounding_fusion", "--weights": "weights_file",
                 "--pca": "pca_file", "--nms": "nms", "--nms-window": "nms_window", "--threshold": "threshold"}


class DenseSpotting:
    """A dense frame model folder with its peer's inference (`inference.dense_models`)."""

    def __init__(self, settings: ArchiveSettings):
        given = [flag for flag, name in DENSE_REFUSED.items() if getattr(settings, name) not in (None, False)]
        if given:
            raise SettingsError(None, f"{', '.join(given)}: not for a dense frame model ({settings.model}), which "
                                      "spots the videos' frames with its peers' clips and NMS")
        self.settings = settings
        self.spotter = load_dense_spotter(settings.model, task=settings.task)
        device = resolve_device(settings.device)
        self.precision = resolve_precision(settings.precision, device)
        self.spotter.model.to(device)

    @property
    def task(self) -> str:
        return self.spotter.task

    @property
    def path(self) -> Path:
        return self.spotter.path

    @property
    def classes(self) -> list[str]:
        return list(self.spotter.classes)

    @property
    def team(self) -> bool:
        return self.spotter.team

    @property
    def described(self) -> dict:
        return {"frames": self.spotter.frames.name, "task": self.spotter.task}

    @property
    def feature_settings(self) -> dict | None:
        return None

    def conflict(self, game, game_dir: Path) -> str | None:
        return None  # nothing is extracted: the results (and scores) of an unfinished game are redone

    def spot(self, game, game_dir: Path, outcome) -> None:
        began = time.perf_counter()
        spotted = spot_dense_game(self.spotter, game.halves, game_dir, url=game.key,
                                  clips_per_batch=self.settings.batch_size or CLIPS_PER_BATCH,
                                  precision=self.precision, progress=self.settings.progress)
        outcome.files, outcome.frames, outcome.video_seconds = spotted.files, spotted.frames, spotted.video_seconds
        outcome.predictions = spotted.predictions
        outcome.timings["spot"] = round(time.perf_counter() - began, 3)


def load_spotting(settings: ArchiveSettings) -> FeatureSpotting | DenseSpotting:
    """What `settings.model` spots with (a dense model folder, else a feature head); `DataError` naming it."""
    if is_dense_model_folder(settings.model):
        return DenseSpotting(settings)
    return FeatureSpotting(settings)
