"""Tiny dense model folders for task and archive tests: `TinyDense` behind a test-only folder format (registered
in this process only), on E2E-Spot's SoccerNet-v2 frames or a small T-DEED-like ball recipe."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dense_helpers import TinyDense
from soccerspot.extract.frame_recipes import FRAME_RECIPES, FrameRecipe
from soccerspot.models.dense import registry
from soccerspot.pipeline.inference.dense_clips import TDEED_RULE
from soccerspot.pipeline.inference.dense_models import PEER_INFERENCE, PeerInference, task_nms

BALL = ["PASS", "DRIVE", "SHOT"]
V2 = ["Goal", "Corner", "Foul"]
SMALL_BALL = FrameRecipe("small-ball-test", sample_fps=25, width=64, height=48, read_stride=2)


@pytest.fixture
def tiny_format(monkeypatch):
    """A test-only folder format loading `TinyDense` (with a team head where its JSON says so)."""
    def recognises(folder: Path) -> bool:
        return (folder / "tiny.json").is_file()

    def load(folder: Path, **options) -> registry.PeerDenseModel:
        config = json.loads((folder / "tiny.json").read_text())
        model = TinyDense(config["clip_len"], len(config["classes"]), displacement=config["team"],
                          team=config["team"], pad_black=config["team"], seed=config["seed"])
        return registry.PeerDenseModel(model.eval(), tuple(config["classes"]), config["recipe"], config["variant"],
                                       folder / "tiny.json")

    monkeypatch.setitem(registry._PEER_FORMATS, "tiny-test", registry.PeerDenseFormat("tiny-test", recognises, load))
    monkeypatch.setitem(FRAME_RECIPES, SMALL_BALL.name, SMALL_BALL)
    monkeypatch.setitem(PEER_INFERENCE, ("T-DEED", SMALL_BALL.name),
                        PeerInference(TDEED_RULE, task_nms("ball", SMALL_BALL), 25, "ball"))


def tiny_folder(folder: Path, classes: list[str], team: bool, recipe: str = "e2e-soccernetv2",
                variant: str = "E2E-Spot", seed: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.json").write_text(json.dumps({"clip_len": 16, "classes": classes, "team": team, "seed": seed,
                                                  "recipe": recipe, "variant": variant}))
    return folder
