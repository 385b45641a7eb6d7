"""One game of an archive, start to finish, with what the archive spots with (`archive.spotters`: a feature
head, whose features are extracted first, or a dense frame model on the half videos).

`GameWorker` holds it for many games; both engines run it (in this process, in pool processes, or in Ray
actors). It writes into the game folder it is given and returns a `GameOutcome`; errors of a game become a
`failed` outcome (a string, so the outcome pickles across processes) and never stop the archive.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from soccerspot.errors import DataError
from soccerspot.extract.decode import set_decode_threads
from soccerspot.pipeline.archive.discover import ArchiveGame
from soccerspot.pipeline.archive.settings import ArchiveSettings
from soccerspot.pipeline.archive.spotters import DenseSpotting, FeatureSpotting, load_spotting


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


def remove_leftovers(game_dir: Path) -> None:
    """Temp files of atomic writes cut short by a kill (`.<name>.<random>.tmp`): a clean state to redo from."""
    if game_dir.is_dir():
        for leftover in game_dir.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)


class GameWorker:
    def __init__(self, settings: ArchiveSettings, spotting: FeatureSpotting | DenseSpotting | None = None):
        torch.set_num_threads(settings.torch_threads)
        set_decode_threads(settings.torch_threads)  # jobs x (compute + decode threads) stays within the cores
        self.settings = settings
        self.spotting = spotting if spotting is not None else load_spotting(settings)

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
        remove_leftovers(game_dir)
        self.spotting.spot(game, game_dir, outcome)
        outcome.video_seconds = round(outcome.video_seconds, 3)
        return outcome
