"""BatchNorm over the global batch of a data-parallel run (`--sync-bn`).

On CUDA this is torch's `nn.SyncBatchNorm`. torch's module refuses CPU tensors, so on CPU (the gloo
backend) `GlobalBatchNorm` does the same computation with torch's differentiable collective
(`torch.distributed.nn.functional.all_reduce`, whose backward all-reduces the gradients): the batch
statistics are the mean and the biased variance over every rank's rows (two passes, in float64), the
running variance gets the unbiased one over the global count, as `nn.BatchNorm*d` on the whole batch.

Only BatchNorm layers that train are replaced: a layer whose parameters are frozen (a frozen backbone
stage) keeps its module and stays in eval mode. timm's norm + activation layers (`BatchNormAct2d`, in its
RegNets, ResNets, EfficientNets…: a BatchNorm that then applies its `drop` and `act` children) keep those
children and apply them after the synchronised normalisation, as timm's own `SyncBatchNormAct` does; a
BatchNorm with any other child is refused, since what its forward does with it is unknown here.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_functional
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["GlobalBatchNorm", "SyncBatchNormTail", "sync_batchnorm"]

# timm's BatchNormAct2d.forward: batch_norm, then self.drop, then self.act (timm.layers.norm_act)
NORM_ACT_TAIL = ("drop", "act")


def _tail(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What a norm + activation layer applies after normalising (nothing for a plain BatchNorm)."""
    for name in NORM_ACT_TAIL:
        op = layer._modules.get(name)
        if op is not None:
            x = op(x)
    return x


class GlobalBatchNorm(_BatchNorm):
    """BatchNorm (any input rank ≥ 2, channels on dim 1) whose training statistics span all ranks."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected an input with a channel dimension, got shape {tuple(input.shape)}")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return _tail(self, super().forward(input))
        self._check_input_dim(input)
        dims = [0, *range(2, input.dim())]
        shape = [1, -1, *([1] * (input.dim() - 2))]
        values = input.double()
        local_count = torch.tensor([input.numel() / input.shape[1]], dtype=torch.float64, device=input.device)
        sums = dist_functional.all_reduce(torch.cat([values.sum(dims), local_count]))
        count = sums[-1].detach()
        mean = sums[:-1] / count
        centred = values - mean.view(shape)
        variance = dist_functional.all_reduce((centred * centred).sum(dims)) / count
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), variance.detach(), float(count))
        output = centred / torch.sqrt(variance + self.eps).view(shape)
        if self.affine:
            output = output * self.weight.double().view(shape) + self.bias.double().view(shape)
        return _tail(self, output.to(input.dtype))

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, variance: torch.Tensor, count: float) -> None:
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = variance * (count / max(count - 1.0, 1.0))
        self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
        self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype), alpha=factor)


class SyncBatchNormTail(nn.SyncBatchNorm):
    """torch's `SyncBatchNorm`, then the `drop` and `act` children of the timm layer it replaced, if any."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _tail(self, super().forward(input))


def _trains(layer: _BatchNorm) -> bool:
    return any(parameter.requires_grad for parameter in layer.parameters(recurse=False))


def _converted(layer: _BatchNorm, cuda: bool) -> nn.Module:
    children = dict(layer.named_children())
    unknown = sorted(set(children) - set(NORM_ACT_TAIL))
    if unknown:
        raise ValueError(f"cannot synchronise {type(layer).__name__}: a BatchNorm with children {unknown} "
                         f"(only timm's norm + activation children {list(NORM_ACT_TAIL)} are known)")
    kind = SyncBatchNormTail if cuda else GlobalBatchNorm
    new = kind(layer.num_features, layer.eps, layer.momentum, layer.affine, layer.track_running_stats)
    for name, child in children.items():
        new.add_module(name, child)
    new.load_state_dict(layer.state_dict())
    for name, parameter in layer.named_parameters(recurse=False):
        getattr(new, name).requires_grad_(parameter.requires_grad)
    new.train(layer.training)
    return new.to(next(layer.buffers(), torch.empty(0)).device)


def sync_batchnorm(module: nn.Module) -> int:
    """Replace, in place, every BatchNorm layer of `module` that trains by its global-batch version (torch's
    `SyncBatchNorm` on CUDA, `GlobalBatchNorm` on CPU). Returns how many were replaced; state-dict keys do
    not change, so checkpoints load into the plain model."""
    replaced = 0
    for name, child in module.named_children():
        if isinstance(child, _BatchNorm) and not isinstance(child, (nn.SyncBatchNorm, GlobalBatchNorm)) \
                and _trains(child):
            cuda = any(tensor.is_cuda for tensor in [*child.parameters(), *child.buffers()])
            setattr(module, name, _converted(child, cuda))
            replaced += 1
        else:
            replaced += sync_batchnorm(child)
    return replaced
