"""One game of an archive, start to finish: extract the head's features (reusing complete ones, the same
per-game chain as `spot VIDEO`: `inference.video_spot.extract_game`), spot them.

`GameWorker` holds the checkpoint and the extractor for many games; both engines run it (in this
process, in pool processes, or in Ray actors). It writes into the game folder it is given and returns a
`GameOutcome`; errors of a game become a `failed` outcome (a string, so the outcome pickles across
processes) and never stop the archive.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.errors import DataError
from soccerspot.extract.decode import set_decode_threads
from soccerspot.pipeline.archive.discover import ArchiveGame
from soccerspot.pipeline.archive.grounding import ground_archive_game
from soccerspot.pipeline.archive.settings import ArchiveSettings
from soccerspot.pipeline.inference.checkpoints import LoadedHead, load_checkpoint
from soccerspot.pipeline.inference.spot import resolve_nms, spot_features
from soccerspot.pipeline.inference.video_spot import ExtractionPlan, extract_game, plan_extraction


@dataclass
class GameOutcome:
    status: str  # "done" | "failed"
    error: str | None = None
    frames: int = 0
    video_seconds: float = 0.0
    predictions: int = 0
    timings: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # names inside the game folder, in the order written
    attempts: int = 1
    payload: list[tuple[str, bytes]] | None = None  # the files' bytes, when the driver must write them (Ray)




def load_head_and_extractor(settings: ArchiveSettings) -> tuple[LoadedHead, ExtractionPlan]:
    """(head, the extraction plan) whose features are the ones the head was trained on (one extractor, or
    one per part of combined features and how to combine them), else `DataError`."""
    head = load_checkpoint(settings.model)
    plan = plan_extraction(head, device=settings.device, precision=settings.precision, batch_size=settings.batch_size,
                           weights_file=settings.weights_file, pca_file=settings.pca_file, progress=settings.progress)
    dim = sum(extractor.dim for extractor in plan.extractors)
    if dim != head.config.input_dim:
        raise DataError(head.path, f"the extractor gives {dim}-d features but the head expects "
                                   f"{head.config.input_dim}-d inputs")
    resolve_nms(head, settings.spot_options())  # bad NMS options fail before any work
    return head, plan


def remove_leftovers(game_dir: Path) -> None:
    """Temp files of atomic writes cut short by a kill (`.<name>.<random>.tmp`): a clean state to redo from."""
    if game_dir.is_dir():
        for leftover in game_dir.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)


class GameWorker:
    def __init__(self, settings: ArchiveSettings, head: LoadedHead | None = None, plan: ExtractionPlan | None = None):
        torch.set_num_threads(settings.torch_threads)
        set_decode_threads(settings.torch_threads)  # jobs x (compute + decode threads) stays within the cores
        self.settings = settings
        if head is None or plan is None:
            head, plan = load_head_and_extractor(settings)
        self.head, self.plan = head, plan

    def run(self, game: ArchiveGame, game_dir: Path) -> GameOutcome:
        began = time.perf_counter()
        try:
            outcome = self._run(game, game_dir)
        except DataError as error:
            outcome = GameOutcome("failed", error=str(error))
        except Exception as error:  # a decoder or library failure on one game must not stop the archive
            outcome = GameOutcome("failed", error=f"{type(error).__name__}: {error}")
        outcome.timings["total"] = round(time.perf_counter() - began, 3)
        return outcome

    def _run(self, game: ArchiveGame, game_dir: Path) -> GameOutcome:
        outcome = GameOutcome("done")
        began = time.perf_counter()
        remove_leftovers(game_dir)
        extraction = extract_game(self.plan, game.halves, game_dir)
        outcome.files, outcome.frames, outcome.video_seconds = extraction.files, extraction.frames, extraction.video_seconds
        outcome.timings["extract"] = round(time.perf_counter() - began, 3)
        if not self.settings.features_only:
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
        outcome.video_seconds = round(outcome.video_seconds, 3)
        return outcome
