"""Per-frame class scores for a whole half: one window around every feature row, scored by a head.

Window centring (the peers' convention, sn-spotting `feats2clip(..., off=T // 2)`): the window of frame
`i` holds rows `i - T//2 ... i - T//2 + T - 1`; for even T that is `i - T/2 ... i + T/2 - 1`, so a "++"
head pools the past `[i - T/2, i)` and the future `[i, i + T/2)`. Rows outside the half repeat the first
or last row ("replicate" padding), so halves shorter than a window work too.

Unlike the peers we score *every* row: their test loop builds windows for `arange(0, N - 1)` only (and the
SoccerNet-v2 pooling baselines also drop the last of those), so their score matrices are one or two rows
short at the end of a half; on the rows both have, the scores are the same.

Two ways to get the same numbers:

- `per_window_probabilities` — any head: gather each window (batch, T, dim) and run the model on it.
- `fast_probabilities` — pooling heads (`models.heads.PoolingHead`), linear in the number of frames:
  - the projection (2048 -> 512) runs once per frame instead of T times per frame;
  - "++" heads: past and future segments (`WindowPooling.segments`) are done separately and their fc
    contributions added (the fc of a concatenation is the sum of each part times its slice of the weights);
  - each segment's layer scores every window of a tile at once through the pooling contract
    `WindowPooling.window_readout(weight)` (`models/pooling.py`): prefix-sum differences
    of per-frame terms (AvgPool; NetVLAD / NetRVLAD without ever forming a window's clusters x dim VLAD
    vector, which is what makes a 45-minute half cost less than a second, `scripts/bench_head_infer.py`)
    or a sliding-window max (MaxPool). This file knows no concrete pooling class: a new pooling layer is
    added in `models/` alone.
  Outputs equal the per-window path to float32 rounding (tested <= 1e-5 for every pooling type).
  Dropout is the identity here (inference, eval mode).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from soccerspot.data.clips import window_rows
from soccerspot.models.heads import PoolingHead
from soccerspot.models.sliding import window_offset

DEFAULT_BATCH = 256  # windows per forward pass on the per-window path
DEFAULT_TILE = 256  # frames per tile on the fast path (bounds the memory of the per-frame terms)


def window_indices(num_frames: int, window_frames: int, frames: np.ndarray | range | None = None) -> torch.Tensor:
    """(len(frames), window_frames) row indices of each frame's window, clamped to the half."""
    centres = np.arange(num_frames) if frames is None else np.asarray(frames, dtype=np.int64)
    return torch.from_numpy(window_rows(centres - window_offset(window_frames), window_frames, num_frames))


