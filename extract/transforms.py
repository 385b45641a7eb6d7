"""Frame geometry before the backbone, on uint8 batches (resizing before the float conversion keeps the
copies small; the float conversion and normalisation happen on the compute device).

- ``crop``: SoccerNet's - resize so the short side (the height, for broadcast video) is `size`, keeping the
  aspect ratio, then centre-crop `size` x `size`. 398x224 -> 224x224 (the centre 224 columns).
- ``resize``: the whole frame squashed to `size` x `size`.
- ``short-side``: resize so the short side is `size`, keep the aspect ratio, no crop (398x224 stays).
- ``imutils-crop``: SoccerNet's official `FrameCV` crop, exactly (`extract.framecv.imutils_crop`): OpenCV
  INTER_AREA to height `size`, width `int(w * size / h)`, then `int((width - size) / 2)` columns off each side.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# torch and torchvision are imported by the functions that use them: the command line reads TRANSFORMS
TRANSFORMS = ("crop", "resize", "short-side", "imutils-crop")


def short_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) after scaling the shorter side to `size`."""
    if height <= width:
        return size, max(1, round(width * size / height))
    return max(1, round(height * size / width)), size


def output_size(transform: str, height: int, width: int, size: int = 224) -> tuple[int, int]:
    """(height, width) of the frames `transform` produces from height x width input."""
    if transform in ("crop", "resize", "imutils-crop"):
        return size, size
    if transform == "short-side":
        return short_side_size(height, width, size)
    raise ValueError(f"unknown transform {transform!r}; choose from {', '.join(TRANSFORMS)}")


def frames_to_tensor(frames) -> torch.Tensor:
    """(n, H, W, 3) uint8 numpy -> (n, 3, H, W) uint8 tensor, a view in channels_last layout (no copy)."""
    import torch

    return torch.from_numpy(frames).permute(0, 3, 1, 2)


def apply_transform(batch: torch.Tensor, transform: str, size: int = 224) -> torch.Tensor:
    """(n, 3, H, W) uint8 -> (n, 3, h, w) uint8 per `transform`; bilinear with antialiasing."""
    height, width = batch.shape[-2:]
    if transform == "imutils-crop":
        return _imutils_crop(batch, size)
    if transform == "resize":
        return _resize(batch, (size, size))
    if transform not in ("crop", "short-side"):
        raise ValueError(f"unknown transform {transform!r}; choose from {', '.join(TRANSFORMS)}")
    resized = _resize(batch, short_side_size(height, width, size))
    if transform == "short-side":
        return resized
    return _functional().center_crop(resized, [size, size])


def _resize(batch: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    if tuple(batch.shape[-2:]) == tuple(hw):
        return batch
    return _functional().resize(batch, list(hw), antialias=True)


def _functional():
    from torchvision.transforms.v2 import functional

    return functional


def _imutils_crop(batch: torch.Tensor, size: int) -> torch.Tensor:
    import numpy as np

    from soccerspot.extract.framecv import crop_problem, imutils_crop

    height, width = batch.shape[-2:]
    problem = crop_problem(width, height, size)
    if problem:
        raise ValueError(problem)
    frames = batch.permute(0, 2, 3, 1).numpy()  # (n, H, W, 3), the decoder's own layout
    return frames_to_tensor(np.stack([imutils_crop(np.ascontiguousarray(frame), size) for frame in frames]))
