"""Temporal shifts inside a timm RegNetY: TSM, GSM and GSF, for a fixed clip length.

An image network sees the frames of a clip as a batch (B·T, C, H, W); a temporal shift lets each frame's
features borrow channels from its neighbours, so a 2D network becomes a video network at no cost in
parameters (TSM) or at the cost of a small gate (GSM, GSF).

- **TSM** (Lin et al., ICCV 2019): channels [0, c/8) take the next frame's values, [c/8, 2c/8) the
  previous frame's, zeros past the clip's ends. E2E-Spot inserts it before each block's first convolution
  *in place* (`InplaceShift`), which also shifts the tensor the block's shortcut adds back: the whole block
  input is shifted (`shift_shortcut=True` reproduces that; False shifts only the residual branch, as TSM's
  own residual shift does).
- **GSM** (Sudhakaran et al., CVPR 2020): on the first `fold` channels of the first convolution's input
  (`fold = ceil((c // 4) / 4) · 4`), a 3×3×3 grouped convolution after BatchNorm3d and ReLU gives two tanh
  gates; the gated half of each group is shifted (group 1 from the next frame, group 2 from the previous),
  the rest stays, and the channels of each group come out interleaved (see `_interleave`).
- **GSF** (Sudhakaran et al., TPAMI 2023): GSM's gates, then each group's shifted and kept parts are
  fused per channel and frame by weights a 3×3 convolution over (channel, frame) of their spatial means
  gives.

Where: E2E-Spot shifts every block of stages s1–s4; T-DEED (and sn-teamspotting) only s3 and s4, with GSF.
The numbers, the channel layouts and the zero initialisation of GSM's gate are those of E2E-Spot's
`model/shift.py` + `model/impl/{tsm,gsm}.py` and T-DEED's `model/impl/gsf.py` (tested against them);
`peer_renames` maps their checkpoints' names onto these modules.
"""
from __future__ import annotations

import math
from typing import Sequence

import timm
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SHIFT_KINDS", "TemporalShift", "GateShift", "GateShiftFuse", "ShiftInput", "ShiftedRegNet",
           "create_shifted_regnet", "gate_fold", "shift_frames", "peer_renames"]

SHIFT_KINDS = ("tsm", "gsm", "gsf")
TSM_FOLD_DIV = 8  # E2E-Spot's n_div for TSM
GATE_FOLD_DIV = 4  # E2E-Spot's and T-DEED's n_div for GSM / GSF


def shift_frames(x: torch.Tensor, steps: int) -> torch.Tensor:
    """x (B, C, T, ...) with frame t taking frame t + steps's values, zeros where that is outside."""
    out = torch.zeros_like(x)
    length = x.shape[2]
    if steps > 0:
        out[:, :, :length - steps] = x[:, :, steps:]
    elif steps < 0:
        out[:, :, -steps:] = x[:, :, :length + steps]
    else:
        out = x.clone()
    return out


