"""Per-frame class scores for a whole half: every head scores a half itself (`half_probabilities`).

Window heads score one window around every feature row (window centring and edge padding:
`models.sliding.window_indices`); pooling heads do it exactly in O(frames) with window sums of per-frame terms
(`models/heads/pooling_head.py`); CALF and RMS-Net gather their chunks' or windows' votes. This file
knows no head class: `method="per-window"` forces the definition (`models.sliding.per_window_probabilities`)
on a head whose own path is a faster equal one (`fast_inference`), for tests and benchmarks.

Unlike the peers we score *every* row: their test loop builds windows for `arange(0, N - 1)` only (and the
SoccerNet-v2 pooling baselines also drop the last of those), so their score matrices are one or two rows
short at the end of a half; on the rows both have, the scores are the same.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from soccerspot.models.sliding import per_window_probabilities

DEFAULT_BATCH = 256  # windows per forward pass on the per-window path
METHODS = ("auto", "fast", "per-window")


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


def _model_input(model: nn.Module, features: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Features as a float32 (frames, dim) tensor on the model's device, checked against its input width."""
    x = _as_tensor(features, _device_of(model))
    config = getattr(model, "config", None)
    if config is not None and x.shape[1] != config.input_dim:
        raise ValueError(f"features are {x.shape[1]}-d but the head expects {config.input_dim}-d inputs")
    return x


def supports_fast_path(model: nn.Module) -> bool:
    return bool(getattr(model, "fast_inference", False))


def window_probabilities(
    model: nn.Module,
    features: np.ndarray | torch.Tensor,
    window_frames: int | None = None,
    *,
    method: str = "auto",
    batch_size: int = DEFAULT_BATCH,
    progress: bool = False,
) -> np.ndarray:
    """(frames, classes + 1) probabilities, column 0 = background. `method`: "auto" (the head's own
    whole-half path), "fast" (refused for a head without a faster exact path) or "per-window" (one window
    around every row, for window heads whose own path is a faster one). The model is put in eval mode.
    `window_frames`, when given, must be the head's own (a head is built for its window)."""
    if window_frames is not None and window_frames != model.config.window_frames:
        raise ValueError(f"the head scores windows of {model.config.window_frames} rows, not {window_frames}")
    if method not in METHODS:
        raise ValueError(f"method must be auto, fast or per-window, got {method!r}")
    if method == "fast" and not supports_fast_path(model):
        raise ValueError(f"{type(model).__name__} has no fast path; use method='per-window'")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = _model_input(model, features)
            if method == "per-window" and supports_fast_path(model):
                scores = per_window_probabilities(model, x, model.config.window_frames, batch_size=batch_size,
                                                  progress=progress)
            else:
                scores = model.half_probabilities(x, progress=progress, window_batch=batch_size)
            return scores.float().cpu().numpy()
    finally:
        model.train(was_training)


def frame_scores(model: nn.Module, features: np.ndarray | torch.Tensor, window_frames: int | None = None,
                 **kwargs) -> np.ndarray:
    """(frames, num_classes) per-frame class scores (the background column dropped)."""
    return window_probabilities(model, features, window_frames, **kwargs)[:, 1:]
