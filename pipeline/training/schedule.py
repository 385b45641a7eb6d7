"""Learning-rate schedules that are a pure function of the step, so `--resume` continues them exactly.

`warmup_cosine_factor` is E2E-Spot's (Hong et al., ECCV 2022; jhong93/spot `train_e2e.py`
`get_lr_scheduler`): `ChainedScheduler([LinearLR(start_factor=0.01, end_factor=1.0, total_iters=W),
CosineAnnealingLR(T_max=T)])`, stepped after every optimizer step, with W = warm-up epochs x steps per
epoch and T = (epochs - warm-up epochs) x steps per epoch. Both schedulers run from step 0 and multiply: the
cosine is already falling during the warm-up and, as theirs, rises again after T (their last warm-up-many
epochs). `tests/test_dense_training.py` checks it against torch's chained schedulers.
"""
from __future__ import annotations

import math

WARMUP_START = 0.01  # LinearLR's start_factor in their get_lr_scheduler


def warmup_cosine_factor(step: int, warmup_steps: int, cosine_steps: int) -> float:
    """The factor of the base lr used by optimizer step `step` (0-based)."""
    linear = 1.0 if warmup_steps <= 0 else WARMUP_START + (1.0 - WARMUP_START) * min(step, warmup_steps) / warmup_steps
    cosine = 1.0 if cosine_steps <= 0 else (1.0 + math.cos(math.pi * step / cosine_steps)) / 2.0
    return linear * cosine
