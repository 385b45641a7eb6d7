"""Adding a head is one file: a head defined here (module, config, registration, preset) trains and spots
through the command line, and no soccerspot file knows it."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from torch import nn

from soccerspot.data.labels import read_predictions
from soccerspot.models.heads import registry as heads
from soccerspot.models.heads.registry import BaseHeadConfig, WindowHead, register_head
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.evaluation.average_map import evaluate_folders
from soccerspot.pipeline.training.config import TrainConfig
from soccerspot.pipeline.training.presets import PRESETS, register_preset

from test_train import write_season

KIND = "test-row-mlp"
PRESET = "test-row-mlp-recipe"


@dataclasses.dataclass
class RowMLPConfig(BaseHeadConfig):
    """A head no soccerspot file knows: each row through a ReLU layer, the max over the window's rows, a
    linear layer to the classes."""

    kind: str = KIND
    hidden_dim: int = 32


class RowMLPHead(WindowHead):
    def __init__(self, config: RowMLPConfig):
        super().__init__()
        self.config = config
        self.rows = nn.Sequential(nn.Linear(config.input_dim, config.hidden_dim), nn.ReLU())
        self.fc = nn.Linear(config.hidden_dim, config.num_classes + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc(self.rows(x).amax(dim=-2)))


@pytest.fixture
def new_head():
    register_head(KIND, config=RowMLPConfig, paper="this test", hidden_dim=32)(RowMLPHead)
    register_preset(TrainConfig(preset=PRESET, source="this test", head=KIND, dropout=0.0,
                                window_seconds=6.0, batch_size=16, lr=2e-2, scheduler="none", max_epochs=10,
                                eval_every=10, nms_window=10.0))
    yield
    heads._HEADS.pop(KIND)
    PRESETS.pop(PRESET)


def test_a_head_defined_in_a_test_trains_and_spots_through_the_cli(new_head, tmp_path, capsys):
    root = tmp_path / "season"
    games = write_season(root, 6, seed=1)
    (tmp_path / "train.txt").write_text("\n".join(games[:4]) + "\n")
    (tmp_path / "valid.txt").write_text("\n".join(games[4:]) + "\n")
    run = tmp_path / "run"
    assert main(["train", "--preset", PRESET, "--features-root", str(root), "--features", "synth",
                 "--train-split", str(tmp_path / "train.txt"), "--valid-split", str(tmp_path / "valid.txt"),
                 "--out", str(run), "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 10 and summary["last"]["valid_a_mAP"] > 0.8, summary
    assert json.loads((run / "best" / "config.json").read_text())["head"]["kind"] == KIND

    spotted = tmp_path / "spots"
    assert main(["spot", str(root), "--model", str(run / "best"), "--features", "synth", "--out", str(spotted)]) == 0
    results = evaluate_folders(root, spotted, tmp_path / "valid.txt", "loose", progress=False)
    assert results["a_mAP"] > 0.8, results["a_mAP"]
    assert all(np.isfinite(p.confidence) for game in games[4:]
               for p in read_predictions(spotted / game / "results_spotting.json").predictions)
