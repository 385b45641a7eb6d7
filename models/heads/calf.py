"""CALF on features: segmentation with the context-aware loss, then YOLO-like spotting, over chunks.

Cioppa et al., "A Context-Aware Loss Function for Action Spotting in Soccer Videos", CVPR 2020 (network of
its supplementary material; sizes as in the authors' released SoccerNet-v2 code where the paper gives none):

- frame feature reduction: per-row linear layers input_dim -> 128 -> 32, ReLU (the released 1 x dim and
  1 x 1 convolutions);
- temporal pyramid: four convolutions over time of kernels ceil(R/7), ceil(R/3), ceil(R/2) and R rows (R
  the receptive field, 40 s = 80 rows there) with 8, 16, 32 and 64 channels, ReLU, concatenated with their
  32-channel input (152 channels);
- segmentation module: a kernel-3 convolution to C capsules of 16 dimensions, batch normalisation, sigmoid;
  the score of class c at a row is the capsule's length sqrt(4/16 x sum (x - 0.5)^2), in [0, 1];
- spotting module: capsules (before the normalisation, ReLU) with the segmentation scores -> max-pool (3,
  stride 2) -> conv 3 to 32 -> max-pool -> conv 3 to 16 -> max-pool -> flatten -> `num_detections` (15)
  slots of a sigmoid confidence and location in the chunk (0 = first row, 1 = last) and a softmax class.

Our choices: inputs standardised per dimension with the training features' mean and std (stored with
the weights; the paper's features are PCA-reduced, hence centred, and raw features of a backbone can vary
little over time: on the demo's synthetic features CALF did not learn without it), batch normalisation
over the capsule channels with PyTorch's default momentum (the released
code normalises over the chunk's rows with momentum 0.01), dropout (default 0) before the slot layers, and
scores fed to the spotting module as they are (the released code feeds 1 - its score).

Losses. `segmentation_loss` is the paper's context-aware loss of a score p at time shift s (see
`data.calf_targets`): on negative terms (far before/after, and the ramps K1..K2 and K3..K4 with weight
w(s) falling linearly from 1 at K1 to 0 at K2 and rising from 0 at K3 to 1 at K4) max(0, -ln(1 - w p) +
ln(1 - tau_min)); just after the action (0 <= s < K3, g = s / K3) max(0, -ln(g + (1 - g) p) + ln tau_max);
nothing on K2 <= s < 0. The margins make a negative frame free once w p <= tau_min and a positive one once
g + (1 - g) p >= tau_max (tau_min = 0.1, tau_max = 0.9: the released hit/miss radii). `SpottingLoss` is the
YOLO-like sum over matched slots: lambda_coord (5) x location error^2 + (1 - confidence)^2 + class error^2
on slots with an action, lambda_noobj (0.5) x confidence^2 on the others, after `match_slots`' one-to-one
matching of predictions to actions. `CALFLoss` = 0.000367 x segmentation + 1 x spotting (the released
weights), both summed over the chunk and averaged over the batch (ours: the released code sums over the
batch too).

`forward(chunks (batch, L, dim))` returns one tensor (batch, L x C + D x (2 + C)): the segmentation scores
row by row, then the slots (`split_outputs` takes it apart). `half_probabilities` scores a whole half over
chunks overlapping by R rows (the last one ends at the half's end; a half shorter than L is padded with its
last row): each slot puts its confidence at its row and class when that row lies in the chunk's central
rows [R/2, L - R/2) (where training puts actions; the released code's inference keeps the same rows), a
row keeps the maximum over slots and chunks, and column 0 is 1 - the row's largest class score. Ours, as
options (`inference_stride`, `vote="sum"`; the calf-short preset uses them): chunks at every row, each
voting at most once per row and class (its largest slot there), a row scored by the sum of its votes
divided by the number of chunks keeping it (a mean, in [0, 1]): a place that many overlapping chunks agree
on outranks one a single chunk is sure of. Measured on bench_heads' season (one checkpoint of 20 s chunks,
NMS 10 s): tight Average-mAP 0.68 with the released inference, 0.79 with max every 3 rows, 0.86 with sum
every 3 rows, 0.89 with sum every row (loose 0.98 -> 1.00).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from soccerspot.errors import SettingsError
from soccerspot.models.heads.context import RowContext
from soccerspot.models.heads.registry import BaseHeadConfig, register_head
from soccerspot.models.papers import CALF_PAPER

__all__ = ["CALF_PAPER", "CALF_VOTES", "CALFHeadConfig", "CALFHead", "CALFLoss", "SpottingLoss", "segmentation_loss",
           "match_slots", "split_outputs", "pooled_length", "chunk_starts_for", "kept_rows"]



CALF_VOTES = ("max", "sum")


def pooled_length(rows: int) -> int:
    """Rows left after the spotting module's three max-pools of 3 rows with stride 2."""
    for _ in range(3):
        rows = (rows - 3) // 2 + 1 if rows >= 3 else 0
    return rows


