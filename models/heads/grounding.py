"""Replay grounding head (Baidu's second task): does a candidate chunk of the half hold the action a replay
shows, and where in the chunk?

Zhou et al., 'Feature Combination Meets Attention: Baidu Soccer Embeddings and Transformer based Temporal
Detection' (arXiv 2106.14447), replay grounding: the features of a candidate chunk and of the replay clip
go through a transformer encoder (sine/cosine positions, 4 encoder layers) that gives two outputs: the
probability that the chunk holds the replayed action, and the action's position in it (an offset), trained
with binary cross-entropy + L2. Here (ours where the report gives no value):

- the replay clip is resampled to `replay_frames` rows (evenly spaced over the replay shot, ours);
- both sequences are projected to `model_dim` (one linear layer each, ours), get their own sine/cosine
  positions and a learned segment embedding (ours), and are encoded together (4 layers, the report;
  4 heads, width 64 and feed-forward 256 as our spotting transformer);
- the read-out is the max over the candidate rows' encodings (ours), then a linear layer to 2 outputs:
  sigmoid probability, sigmoid offset (the action's row / window_frames, in [0, 1]);
- training options, all ours: `offset_weight` (the L2 term's weight), `hard_negatives` (the share of the
  4 negatives drawn around another labelled action of the search span), `replay_jitter` and
  `feature_noise` (augmentations, `pipeline.training.tasks.grounding.ReplaySamples`; 0 = off).

Inference settings stored with the head (`GroundingInference`, shared with `models.heads.calf_grounding`;
the report's post-processing, `pipeline.inference.grounding` applies them): candidates from
`search_before_s` before the replay start; filtering: detections after the replay's end or more than
`keep_before_s` before its end dropped (`keep_before_anchor` "end", the report; "start" measures from the
replay's start, as soccerspot did before); fusion with the game's spotting results (on by default, the
report's W = 42 s, S = 0.02, beta1 = 1.25, beta2 = 0.8: `fusion_span_s`, `fusion_min_score`,
`fusion_nearest_weight`, `fusion_second_weight`); NMS over `nms_window_s` (25 s, the report's merge step),
then runner-up detections demoted by rank (`rank_decay`, ours). `num_classes` is the spotting label set
the head was trained beside (unused by the head).

Checkpoints written before the report's fusion was implemented stored another formula's settings
(`fusion_window_s`, `fusion_threshold`, `fusion_beta1`, `fusion_beta2`; off unless set): that formula is
gone, those fields are dropped when such a checkpoint loads (`retired_fields`), and the head gets the
report's fusion (`soccerspot ground --fusion off` turns it off).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from soccerspot.errors import SettingsError
from soccerspot.models.heads.registry import BaseHeadConfig, register_head
from soccerspot.models.heads.transformer import sinusoidal_encoding
from soccerspot.models.papers import BAIDU_REPORT

GROUNDING_KIND = "baidu-grounding"
KEEP_BEFORE_ANCHORS = ("end", "start")  # what keep_before_s counts back from


@dataclass
class GroundingInference:
    """The inference settings every grounding head stores (the report's post-processing;
    `pipeline.inference.grounding.GroundingOptions` reads them from a head config)."""

    search_before_s: float = 120.0  # candidates within this many seconds before the replay (report)
    keep_before_s: float = 100.0  # drop detections more than this before the replay's end (report)
    keep_before_anchor: str = "end"  # keep_before_s counts back from the replay's "end" (report) or "start"
    drop_after_end: bool = True  # drop detections after the replay's end (report)
    stride_s: float = 1.0  # candidate chunks every stride_s (ours)
    nms_window_s: float = 25.0  # report (its merge step's window of 25, read as seconds)
    fusion: bool = True  # add the report's detections from the game's spotting results (where it has them)
    fusion_span_s: float = 42.0  # W: spotting results in [T - W, T], T the replay's start (report)
    fusion_min_score: float = 0.02  # S: only spotting confidences above S (report)
    fusion_nearest_weight: float = 1.25  # beta1: the nearest one's confidence x beta1 (report)
    fusion_second_weight: float = 0.8  # beta2: the second-nearest one's confidence x beta2 (report)
    rank_decay: float = 0.5  # the k-th best detection of a replay x rank_decay^k (ours; pipeline.inference.grounding)

    # Fields of the fusion formula before the report's (score = beta1 x grounding + beta2 x the best spotting
    # confidence >= threshold within window/2): dropped when a stored config is read (`retired_fields`).
    retired_fields: ClassVar[tuple[str, ...]] = (
        "fusion_window_s", "fusion_threshold", "fusion_beta1", "fusion_beta2")

    # How the inference feeds the head (class attributes, not settings): the replay clip's rows resampled
    # evenly over the shot ("resample") or the shot's rows repeated ("tile"); a chunk's detection kept
    # only when it lies `central_margin` rows or more inside the chunk (0: anywhere).
    replay_fill: ClassVar[str] = "resample"

    @property
    def replay_rows(self) -> int:
        return int(getattr(self, "replay_frames", self.window_frames))

    @property
    def central_margin(self) -> int:
        return 0

    def _validate_inference(self) -> None:
        for name in ("search_before_s", "keep_before_s", "stride_s", "nms_window_s"):
            if not getattr(self, name) > 0:
                raise SettingsError(name, f"{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 < self.rank_decay <= 1.0:
            raise SettingsError("rank_decay", f"rank_decay must lie in (0, 1], got {self.rank_decay}")
        if self.keep_before_anchor not in KEEP_BEFORE_ANCHORS:
            raise SettingsError("keep_before_anchor", f"keep_before_anchor must be one of {', '.join(KEEP_BEFORE_ANCHORS)}, "
                                                      f"got {self.keep_before_anchor!r}")
        if not self.fusion_span_s > 0:
            raise SettingsError("fusion_span_s", f"fusion_span_s must be > 0, got {self.fusion_span_s}")
        if not 0.0 <= self.fusion_min_score <= 1.0:
            raise SettingsError("fusion_min_score", f"fusion_min_score must lie in [0, 1], got {self.fusion_min_score}")
        for name in ("fusion_nearest_weight", "fusion_second_weight"):
            if not getattr(self, name) >= 0:
                raise SettingsError(name, f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class GroundingHeadConfig(GroundingInference, BaseHeadConfig):
    """A `GroundingTransformer`; `window_frames` is the candidate chunk length in rows."""

    kind: str = GROUNDING_KIND
    replay_frames: int = 16
    model_dim: int = 64
    num_layers: int = 4
    num_heads: int = 4
    feedforward_dim: int = 256
    attention_dropout: float = 0.1
    offset_weight: float = 1.0  # L2 offset loss weight beside the BCE (ours)
    hard_negatives: float = 0.0  # fraction of training negatives holding another labelled action (ours)
    replay_jitter: float = 0.0  # training: replay shot trimmed by up to this fraction at each end (ours)
    feature_noise: float = 0.0  # training: Gaussian noise, this many x each dimension's std (ours)

    def _validate_family(self) -> None:
        for name in ("replay_frames", "model_dim", "num_layers", "num_heads", "feedforward_dim"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(name, f"{name} must be >= 1, got {getattr(self, name)}")
        if self.model_dim % self.num_heads:
            raise SettingsError("model_dim", f"model_dim {self.model_dim} must be divisible by num_heads {self.num_heads}")
        if not 0.0 <= self.hard_negatives <= 1.0:
            raise SettingsError("hard_negatives", f"hard_negatives must lie in [0, 1], got {self.hard_negatives}")
        if not 0.0 <= self.replay_jitter < 0.5:
            raise SettingsError("replay_jitter", f"replay_jitter must lie in [0, 0.5), got {self.replay_jitter}")
        if self.feature_noise < 0:
            raise SettingsError("feature_noise", f"feature_noise must be >= 0, got {self.feature_noise}")
        if self.offset_weight < 0:
            raise SettingsError("offset_weight", f"offset_weight must be >= 0, got {self.offset_weight}")
        self._validate_inference()


class GroundingTransformer(nn.Module):
    """(candidates (B, window_frames, D), replays (B, replay_frames, D)) -> (B, 2): [probability, offset]."""

    def __init__(self, config: GroundingHeadConfig):
        super().__init__()
        self.config = config
        self.candidate_projection = nn.Linear(config.input_dim, config.model_dim)
        self.replay_projection = nn.Linear(config.input_dim, config.model_dim)
        self.segments = nn.Parameter(torch.zeros(2, config.model_dim))
        layer = nn.TransformerEncoderLayer(config.model_dim, config.num_heads, dim_feedforward=config.feedforward_dim,
                                           dropout=config.attention_dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.register_buffer("candidate_positions", sinusoidal_encoding(config.window_frames, config.model_dim),
                             persistent=False)
        self.register_buffer("replay_positions", sinusoidal_encoding(config.replay_frames, config.model_dim),
                             persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(config.model_dim, 2)

    def forward(self, candidates: torch.Tensor, replays: torch.Tensor) -> torch.Tensor:
        length = candidates.shape[-2]
        if length != self.config.window_frames or replays.shape[-2] != self.config.replay_frames:
            raise ValueError(f"grounding head built for {self.config.window_frames} candidate and "
                             f"{self.config.replay_frames} replay rows, got {length} and {replays.shape[-2]}")
        tokens = torch.cat([
            self.candidate_projection(candidates) + self.candidate_positions + self.segments[0],
            self.replay_projection(replays) + self.replay_positions + self.segments[1],
        ], dim=-2)
        hidden = self.encoder(tokens)[..., :length, :]
        return torch.sigmoid(self.fc(self.dropout(hidden.amax(dim=-2))))

    def ground_chunks(self, candidates: torch.Tensor, replays: torch.Tensor) -> torch.Tensor:
        """(B, 2): each chunk's probability of holding the replayed action and the action's row in it."""
        outputs = self(candidates, replays)
        return torch.stack([outputs[:, 0], outputs[:, 1] * self.config.window_frames], dim=1)


class GroundingLoss(nn.Module):
    """BCE on the probability + `offset_weight` x squared offset error on positive candidates (targets:
    (B, 2) = [holds the action, its offset in [0, 1]])."""

    def __init__(self, offset_weight: float = 1.0):
        super().__init__()
        self.offset_weight = offset_weight

    def counts(self, targets: torch.Tensor) -> torch.Tensor:
        """What the two means divide by: the candidates, and the positive ones."""
        return torch.stack([torch.tensor(float(len(targets))), targets[:, 0].sum().float().cpu()])

    def sums(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The two terms summed over the batch (BCE; `offset_weight` x squared offset error of the positives):
        a batch split over processes adds them up exactly before dividing by `counts`."""
        bce = nn.functional.binary_cross_entropy(outputs[:, 0], targets[:, 0], reduction="sum")
        positive = targets[:, 0]
        return torch.stack([bce, self.offset_weight * (positive * (outputs[:, 1] - targets[:, 1]) ** 2).sum()])

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        counts = self.counts(targets).to(outputs.device)
        return (self.sums(outputs, targets) / counts.clamp(min=1.0)).sum()


@register_head(GROUNDING_KIND, config=GroundingHeadConfig, paper=BAIDU_REPORT, task="grounding", num_layers=4, num_heads=4,
               model_dim=64, feedforward_dim=256, attention_dropout=0.1, dropout=0.1)
def baidu_grounding(config: GroundingHeadConfig) -> GroundingTransformer:
    return GroundingTransformer(config)
