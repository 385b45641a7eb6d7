"""`python tests/tiny_recipe_soccerspot.py ARGS`: the soccerspot command with test_dense_training's small frame
recipe registered, for the ranks torchrun starts (a test's monkeypatch does not reach them)."""
from __future__ import annotations

import sys

from soccerspot.extract.frame_recipes import FRAME_RECIPES
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.dense_models import PEER_INFERENCE

from test_dense_training import TINY

if __name__ == "__main__":
    FRAME_RECIPES[TINY.name] = TINY
    PEER_INFERENCE[("E2E-Spot", TINY.name)] = PEER_INFERENCE[("E2E-Spot", "e2e-soccernetv2")]
    sys.exit(main(sys.argv[1:]))
