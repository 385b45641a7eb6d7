"""T-DEED's temporal part: SGP and SGP-Mixer layers, the encoder-decoder over them, the learnable temporal
encoding and the per-frame heads (Xarles et al., 'T-DEED: Temporal-Discriminability Enhancer Encoder-Decoder
for Precise Event Spotting in Sports Videos', CVPR-W 2024; team head: SoccerNet/sn-teamspotting).

Exact to the authors' `model/modules.py` (arturxe2/T-DEED and SoccerNet/sn-teamspotting): the same
computation, the same initialisation, and the same parameter names inside each layer (the paper's symbols:
psi, phi = relu(global_fc(mean)), the window branches w and kw), so a published state dict maps onto these
modules by renaming prefixes only (`models.dense.tdeed_peer`).

Shapes: the layers work on (batch, channels, time) as the authors' do; `TDEEDTemporal` takes and gives
(batch, time, channels) per-frame embeddings.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ChannelLayerNorm", "SGPBlock", "SGPMixer", "SGPEncoderDecoder", "LearnedTemporalEncoding", "FrameHead",
    "TemporalOutputs", "TDEEDTemporal", "long_window_size",
]

# Their reset_params: the depthwise convolutions (and the mixer's concat projection) start from N(0, 0.1^2)
# with zero bias; the MLP keeps PyTorch's default initialisation.
CONV_INIT_STD = 0.1
GROUP_NORM_GROUPS = 16


def long_window_size(kernel_size: int, window_factor: float) -> int:
    """The kw branch's kernel: round((ks + 1) * k), made odd (as the authors' `up_size`)."""
    size = round((kernel_size + 1) * window_factor)
    return size + 1 if size % 2 == 0 else size


def _depthwise(dim: int, kernel_size: int) -> nn.Conv1d:
    return nn.Conv1d(dim, dim, kernel_size, stride=1, padding=kernel_size // 2, groups=dim)


def _init_normal(convs: list[nn.Conv1d], std: float) -> None:
    for conv in convs:
        nn.init.normal_(conv.weight, 0, std)
        nn.init.constant_(conv.bias, 0)


def _mlp(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(dim, 4 * dim, 1), nn.GELU(), nn.Conv1d(4 * dim, dim, 1))


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of (B, C, T): each time step normalised on its own (biased variance)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, channels, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(dim=1, keepdim=True)
        variance = (centred ** 2).mean(dim=1, keepdim=True)
        return centred / torch.sqrt(variance + self.eps) * self.weight + self.bias


class SGPBlock(nn.Module):
    """Scalable-Granularity Perception (TriDet, Shi et al. 2023) as T-DEED uses it, residual, with an MLP.

    out = x + [fc(n) * phi + (convw(n) + convkw(n)) * psi(n) + n],  n = LN(x),  phi = relu(global_fc(mean_t n));
    then out + MLP(GroupNorm(out)).
    """

    def __init__(self, dim: int, kernel_size: int = 3, window_factor: float = 1.5, init_std: float = CONV_INIT_STD):
        super().__init__()
        if kernel_size % 2 != 1 or kernel_size < 3:
            raise ValueError(f"SGP kernel size must be odd and > 1, got {kernel_size}")
        long = long_window_size(kernel_size, window_factor)
        self.ln = ChannelLayerNorm(dim)
        self.gn = nn.GroupNorm(GROUP_NORM_GROUPS, dim)
        self.psi = _depthwise(dim, kernel_size)
        self.fc = _depthwise(dim, 1)
        self.convw = _depthwise(dim, kernel_size)
        self.convkw = _depthwise(dim, long)
        self.global_fc = _depthwise(dim, 1)
        self.mlp = _mlp(dim)
        _init_normal([self.psi, self.fc, self.convw, self.convkw, self.global_fc], init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.ln(x)
        phi = torch.relu(self.global_fc(n.mean(dim=-1, keepdim=True)))
        out = self.fc(n) * phi + (self.convw(n) + self.convkw(n)) * self.psi(n) + n
        out = x + out
        return out + self.mlp(self.gn(out))


class SGPMixer(nn.Module):
    """T-DEED's decoder layer: the coarser sequence x is upsampled (linear, align_corners) to the skip z's
    length, both go through SGP's branches, and the four branch outputs with z and x are concatenated and
    projected back to `dim` (`concat=True`, GELU) or summed (`concat=False`); then + MLP(GroupNorm(out))."""

    def __init__(self, dim: int, kernel_size: int = 3, window_factor: float = 1.5, *, out_len: int,
                 concat: bool = True, init_std: float = CONV_INIT_STD):
        super().__init__()
        long = long_window_size(kernel_size, window_factor)
        self.out_len = out_len
        self.concat = concat
        self.ln1 = ChannelLayerNorm(dim)  # the skip connection z
        self.ln2 = ChannelLayerNorm(dim)  # the coarser sequence x
        self.gn = nn.GroupNorm(GROUP_NORM_GROUPS, dim)
        self.psi1 = _depthwise(dim, kernel_size)
        self.psi2 = _depthwise(dim, kernel_size)
        self.convw1 = _depthwise(dim, kernel_size)
        self.convkw1 = _depthwise(dim, long)
        self.convw2 = _depthwise(dim, kernel_size)
        self.convkw2 = _depthwise(dim, long)
        self.fc1 = _depthwise(dim, 1)
        self.global_fc1 = _depthwise(dim, 1)
        self.fc2 = _depthwise(dim, 1)
        self.global_fc2 = _depthwise(dim, 1)
        self.mlp = _mlp(dim)
        initialised = [self.psi1, self.psi2, self.convw1, self.convkw1, self.convw2, self.convkw2,
                       self.fc1, self.fc2, self.global_fc1, self.global_fc2]
        if concat:
            self.concat_fc = nn.Conv1d(6 * dim, dim, 1)
            initialised.append(self.concat_fc)
        _init_normal(initialised, init_std)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        z = self.ln1(z)
        x = F.interpolate(self.ln2(x), size=self.out_len, mode="linear", align_corners=True)
        window_z = (self.convw1(z) + self.convkw1(z)) * self.psi1(z)
        window_x = (self.convw2(x) + self.convkw2(x)) * self.psi2(x)
        instant_z = self.fc1(z) * torch.relu(self.global_fc1(z.mean(dim=-1, keepdim=True)))
        instant_x = self.fc2(x) * torch.relu(self.global_fc2(x.mean(dim=-1, keepdim=True)))
        if self.concat:
            out = F.gelu(self.concat_fc(torch.cat((window_z, window_x, instant_z, instant_x, z, x), dim=1)))
        else:
            out = window_z + window_x + instant_z + instant_x + z + x
        return out + self.mlp(self.gn(out))


class SGPEncoderDecoder(nn.Module):
    """`ed_sgp_mixer`: `num_layers` SGP blocks each followed by max-pooling to ceil(T / 2^(i+1)) steps, one
    SGP block at the bottom, then per level an SGP-Mixer (upsampling to the skip's length, fusing the skip)
    and an SGP block. `blocks` holds all 2 * num_layers + 1 SGP blocks in the order they run; `mixers[i]`
    restores the length of level i (ceil(T / 2^i)) and runs at the i-th step from the bottom in reverse."""

    def __init__(self, dim: int, clip_len: int, num_layers: int = 1, kernel_size: int = 3,
                 window_factor: float = 2, concat: bool = True, downsample: int = 2):
        super().__init__()
        self.num_layers = num_layers
        self.blocks = nn.ModuleList(SGPBlock(dim, kernel_size, window_factor) for _ in range(2 * num_layers + 1))
        self.pools = nn.ModuleList(nn.AdaptiveMaxPool1d(math.ceil(clip_len / downsample ** (i + 1)))
                                   for i in range(num_layers))
        self.mixers = nn.ModuleList(
            SGPMixer(dim, kernel_size, window_factor, out_len=math.ceil(clip_len / downsample ** i), concat=concat)
            for i in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        x = x.permute(0, 2, 1)
        skips = []
        for level in range(self.num_layers):
            x = self.blocks[level](x)
            skips.append(x)
            x = self.pools[level](x)
        x = self.blocks[self.num_layers](x)
        for step in range(self.num_layers):
            level = self.num_layers - 1 - step
            x = self.mixers[level](x, skips[level])
            x = self.blocks[self.num_layers + step + 1](x)
        return x.permute(0, 2, 1)


class LearnedTemporalEncoding(nn.Module):
    """One learned vector per clip position, added to the frame embeddings; starts N(0, (1 / clip_len)^2)."""

    def __init__(self, clip_len: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.normal(mean=0.0, std=1.0 / clip_len, size=(clip_len, dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight


class FrameHead(nn.Module):
    """Dropout (p = 0.5) then one linear layer on every frame: (B, T, C) -> (B, T, out)."""

    def __init__(self, dim: int, out_features: int, dropout: float = 0.5):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(x))


@dataclass
class TemporalOutputs:
    """What T-DEED's temporal part gives per frame: class logits (B, T, C + 1), index 0 background; the
    displacement (B, T) or None: frame t's event is at frame t - displacement (their targets are frame minus
    event, within `radi_displacement`; their `process_prediction` moves t's scores to t - round(d)); the team
    logit ("right side of the video") or None."""

    logits: torch.Tensor
    displacement: torch.Tensor | None
    team: torch.Tensor | None


class TDEEDTemporal(nn.Module):
    """Per-frame embeddings (B, clip_len, dim) -> the temporal encoding, the SGP encoder-decoder, and the
    heads: classes (C + 1), displacement (when `radi_displacement` > 0) and team (when `event_team`)."""

    def __init__(self, dim: int, clip_len: int, num_classes: int, *, num_layers: int = 2, kernel_size: int = 9,
                 window_factor: float = 4, radi_displacement: int = 4, event_team: bool = False):
        super().__init__()
        self.clip_len = clip_len
        self.temporal_encoding = LearnedTemporalEncoding(clip_len, dim)
        self.encoder_decoder = SGPEncoderDecoder(dim, clip_len, num_layers, kernel_size, window_factor)
        self.class_head = FrameHead(dim, num_classes + 1)
        self.displacement_head = FrameHead(dim, 1) if radi_displacement > 0 else None
        self.team_head = FrameHead(dim, 1) if event_team else None

    def forward(self, x: torch.Tensor) -> TemporalOutputs:
        if x.shape[1] != self.clip_len:
            raise ValueError(f"T-DEED's temporal part takes clips of {self.clip_len} frames, got {x.shape[1]}")
        x = self.encoder_decoder(self.temporal_encoding(x))
        return TemporalOutputs(
            logits=self.class_head(x),
            displacement=None if self.displacement_head is None else self.displacement_head(x).squeeze(-1),
            team=None if self.team_head is None else self.team_head(x).squeeze(-1),
        )