@dataclass
class CALFHeadConfig(BaseHeadConfig):
    """`window_frames` is the chunk length L in rows (the paper's 120 s = 240 rows at 2 fps)."""

    kind: str = "calf"
    window_frames: int = 240
    dropout: float = 0.0
    frame_hidden: int = 128
    frame_reduced: int = 32
    capsule_dim: int = 16
    num_detections: int = 15
    receptive_frames: int = 0  # R; 0 = L // 3 (the paper's 40 s of a 120 s chunk)
    # training settings of the family, kept with the head so a run records them
    slicing_seconds: list | None = None  # per class [K1, K2, K3, K4] s; None = data.calf_targets.default_slicing
    tau_min: float = 0.1
    tau_max: float = 0.9
    segmentation_weight: float = 0.000367
    detection_weight: float = 1.0
    lambda_coord: float = 5.0
    lambda_noobj: float = 0.5
    chunks_per_epoch: int = 18000
    # inference: chunks every `inference_stride` rows (0 = L - R, the released code's), a row of a class
    # scored by the largest slot confidence put there ("max", released) or by the chunks' votes summed and
    # divided by the number of chunks keeping that row ("sum", ours; see `half_probabilities`)
    inference_stride: int = 0
    vote: str = "max"

    @property
    def receptive(self) -> int:
        return self.receptive_frames or max(1, self.window_frames // 3)

    @property
    def stride(self) -> int:
        return self.inference_stride or max(1, self.window_frames - self.receptive)

    def _validate_family(self) -> None:
        for name in ("frame_hidden", "frame_reduced", "capsule_dim", "num_detections", "chunks_per_epoch"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(name, f"{name} must be >= 1, got {getattr(self, name)}")
        if pooled_length(self.window_frames) < 1:
            raise SettingsError("window_frames", f"calf pools a chunk three times: window_frames must be >= 15 rows, got "
                             f"{self.window_frames}")
        if self.inference_stride < 0:
            raise SettingsError("inference_stride", f"inference_stride must be >= 0 (0: window_frames - receptive), got {self.inference_stride}")
        if self.vote not in CALF_VOTES:
            raise SettingsError("vote", f"vote must be one of {CALF_VOTES}, got {self.vote!r}")
        if not 0 <= self.receptive_frames < self.window_frames:
            raise SettingsError("receptive_frames", f"receptive_frames must lie in [0, window_frames), got {self.receptive_frames}")
        if not (0.0 <= self.tau_min < 1.0 and 0.0 < self.tau_max <= 1.0):
            raise SettingsError("tau_min" if not 0.0 <= self.tau_min < 1.0 else "tau_max", f"margins must satisfy 0 <= tau_min < 1 and 0 < tau_max <= 1, got "
                             f"{self.tau_min}, {self.tau_max}")
        if self.slicing_seconds is not None:
            rows = [list(map(float, k)) for k in self.slicing_seconds]
            if len(rows) != self.num_classes or any(len(k) != 4 for k in rows):
                raise SettingsError("slicing_seconds", f"slicing_seconds holds [K1, K2, K3, K4] for each of the {self.num_classes} "
                                 f"classes; got {len(rows)} rows")
            for index, (k1, k2, k3, k4) in enumerate(rows):
                if not k1 < k2 < 0 < k3 < k4:
                    raise SettingsError("slicing_seconds", f"slicing_seconds must satisfy K1 < K2 < 0 < K3 < K4; class {index} "
                                     f"has {[k1, k2, k3, k4]}")


def same_padding(kernel: int) -> tuple[int, int]:
    return (kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2


class SameConv(nn.Module):
    """Conv1d over time keeping the length (zero padding, the extra row after for even kernels)."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int):
        super().__init__()
        self.padding = same_padding(kernel)
        self.conv = nn.Conv1d(channels_in, channels_out, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.padding))


def add_frame_trunk(module: nn.Module, config) -> None:
    """CALF's per-frame trunk, on `module` (CALF and its grounding variant share it): per-dimension input
    standardisation buffers, set from the training features (`set_input_statistics`) and saved with the
    weights (the paper's features are PCA-reduced, i.e. centred; ours may not be), the frame MLP
    (`frames`) and the temporal pyramid of four convolutions of 8-64 channels (`pyramid`: 120 channels)."""
    r = config.receptive
    module.register_buffer("input_mean", torch.zeros(config.input_dim))
    module.register_buffer("input_scale", torch.ones(config.input_dim))
    module.frames = nn.Sequential(nn.Linear(config.input_dim, config.frame_hidden), nn.ReLU(),
                                  nn.Linear(config.frame_hidden, config.frame_reduced), nn.ReLU())
    kernels = (math.ceil(r / 7), math.ceil(r / 3), math.ceil(r / 2), r)
    module.pyramid = nn.ModuleList(SameConv(config.frame_reduced, width, kernel)
                                   for width, kernel in zip((8, 16, 32, 64), kernels))


class CALFHead(nn.Module):
    def __init__(self, config: CALFHeadConfig):
        super().__init__()
        self.config = config
        c, cap = config.num_classes, config.capsule_dim
        add_frame_trunk(self, config)
        self.segment = SameConv(config.frame_reduced + 120, cap * c, 3)
        self.norm = nn.BatchNorm1d(cap * c)
        self.spot = nn.Sequential(
            nn.MaxPool1d(3, 2), SameConv(c * (cap + 1), 32, 3), nn.ReLU(),
            nn.MaxPool1d(3, 2), SameConv(32, 16, 3), nn.ReLU(), nn.MaxPool1d(3, 2), nn.Flatten(),
            nn.Dropout(config.dropout))
        flat = 16 * pooled_length(config.window_frames)
        self.slots = nn.Linear(flat, config.num_detections * 2)
        self.classes = nn.Linear(flat, config.num_detections * c)

    @torch.no_grad()
    def set_input_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Standardise inputs with these per-dimension statistics (std below 1e-6 counts as 1e-6)."""
        self.input_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.input_scale.copy_(1.0 / torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-6))

    def segment_and_spot(self, chunks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, L, dim) -> segmentation scores (batch, L, C), slots (batch, D, 2 + C)."""
        config = self.config
        batch, length = chunks.shape[:2]
        x = self.frames((chunks - self.input_mean) * self.input_scale).transpose(1, 2)  # (batch, 32, L)
        x = torch.cat([x] + [F.relu(conv(x)) for conv in self.pyramid], dim=1)
        capsules = self.segment(x)  # (batch, C x cap, L), capsule-major: class c is rows c*cap .. c*cap+cap-1
        unit = torch.sigmoid(self.norm(capsules)).view(batch, config.num_classes, config.capsule_dim, length)
        scores = torch.sqrt(((unit - 0.5) ** 2).sum(dim=2) * 4.0 / config.capsule_dim)  # (batch, C, L)
        features = self.spot(F.relu(torch.cat([capsules, scores], dim=1)))
        located = torch.sigmoid(self.slots(features)).view(batch, config.num_detections, 2)
        classes = torch.softmax(self.classes(features).view(batch, config.num_detections, config.num_classes), -1)
        return scores.transpose(1, 2), torch.cat([located, classes], dim=2)

    def forward(self, chunks: torch.Tensor) -> torch.Tensor:
        """(batch, L, dim) -> (batch, L x C + D x (2 + C)); see `split_outputs`."""
        scores, slots = self.segment_and_spot(chunks)
        return torch.cat([scores.flatten(1), slots.flatten(1)], dim=1)

    def context_rows(self) -> RowContext:
        """Row i is voted on by the grid's chunks (every `stride` rows from 0) that contain it, read from
        i - L + 1 on; the chunk ending the half covers its last L rows, so row i is final once row i + L exists."""
        length = self.config.window_frames
        return RowContext(past=length - 1, future=length, period=self.config.stride)

    @torch.no_grad()
    def half_probabilities(self, features: torch.Tensor, batch_size: int = 64, **_) -> torch.Tensor:
        """(frames, dim) -> (frames, C + 1): the chunks' slots at their rows, gathered by `config.vote`."""
        config = self.config
        frames, length, classes = features.shape[0], config.window_frames, config.num_classes
        device = features.device
        scores = torch.zeros(frames, classes, device=device)
        if frames == 0:
            return torch.zeros(0, classes + 1, device=device)
        cover = torch.zeros(frames, device=device)
        starts = torch.tensor(chunk_starts_for(frames, length, config.receptive, config.stride), device=device)
        offsets = torch.arange(length, device=device)
        for begin in range(0, len(starts), batch_size):
            chunk = starts[begin:begin + batch_size]
            rows = (chunk[:, None] + offsets).clamp(0, frames - 1)
            _, slots = self.segment_and_spot(features[rows].float())
            position = torch.round(slots[:, :, 1] * (length - 1)).long()  # (chunks, D)
            cls = slots[:, :, 2:].argmax(dim=2)
            low, high = kept_rows(chunk, frames, length, config.receptive)
            inside = (chunk[:, None] + position < frames) & (position >= low[:, None]) & (position < high[:, None])
            if config.vote == "max":
                flat = (chunk[:, None] + position)[inside] * classes + cls[inside]
                scores.view(-1).scatter_reduce_(0, flat, slots[:, :, 0][inside], reduce="amax")
                continue
            # "sum": each chunk votes at most once per row and class (its largest slot there) ...
            votes = torch.zeros(len(chunk), length, classes, device=device)
            which = torch.arange(len(chunk), device=device)[:, None].expand_as(position)
            flat = (which * length + position)[inside] * classes + cls[inside]
            votes.view(-1).scatter_reduce_(0, flat, slots[:, :, 0][inside], reduce="amax")
            scores.index_add_(0, rows.flatten(), votes.flatten(0, 1))  # rows past the half get no vote
            # ... and a row's score is the mean over the chunks that keep it
            kept = (offsets >= low[:, None]) & (offsets < high[:, None]) & (chunk[:, None] + offsets < frames)
            cover.index_add_(0, rows.flatten(), kept.flatten().to(cover.dtype))
        if config.vote == "sum":
            scores = scores / cover.clamp_min(1.0)[:, None]
        background = 1.0 - scores.amax(dim=1, keepdim=True)
        return torch.cat([background, scores], dim=1)


def kept_rows(starts: torch.Tensor, frames: int, length: int, receptive: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[low, high) positions of each inference chunk whose slots count: the central rows [R/2, L - R/2),
    from 0 in a chunk starting the half and to L in one ending it (its borders see padding or are seen
    by no other chunk)."""
    half = receptive // 2
    low = torch.where(starts <= 0, 0, half)
    high = torch.where(starts + length >= frames, length, length - half)
    return low, high


def chunk_starts_for(frames: int, length: int, receptive: int, stride: int = 0) -> list[int]:
    """Starts of the inference chunks: every `stride` rows (0: L - R) from 0, the last one ending at the
    half's end."""
    if frames <= length:
        return [0]
    stride = stride or max(1, length - receptive)
    starts = list(range(0, frames - length, stride))
    return starts + [frames - length]


def split_outputs(outputs: torch.Tensor, length: int, num_classes: int, num_detections: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, L x C + D x (2 + C)) -> (batch, L, C), (batch, D, 2 + C); targets are packed alike
    (time shifts, then detection targets)."""
    cut = length * num_classes
    return (outputs[:, :cut].view(-1, length, num_classes),
            outputs[:, cut:].view(-1, num_detections, 2 + num_classes))


def segmentation_loss(scores: torch.Tensor, shifts: torch.Tensor, slicing: torch.Tensor,
                      tau_min: float = 0.1, tau_max: float = 0.9) -> torch.Tensor:
    """Elementwise context-aware loss: scores and shifts (..., C), slicing (C, 4) rows."""
    k1, k2, k3, k4 = slicing.to(shifts.dtype).unbind(dim=1)
    before = ((k2 - shifts) / (k2 - k1)).clamp(0.0, 1.0)
    after = ((shifts - k3) / (k4 - k3)).clamp(0.0, 1.0)
    weight = torch.where(shifts < 0, before, after)
    eps = 1e-7
    negative = F.relu(-torch.log((1.0 - weight * scores).clamp_min(eps)) + math.log(1.0 - tau_min))
    ramp = (shifts / k3).clamp(0.0, 1.0)
    positive = F.relu(-torch.log((ramp + (1.0 - ramp) * scores).clamp_min(eps)) + math.log(tau_max))
    return torch.where((shifts >= 0) & (shifts < k3), positive, negative)


def match_slots(true_locations: list[float], true_present: list[bool], predicted: list[float]) -> list[int]:
    """Which predicted slot each target slot is compared with (a permutation): target slots holding an action
    are matched one to one, in rounds, to the nearest predicted locations (each action proposes its nearest
    free prediction; a prediction proposed to by several takes the nearest of them; ties go to the lower
    index); the empty target slots then take the remaining predictions in order."""
    free = list(range(len(predicted)))
    waiting = [i for i, present in enumerate(true_present) if present]
    assigned: dict[int, int] = {}
    while waiting and free:
        proposals: dict[int, list[int]] = {}
        for slot in waiting:
            nearest = min(free, key=lambda j: (abs(true_locations[slot] - predicted[j]), j))
            proposals.setdefault(nearest, []).append(slot)
        for prediction, slots in proposals.items():
            winner = min(slots, key=lambda i: (abs(true_locations[i] - predicted[prediction]), i))
            assigned[winner] = prediction
            free.remove(prediction)
            waiting.remove(winner)
    rest = iter(free)
    return [assigned[i] if i in assigned else next(rest) for i in range(len(true_present))]


class SpottingLoss(nn.Module):
    """YOLO-like loss of slots (batch, D, 2 + C) against targets alike, summed over slots and the batch."""

    def __init__(self, lambda_coord: float = 5.0, lambda_noobj: float = 0.5):
        super().__init__()
        self.lambda_coord = lambda_coord
        self.lambda_noobj = lambda_noobj

    def forward(self, slots: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        present = targets[:, :, 0]
        order = [match_slots(t[:, 1].tolist(), (t[:, 0] > 0.5).tolist(), p[:, 1].tolist())
                 for t, p in zip(targets.detach().cpu(), slots.detach().cpu())]
        index = torch.tensor(order, device=slots.device)[:, :, None].expand_as(slots)
        matched = slots.gather(1, index)
        confidence = matched[:, :, 0]
        loss = (present * self.lambda_coord * (targets[:, :, 1] - matched[:, :, 1]) ** 2
                + present * (1.0 - confidence) ** 2
                + (1.0 - present) * self.lambda_noobj * confidence ** 2
                + present * ((targets[:, :, 2:] - matched[:, :, 2:]) ** 2).sum(dim=2))
        return loss.sum()


class CALFLoss(nn.Module):
    """segmentation_weight x context-aware loss + detection_weight x spotting loss, per chunk (mean over the
    batch). `slicing` is (C, 4) rows; outputs and targets are packed as `split_outputs` reads them."""

    def __init__(self, config: CALFHeadConfig, slicing: torch.Tensor):
        super().__init__()
        self.config = config
        self.register_buffer("slicing", torch.as_tensor(slicing, dtype=torch.float32))
        self.spotting = SpottingLoss(config.lambda_coord, config.lambda_noobj)

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        c = self.config
        scores, slots = split_outputs(outputs, c.window_frames, c.num_classes, c.num_detections)
        shifts, detections = split_outputs(targets, c.window_frames, c.num_classes, c.num_detections)
        segmentation = segmentation_loss(scores, shifts, self.slicing.to(scores.device), c.tau_min, c.tau_max)
        total = c.segmentation_weight * segmentation.sum() + c.detection_weight * self.spotting(slots, detections)
        return total / outputs.shape[0]


# The supplementary material's module sizes and the released SoccerNet-v2 code's training settings.
@register_head("calf", config=CALFHeadConfig, paper=CALF_PAPER, frame_hidden=128, frame_reduced=32,
               capsule_dim=16, num_detections=15, tau_min=0.1, tau_max=0.9, segmentation_weight=0.000367,
               detection_weight=1.0, lambda_coord=5.0, lambda_noobj=0.5)
def calf(config: CALFHeadConfig) -> CALFHead:
    return CALFHead(config)
