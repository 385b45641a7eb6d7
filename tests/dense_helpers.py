"""A tiny dense frame model honouring the dense interface, for inference tests (no real network)."""
from __future__ import annotations

import torch
from torch import nn

from soccerspot.models.dense.registry import PAD_BLACK, PAD_NORMALISED_ZERO, DenseInput, DenseOutput

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class TinyDense(nn.Module):
    """A dense model of the interface, small and deterministic: each frame's logits depend on its pixels and
    on its place in the clip, so padding, clip placement and overlap all show in the outputs."""

    def __init__(self, clip_len: int, num_classes: int, *, displacement: bool = False, team: bool = False,
                 seed: int = 0, pad_black: bool = False):
        super().__init__()
        self.input_spec = DenseInput(*IMAGENET, padding=PAD_BLACK if pad_black else PAD_NORMALISED_ZERO)
        generator = torch.Generator().manual_seed(seed)
        self.clip_len, self.num_classes = clip_len, num_classes
        self.has_displacement, self.has_team = displacement, team
        self.pixels = nn.Parameter(torch.randn(3, num_classes + 1, generator=generator) * 3)
        self.place = nn.Parameter(torch.randn(clip_len, num_classes + 1, generator=generator))
        self.extra = nn.Parameter(torch.randn(3, 2, generator=generator))

    def forward(self, x: torch.Tensor) -> DenseOutput:
        means = x.mean(dim=(3, 4))  # (B, T, 3)
        logits = means @ self.pixels + self.place[: x.shape[1]]
        other = means @ self.extra
        displacement = 5 * torch.tanh(other[..., 0]) if self.has_displacement else None
        team = 2 * other[..., 1] if self.has_team else None
        return DenseOutput(logits, displacement, team)