def _model_input(model: nn.Module, features: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Features as a float32 (frames, dim) tensor on the model's device, checked against its input width."""
    x = _as_tensor(features, device)
    _check_dim(model, x)
    return x


def _as_tensor(features: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(features, torch.Tensor):
        tensor = features.to(device=device, dtype=torch.float32)
    else:
        array = np.asarray(features, dtype=np.float32)
        if not array.flags.writeable:  # a read-only memory map: torch wants a writable buffer
            array = array.copy()
        tensor = torch.from_numpy(array).to(device)
    if tensor.ndim != 2:
        raise ValueError(f"features must be (frames, dim), got shape {tuple(tensor.shape)}")
    return tensor


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _check_dim(model: nn.Module, features: torch.Tensor) -> None:
    config = getattr(model, "config", None)
    if config is not None and features.shape[1] != config.input_dim:
        raise ValueError(f"features are {features.shape[1]}-d but the head expects {config.input_dim}-d inputs")


@torch.no_grad()
def per_window_probabilities(
    model: nn.Module,
    features: np.ndarray | torch.Tensor,
    window_frames: int,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = False,
) -> np.ndarray:
    """(frames, classes + 1) probabilities, evaluating the model on every window separately."""
    device = _device_of(model)
    x = _model_input(model, features, device)
    num_frames = x.shape[0]
    outputs = []
    starts = range(0, num_frames, batch_size)
    for start in tqdm(starts, desc="windows", unit="batch", disable=not progress, leave=False):
        frames = range(start, min(num_frames, start + batch_size))
        windows = x[window_indices(num_frames, window_frames, frames).to(device)]
        outputs.append(model(windows).float().cpu())
    if not outputs:
        return np.zeros((0, _num_outputs(model)), dtype=np.float32)
    return torch.cat(outputs).numpy()


def _num_outputs(model: nn.Module) -> int:
    return model.config.num_classes + 1


def _pad_replicate(x: torch.Tensor, before: int, after: int) -> torch.Tensor:
    return torch.cat([x[:1].expand(before, -1), x, x[-1:].expand(after, -1)])


@torch.no_grad()
def fast_probabilities(
    model: PoolingHead,
    features: np.ndarray | torch.Tensor,
    window_frames: int,
    *,
    tile_frames: int = DEFAULT_TILE,
    progress: bool = False,
) -> np.ndarray:
    """(frames, classes + 1) probabilities of a pooling head, in O(frames) (see module docstring)."""
    device = _device_of(model)
    x = _model_input(model, features, device)
    num_frames = x.shape[0]
    if num_frames == 0:
        return np.zeros((0, _num_outputs(model)), dtype=np.float32)
    embedded = model.embed(x)
    offset = window_offset(window_frames)
    # padded row p is frame p - offset (clamped); frame i's window is padded rows [i, i + window_frames)
    padded = _pad_replicate(embedded, offset, window_frames - offset)
    segments = model.pooling.segments(window_frames)
    readouts, column = [], 0
    for layer, _, _ in segments:  # fc(concat(parts)) = sum over parts of the part times its weight slice
        readouts.append(layer.window_readout(model.fc.weight[:, column : column + layer.out_dim]))
        column += layer.out_dim
    outputs = []
    starts = range(0, num_frames, tile_frames)
    for start in tqdm(starts, desc="tiles", unit="tile", disable=not progress, leave=False):
        count = min(tile_frames, num_frames - start)
        logits = model.fc.bias.expand(count, -1).clone()
        for (_, begin, end), readout in zip(segments, readouts):
            length = end - begin
            logits += readout(padded[start + begin : start + begin + count + length - 1], length)
        outputs.append(torch.sigmoid(logits).float().cpu())
    return torch.cat(outputs).numpy()


def supports_fast_path(model: nn.Module) -> bool:
    return isinstance(model, PoolingHead)


def has_own_inference(model: nn.Module) -> bool:
    """A head whose outputs are not one window's probabilities (CALF's chunks, RMS-Net's offsets) scores a
    whole half itself: `model.half_probabilities(features (frames, dim) float32) -> (frames, C + 1)`."""
    return callable(getattr(model, "half_probabilities", None))


def window_probabilities(
    model: nn.Module,
    features: np.ndarray | torch.Tensor,
    window_frames: int | None = None,
    *,
    method: str = "auto",
    batch_size: int = DEFAULT_BATCH,
    tile_frames: int = DEFAULT_TILE,
    progress: bool = False,
) -> np.ndarray:
    """(frames, classes + 1) probabilities, column 0 = background. `method`: "auto" (fast where the head
    allows it), "fast" or "per-window"; a head with its own whole-half inference (`has_own_inference`)
    always uses it. The model is put in eval mode for the call."""
    if window_frames is None:
        window_frames = model.config.window_frames
    if method not in ("auto", "fast", "per-window"):
        raise ValueError(f"method must be auto, fast or per-window, got {method!r}")
    if method == "fast" and not supports_fast_path(model):
        raise ValueError(f"{type(model).__name__} has no fast path; use method='per-window'")
    was_training = model.training
    model.eval()
    try:
        if has_own_inference(model):
            with torch.no_grad():
                x = _model_input(model, features, _device_of(model))
                return model.half_probabilities(x).float().cpu().numpy()
        if method != "per-window" and supports_fast_path(model):
            return fast_probabilities(model, features, window_frames, tile_frames=tile_frames, progress=progress)
        return per_window_probabilities(model, features, window_frames, batch_size=batch_size, progress=progress)
    finally:
        model.train(was_training)


def frame_scores(
    model: nn.Module,
    features: np.ndarray | torch.Tensor,
    window_frames: int | None = None,
    **kwargs,
) -> np.ndarray:
    """(frames, num_classes) per-frame class scores (the background column dropped)."""
    return window_probabilities(model, features, window_frames, **kwargs)[:, 1:]