def _to_clips(x: torch.Tensor, clip_len: int) -> torch.Tensor:
    """(B·T, C, H, W) -> (B, C, T, H, W)."""
    frames, channels, height, width = x.shape
    return x.view(frames // clip_len, clip_len, channels, height, width).permute(0, 2, 1, 3, 4)


def _to_frames(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B·T, C, H, W)."""
    batch, channels, clip_len, height, width = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(batch * clip_len, channels, height, width)


def _interleave(group: torch.Tensor) -> torch.Tensor:
    """A group's channels (B, 2k, T, H, W) reordered as GSM/GSF emit them: output channel 2i + j is input
    channel j·k + i (the first and second halves of the group alternate)."""
    batch, channels, *rest = group.shape
    return group.view(batch, 2, channels // 2, *rest).transpose(1, 2).reshape(batch, channels, *rest)


def gate_fold(channels: int) -> int:
    """How many input channels GSM/GSF gate: E2E-Spot's `ceil(c // 4 / 4) * 4`, a multiple of 4."""
    return math.ceil(channels // GATE_FOLD_DIV / 4) * 4


class TemporalShift(nn.Module):
    """TSM: 1/8 of the channels from the next frame, 1/8 from the previous one. No parameters."""

    def __init__(self, channels: int, clip_len: int, fold_div: int = TSM_FOLD_DIV):
        super().__init__()
        self.clip_len = clip_len
        self.fold = channels // fold_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        clips = _to_clips(x, self.clip_len)
        fold = self.fold
        out = torch.cat([
            shift_frames(clips[:, :fold], 1),
            shift_frames(clips[:, fold:2 * fold], -1),
            clips[:, 2 * fold:],
        ], dim=1)
        return _to_frames(out)


class _Gates(nn.Module):
    """GSM/GSF's two spatio-temporal gates over `fold` channels: tanh(conv3d(relu(bn3d(x))))."""

    def __init__(self, fold: int, zero_init: bool):
        super().__init__()
        self.norm = nn.BatchNorm3d(fold)
        self.conv = nn.Conv3d(fold, 2, kernel_size=3, padding=1, groups=2)
        if zero_init:  # GSM starts as the identity (E2E-Spot's _GSM); GSF keeps PyTorch's default init
            nn.init.zeros_(self.conv.weight)
            nn.init.zeros_(self.conv.bias)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(F.relu(self.norm(clips))))


class GateShift(nn.Module):
    """GSM on the first `fold` channels of (B·T, C, H, W); the other channels pass unchanged."""

    def __init__(self, channels: int, clip_len: int):
        super().__init__()
        self.clip_len = clip_len
        self.fold = gate_fold(channels)
        self.gates = _Gates(self.fold, zero_init=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        clips = _to_clips(x[:, :self.fold], self.clip_len)
        gate = self.gates(clips)
        half = self.fold // 2
        groups = []
        for group, g, steps in ((clips[:, :half], gate[:, :1], 1), (clips[:, half:], gate[:, 1:], -1)):
            gated = g * group
            groups.append(_interleave(shift_frames(gated, steps) + (group - gated)))
        return torch.cat([_to_frames(torch.cat(groups, dim=1)), x[:, self.fold:]], dim=1)


class GateShiftFuse(nn.Module):
    """GSF on the first `fold` channels of (B·T, C, H, W); the other channels pass unchanged."""

    def __init__(self, channels: int, clip_len: int):
        super().__init__()
        self.clip_len = clip_len
        self.fold = gate_fold(channels)
        self.gates = _Gates(self.fold, zero_init=False)
        self.fuse = nn.ModuleList([nn.Conv2d(2, 1, kernel_size=3, padding=1) for _ in range(2)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        clips = _to_clips(x[:, :self.fold], self.clip_len)
        gate = self.gates(clips)
        half = self.fold // 2
        groups = []
        for index, (group, g, steps) in enumerate(
                ((clips[:, :half], gate[:, :1], 1), (clips[:, half:], gate[:, 1:], -1))):
            gated = g * group
            kept = group - gated
            shifted = shift_frames(gated, steps)
            # weights per (channel, frame) from the spatial means of the shifted and the kept parts
            means = torch.stack([shifted.mean(dim=(-2, -1)), kept.mean(dim=(-2, -1))], dim=1)  # (B, 2, C/2, T)
            weight = torch.sigmoid(self.fuse[index](means))[:, 0, :, :, None, None]  # (B, C/2, T, 1, 1)
            groups.append(_interleave(shifted * weight + kept * (1 - weight)))
        return torch.cat([_to_frames(torch.cat(groups, dim=1)), x[:, self.fold:]], dim=1)


class ShiftInput(nn.Module):
    """`layer` applied to its input after `shift` (the shift wraps a block's first convolution, or, for
    E2E-Spot's in-place TSM, the whole block)."""

    def __init__(self, shift: nn.Module, layer: nn.Module):
        super().__init__()
        self.shift = shift
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(self.shift(x))


def _build_shift(kind: str, channels: int, clip_len: int) -> nn.Module:
    if kind == "tsm":
        return TemporalShift(channels, clip_len)
    if kind == "gsm":
        return GateShift(channels, clip_len)
    if kind == "gsf":
        return GateShiftFuse(channels, clip_len)
    raise ValueError(f"unknown temporal shift {kind!r}; known: {', '.join(SHIFT_KINDS)}")


class ShiftedRegNet(nn.Module):
    """A timm RegNet (classifier removed) with a temporal shift in every block of `stages`, for clips of
    exactly `clip_len` frames: (B, T, 3, H, W) -> per-frame features (B, T, D).

    `kind=None` inserts nothing (a per-frame image network). `shift_shortcut` (TSM only) shifts the whole
    block input, as E2E-Spot's in-place TSM does; otherwise only the first convolution's input is shifted."""

    def __init__(self, regnet: nn.Module, *, kind: str | None, clip_len: int,
                 stages: Sequence[str] = ("s1", "s2", "s3", "s4"), shift_shortcut: bool = False):
        super().__init__()
        if kind is not None and kind not in SHIFT_KINDS:
            raise ValueError(f"unknown temporal shift {kind!r}; known: {', '.join(SHIFT_KINDS)}")
        if shift_shortcut and kind != "tsm":
            raise ValueError("shift_shortcut is E2E-Spot's in-place TSM; GSM and GSF shift a copy")
        regnet.reset_classifier(0)
        self.regnet = regnet
        self.kind = kind
        self.clip_len = clip_len
        self.feature_dim = regnet.num_features
        if kind is None:
            return
        for stage_name in stages:
            stage = getattr(regnet, stage_name)
            for block_name, block in list(stage.named_children()):
                channels = block.conv1.conv.in_channels
                shift = _build_shift(kind, channels, clip_len)
                if shift_shortcut:
                    setattr(stage, block_name, ShiftInput(shift, block))
                else:
                    block.conv1 = ShiftInput(shift, block.conv1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, clip_len, channels, height, width = x.shape
        if self.kind is not None and clip_len != self.clip_len:
            raise ValueError(f"a temporal shift built for clips of {self.clip_len} frames got {clip_len}")
        features = self.regnet(x.reshape(batch * clip_len, channels, height, width))
        return features.view(batch, clip_len, -1)


def peer_renames(kind: str | None, *, shift_shortcut: bool = False) -> list[tuple[str, str]]:
    """(regex, replacement) pairs turning the peers' names of a shifted RegNet's keys (as seen under the
    RegNet: `s1.b1.conv1.net.conv.weight`, `s3.b1.conv1.gs.conv3D.weight`) into `ShiftedRegNet.regnet`'s.
    E2E-Spot names GSM `gsm`, T-DEED names GSM/GSF `gs`; both keep the wrapped convolution as `net`."""
    block = r"(s\d+\.b\d+)"
    if kind is None:
        return []
    if kind == "tsm":
        if shift_shortcut:  # the whole block is wrapped: every key of a block moves under `layer`
            return [(rf"^{block}\.conv1\.net\.", r"\1.conv1."), (rf"^{block}\.", r"\1.layer.")]
        return [(rf"^{block}\.conv1\.net\.", r"\1.conv1.layer.")]
    renames = [
        (rf"^{block}\.conv1\.net\.", r"\1.conv1.layer."),
        (rf"^{block}\.conv1\.gsm?\.conv3D\.", r"\1.conv1.shift.gates.conv."),
        (rf"^{block}\.conv1\.gsm?\.bn\.", r"\1.conv1.shift.gates.norm."),
    ]
    if kind == "gsf":
        renames += [(rf"^{block}\.conv1\.gs\.channel_conv{i + 1}\.", rf"\1.conv1.shift.fuse.{i}.") for i in range(2)]
    return renames


def create_shifted_regnet(name: str, *, kind: str | None, clip_len: int, stages: Sequence[str] = ("s1", "s2", "s3", "s4"),
                          shift_shortcut: bool = False, pretrained: bool = False) -> ShiftedRegNet:
    """timm's `name` (e.g. "regnety_002") with the shift inserted."""
    return ShiftedRegNet(timm.create_model(name, pretrained=pretrained), kind=kind, clip_len=clip_len,
                         stages=stages, shift_shortcut=shift_shortcut)

