"""The CALF-based replay grounding baseline of SoccerNet-v2 (Deliège et al., CVPR-W 2021): CALF's network
(Cioppa et al., CVPR 2020; `models.heads.calf`) fed a chunk of the half and the replay, giving one detection
per chunk: does the chunk hold the replayed action, and where.

As in the benchmark's released code (SoccerNet/sn-grounding, SoccerNetv2-ReplayGrounding-CALF):

- input: a chunk of L rows of the half (120 s = 240 rows at 2 fps) and the replay shot's rows repeated to
  fill L rows (the released code repeats them too; ours: the last, partial repetition is filled as well and
  a shot of L rows or more is cut to L, where the released code leaves zeros);
- one frame reduction (input_dim -> 128 -> 32) and temporal pyramid (kernels ceil(R/7), ceil(R/3),
  ceil(R/2), R; R the receptive field, 40 s) shared by both streams, their 2 x 152 channels concatenated;
- segmentation module: kernel-3 convolution to one 16-d capsule, normalisation, sigmoid, the capsule's
  length as the row's score;
- spotting module (as CALF's) -> one detection slot: sigmoid confidence and location in the chunk;
- loss: 0.002 x the symmetric context-aware loss of the segmentation (`symmetric_segmentation_loss`,
  K = (-20, -10, 10, 20) s, margins 0.1 / 0.9, the chunk's first and last R/2 rows not counted) + 1 x the
  YOLO-like detection loss of the one slot (lambda_coord 5, lambda_noobj 0.5; `models.heads.calf.SpottingLoss`);
- inference: chunks every L - R rows (80 s), each slot kept where it lies in the chunk's central rows
  [R/2, L - R/2) (borders of the half: the whole chunk); its row is location x (L - 1), rounded (ours;
  the released code floors it).

Ours (as in `models.heads.calf`): the per-dimension input standardisation, the normalisation over the
capsule channels with PyTorch's default momentum, the segmentation score fed to the spotting module as it
is (the released code feeds and trains 1 - score; the loss below is written for the score), the losses
averaged over the batch. The post-processing after the chunks (the search span, keep window, NMS 25 s, rank
decay) is the one `pipeline.inference.grounding` applies to every grounding head (`GroundingInference`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from soccerspot.errors import SettingsError
from soccerspot.models.heads.calf import SameConv, SpottingLoss, add_frame_trunk, pooled_length
from soccerspot.models.heads.grounding import GroundingInference
from soccerspot.models.heads.registry import BaseHeadConfig, register_head
from soccerspot.models.papers import SOCCERNET_V2_PAPER

__all__ = ["CALF_GROUNDING_KIND", "CALFGroundingConfig", "CALFGrounding", "CALFGroundingLoss",
           "symmetric_segmentation_loss"]

CALF_GROUNDING_KIND = "calf-grounding"


@dataclass
class CALFGroundingConfig(GroundingInference, BaseHeadConfig):
    """`window_frames` is the chunk length L in rows (240 = 120 s at 2 fps)."""

    kind: str = CALF_GROUNDING_KIND
    window_frames: int = 240
    dropout: float = 0.0
    frame_hidden: int = 128
    frame_reduced: int = 32
    capsule_dim: int = 16
    receptive_frames: int = 0  # R; 0 = L // 3 (40 s of a 120 s chunk)
    slicing_seconds: list = field(default_factory=lambda: [-20.0, -10.0, 10.0, 20.0])  # K1..K4
    tau_min: float = 0.1
    tau_max: float = 0.9
    segmentation_weight: float = 0.002
    detection_weight: float = 1.0
    lambda_coord: float = 5.0
    lambda_noobj: float = 0.5
    chunks_per_replay: int = 8  # training chunks per replay and epoch (ours; the released code draws 1)
    same_class_negatives: float = 0.5  # share of negatives around another action of the replayed class

    replay_fill: ClassVar[str] = "tile"

    @property
    def receptive(self) -> int:
        return self.receptive_frames or max(1, self.window_frames // 3)

    @property
    def central_margin(self) -> int:
        return self.receptive // 2

    def _validate_family(self) -> None:
        for name in ("frame_hidden", "frame_reduced", "capsule_dim", "chunks_per_replay"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(name, f"{name} must be >= 1, got {getattr(self, name)}")
        if pooled_length(self.window_frames) < 1:
            raise SettingsError("window_frames", f"calf-grounding pools a chunk three times: window_frames must "
                                                 f"be >= 15 rows, got {self.window_frames}")
        if not 0 <= self.receptive_frames < self.window_frames:
            raise SettingsError("receptive_frames",
                                f"receptive_frames must lie in [0, window_frames), got {self.receptive_frames}")
        k = [float(v) for v in self.slicing_seconds]
        if len(k) != 4 or not k[0] < k[1] < 0 < k[2] < k[3]:
            raise SettingsError("slicing_seconds",
                                f"slicing_seconds must be [K1, K2, K3, K4] with K1 < K2 < 0 < K3 < K4, got {k}")
        if not 0.0 <= self.tau_min < 1.0:
            raise SettingsError("tau_min", f"tau_min must lie in [0, 1), got {self.tau_min}")
        if not 0.0 < self.tau_max <= 1.0:
            raise SettingsError("tau_max", f"tau_max must lie in (0, 1], got {self.tau_max}")
        if not 0.0 <= self.same_class_negatives <= 1.0:
            raise SettingsError("same_class_negatives",
                                f"same_class_negatives must lie in [0, 1], got {self.same_class_negatives}")
        self._validate_inference()


class CALFGrounding(nn.Module):
    """(chunks (B, L, D), replays (B, L, D)) -> (B, L + 2): the rows' segmentation scores, then the slot
    [confidence, location in the chunk (0 = first row, 1 = last)]."""

    def __init__(self, config: CALFGroundingConfig):
        super().__init__()
        self.config = config
        cap = config.capsule_dim
        add_frame_trunk(self, config)
        self.segment = SameConv(2 * (config.frame_reduced + 120), cap, 3)
        self.norm = nn.BatchNorm1d(cap)
        self.spot = nn.Sequential(
            nn.MaxPool1d(3, 2), SameConv(cap + 1, 32, 3), nn.ReLU(),
            nn.MaxPool1d(3, 2), SameConv(32, 16, 3), nn.ReLU(), nn.MaxPool1d(3, 2), nn.Flatten(),
            nn.Dropout(config.dropout))
        self.slot = nn.Linear(16 * pooled_length(config.window_frames), 2)

    @torch.no_grad()
    def set_input_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Standardise inputs with these per-dimension statistics (std below 1e-6 counts as 1e-6)."""
        self.input_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.input_scale.copy_(1.0 / torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-6))

    def stream(self, rows: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, 152, L): frame reduction and temporal pyramid (shared by both inputs)."""
        x = self.frames((rows - self.input_mean) * self.input_scale).transpose(1, 2)
        return torch.cat([x] + [F.relu(conv(x)) for conv in self.pyramid], dim=1)

    def forward(self, candidates: torch.Tensor, replays: torch.Tensor) -> torch.Tensor:
        length = self.config.window_frames
        if candidates.shape[-2] != length or replays.shape[-2] != length:
            raise ValueError(f"calf-grounding head built for chunks of {length} rows, got {candidates.shape[-2]} "
                             f"and {replays.shape[-2]}")
        capsules = self.segment(torch.cat([self.stream(candidates), self.stream(replays)], dim=1))  # (B, cap, L)
        unit = torch.sigmoid(self.norm(capsules))
        scores = torch.sqrt(((unit - 0.5) ** 2).sum(dim=1, keepdim=True) * 4.0 / self.config.capsule_dim)
        slot = torch.sigmoid(self.slot(self.spot(F.relu(torch.cat([capsules, scores], dim=1)))))
        return torch.cat([scores.flatten(1), slot], dim=1)

    def ground_chunks(self, candidates: torch.Tensor, replays: torch.Tensor) -> torch.Tensor:
        """(B, 2): each chunk's confidence and the detection's row in it."""
        slot = self(candidates, replays)[:, -2:]
        return torch.stack([slot[:, 0], slot[:, 1] * (self.config.window_frames - 1)], dim=1)


def symmetric_segmentation_loss(scores: torch.Tensor, shifts: torch.Tensor, k: torch.Tensor,
                                tau_min: float = 0.1, tau_max: float = 0.9) -> torch.Tensor:
    """Elementwise symmetric context-aware loss of scores p at time shifts s (row - action row), k = K1..K4
    rows: on K2 <= s < K3 (around the action) max(0, -ln(g + (1 - g) p) + ln tau_max) with g = s / K2
    before and s / K3 after the action; elsewhere max(0, -ln(1 - w p) + ln(1 - tau_min)) with w falling
    from 1 at K1 to 0 at K2 and rising from 0 at K3 to 1 at K4 (1 beyond)."""
    k1, k2, k3, k4 = (float(v) for v in k)
    eps = 1e-7
    weight = torch.where(shifts < 0, ((k2 - shifts) / (k2 - k1)).clamp(0.0, 1.0),
                         ((shifts - k3) / (k4 - k3)).clamp(0.0, 1.0))
    negative = F.relu(-torch.log((1.0 - weight * scores).clamp_min(eps)) + math.log(1.0 - tau_min))
    ramp = torch.where(shifts < 0, shifts / k2, shifts / k3).clamp(0.0, 1.0)
    positive = F.relu(-torch.log((ramp + (1.0 - ramp) * scores).clamp_min(eps)) + math.log(tau_max))
    return torch.where((shifts >= k2) & (shifts < k3), positive, negative)


class CALFGroundingLoss(nn.Module):
    """segmentation_weight x symmetric context-aware loss (rows R/2 .. L - R/2) + detection_weight x the slot's
    YOLO-like loss, per chunk, averaged over the batch. Targets (B, L + 2): the rows' time shifts to the
    replayed action (rows), then [holds the action, its location in the chunk]."""

    def __init__(self, config: CALFGroundingConfig, fps: float):
        super().__init__()
        self.config = config
        self.k = [float(v) * fps for v in config.slicing_seconds]
        self.spotting = SpottingLoss(config.lambda_coord, config.lambda_noobj)

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        c, length = self.config, self.config.window_frames
        margin = c.receptive // 2
        rows = slice(margin, length - margin)
        segmentation = symmetric_segmentation_loss(outputs[:, :length][:, rows], targets[:, :length][:, rows],
                                                   self.k, c.tau_min, c.tau_max)
        detection = self.spotting(outputs[:, None, length:], targets[:, None, length:])
        total = c.segmentation_weight * segmentation.sum() + c.detection_weight * detection
        return total / outputs.shape[0]


# The released SoccerNet-v2 replay grounding code's sizes and loss settings.
@register_head(CALF_GROUNDING_KIND, config=CALFGroundingConfig, paper=SOCCERNET_V2_PAPER, task="grounding",
               frame_hidden=128, frame_reduced=32, capsule_dim=16, tau_min=0.1, tau_max=0.9,
               segmentation_weight=0.002, detection_weight=1.0, lambda_coord=5.0, lambda_noobj=0.5, dropout=0.0)
def calf_grounding(config: CALFGroundingConfig) -> CALFGrounding:
    return CALFGrounding(config)
