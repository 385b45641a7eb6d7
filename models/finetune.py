"""A backbone whose last stages train together with a spotting head, on clips of frames.

RMS-Net (Tomei et al., "RMS-Net: Regression and Masking for Soccer Event Spotting", ICPR 2020) gained
9.6 Average-mAP points on SoccerNet-v2 test by training ResNet-152's last residual block with its head;
larger trainable portions did not help. `BackboneHeadModel` is that: uint8 clips (batch, T, 3, H, W) ->
normalised frames -> the backbone (only its last `trainable_stages` stages train) -> (batch, T, width)
features -> any spotting head of `models.heads` -> (batch, C + 1).

What makes it cheap:

- The frozen stages run without autograd: a forward pre-hook on the first trainable module switches
  gradients back on, so everything before it keeps no activations for a backward pass (layer4 is about
  6 % of ResNet-152's multiply-adds, so a training step costs little more than extraction).
- They stay in eval mode (`Backbone.train`), so their BatchNorm statistics never move; with
  `frozen_batchnorm` the trainable stages' BatchNorm layers stay in eval mode too (their statistics fixed,
  their scale and shift still trained): a batch's outputs then do not depend on the other rows of the batch.
- Optional gradient checkpointing of the trainable blocks trades their activations for a second forward
  (the recomputation also updates the trainable blocks' BatchNorm running statistics a second time per
  step, as `torch.utils.checkpoint` does for any BatchNorm).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from soccerspot.models.backbones import Backbone

__all__ = ["BackboneHeadModel", "first_trainable_module", "trainable_blocks"]


def first_trainable_module(backbone: Backbone) -> nn.Module | None:
    """The module where gradients must start (the first module of the first trainable stage)."""
    if backbone.trainable_stages == 0:
        return None
    first_stage = backbone.stage_names[len(backbone.stage_names) - backbone.trainable_stages]
    return backbone.body.get_submodule(first_stage[0])


def trainable_blocks(backbone: Backbone) -> list[nn.Module]:
    """The trainable stages' blocks (a stage that is a Sequential gives its children), for checkpointing."""
    blocks: list[nn.Module] = []
    first = len(backbone.stage_names) - backbone.trainable_stages
    for stage in backbone.stage_names[first:] if backbone.trainable_stages else []:
        for name in stage:
            module = backbone.body.get_submodule(name)
            blocks.extend(module.children() if isinstance(module, nn.Sequential) else [module])
    return blocks


class BackboneHeadModel(nn.Module):
    """Backbone (last stages trainable) + spotting head over clips. `forward(clips)` takes uint8
    (batch, T, 3, H, W) clips and returns the head's (batch, C + 1) output; `features(images)` is the
    backbone alone on uint8 (n, 3, H, W) frames (what `soccerspot extract` computes). With a video backbone
    each row is itself a clip of frames: `forward` takes (batch, T, frames, 3, H, W) and `features` takes
    (n, frames, 3, H, W), fed as `soccerspot extract` feeds it (`Backbone.prepare`)."""

    def __init__(self, backbone: Backbone, head: nn.Module, *, gradient_checkpointing: bool = False,
                 frozen_batchnorm: bool = False):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.gradient_checkpointing = gradient_checkpointing
        self.frozen_batchnorm = frozen_batchnorm
        if gradient_checkpointing:
            for block in trainable_blocks(backbone):
                block.forward = _checkpointed(block.forward)

    @property
    def config(self):
        """The head's config (what inference and checkpoints read)."""
        return self.head.config

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (n, 3, H, W) frames, or (n, frames, 3, H, W) clips for a video backbone -> (n, width) float32
        features; the frozen stages keep no autograd state."""
        inputs = self.backbone.prepare(images)
        start = first_trainable_module(self.backbone)
        wanted = torch.is_grad_enabled()
        if start is None or not wanted:
            with torch.no_grad():
                return self.backbone(inputs).float()
        hook = start.register_forward_pre_hook(_enable_grad)
        try:
            with torch.no_grad():  # left by the hook at the first trainable module
                return self.backbone(inputs).float()
        finally:
            hook.remove()

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        if clips.ndim not in (5, 6):
            raise ValueError(f"clips must be (batch, T, 3, H, W) or, of clips, (batch, T, frames, 3, H, W); "
                             f"got shape {tuple(clips.shape)}")
        batch, length = clips.shape[:2]
        features = self.features(clips.flatten(0, 1))
        return self.head(features.view(batch, length, -1))

    def train(self, mode: bool = True) -> "BackboneHeadModel":
        super().train(mode)
        self.backbone.train(mode)  # keeps the frozen stages in eval mode
        if mode and self.frozen_batchnorm:  # and, if asked, every BatchNorm layer of the trainable ones
            for module in self.backbone.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self


def _enable_grad(module: nn.Module, args: tuple) -> None:
    torch.set_grad_enabled(True)  # returns None: a pre-hook's return value would replace the inputs


def _checkpointed(forward):
    def run(*args):
        if torch.is_grad_enabled():
            return checkpoint(forward, *args, use_reentrant=False)
        return forward(*args)

    return run
