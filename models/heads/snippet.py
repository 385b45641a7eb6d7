"""The snippet classifier's head: the mean of a snippet's row features, then a linear layer to C + 1 logits.

The snippet recipe (`pipeline.training.snippets`, after Zhou et al. 2021, arXiv 2106.14447) trains a backbone as a
classifier of snippets of R rows (a frame or a clip per row); `models.finetune.BackboneHeadModel` runs the
backbone on every row and hands this head (batch, R, width) features.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["SnippetHead", "SnippetHeadConfig"]


@dataclass
class SnippetHeadConfig:
    feature_dim: int
    num_outputs: int  # C classes + background

    def to_json(self) -> dict:
        return {"kind": "snippet", **asdict(self)}


class SnippetHead(nn.Module):
    """(batch, R, width) row features -> mean over R -> Linear -> (batch, num_outputs) logits."""

    def __init__(self, config: SnippetHeadConfig):
        super().__init__()
        if config.feature_dim < 1 or config.num_outputs < 2:
            raise ValueError(f"a snippet head needs feature_dim >= 1 and >= 2 outputs, got {config}")
        self.config = config
        self.linear = nn.Linear(config.feature_dim, config.num_outputs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.ndim != 3 or features.shape[-1] != self.config.feature_dim:
            raise ValueError(f"features must be (batch, rows, {self.config.feature_dim}), got {tuple(features.shape)}")
        return self.linear(features.mean(dim=1))
