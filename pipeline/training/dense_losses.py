"""T-DEED's training loss (Xarles et al., CVPR-W 2024; sn-teamspotting's team head), as sums and counts.

What their `TDEEDModel.epoch()` computes on a batch (arturxe2/T-DEED and SoccerNet/sn-teamspotting
`model/model.py`), read in their code:

- class: `F.cross_entropy(pred.reshape(-1, C + 1), label, weight=[1, fg_weight, ...])`, foreground weight 5;
  with mixup the labels are distributions (torch's soft-target form, a mean over rows), without them class
  indices (torch's weighted mean: over the rows' weights); `soft=None` reads which from the targets' mixed
  column, so mixed training batches and unmixed validation batches are each theirs, on every part of a batch;
- displacement: `F.mse_loss(predD, labelD).mean()` over every row of the batch (background rows' target is
  0), in frames;
- team (sn-teamspotting): `BCEWithLogitsLoss()(predT[labelT != -1], labelT[labelT != -1])` over the rows an
  event labels, none when the batch has no such row;
- summed with sn-teamspotting's `loss_weights = [1, 1, 2]` (arturxe2's: class + displacement, weight 1 each).

`TDEEDLoss` keeps the training loop's exact-sum contract (`pipeline.training.loop.batch_share`): `sums` gives
each term's numerator (times its weight) over a part of a batch, `counts` its denominator (the class term's
rows or weights, every row, the rows with a team), so parts of a batch on several ranks add up to the loss
of the whole batch. Outputs are `DenseTrainModel`'s (S, B, T, C + 3): logits, displacement, team logit;
targets `data.dense_training_clips`' (B, T, C + 4): class distribution, displacement, team (-1 none), mixed.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from soccerspot.data.dense_training_clips import DISPLACEMENT_OFFSET, MIXED_OFFSET, NO_TEAM, TEAM_OFFSET

TDEED_LOSS_WEIGHTS = (1.0, 1.0, 2.0)  # sn-teamspotting model.py epoch(loss_weights=[1, 1, 2])


class TDEEDLoss:
    """Weighted cross-entropy + `displacement_weight` x displacement MSE + `team_weight` x team BCE."""

    def __init__(self, num_classes: int, fg_weight: float, soft: bool | None, *, displacement: bool, team: bool,
                 displacement_weight: float = TDEED_LOSS_WEIGHTS[1], team_weight: float = TDEED_LOSS_WEIGHTS[2]):
        self.columns = num_classes + 1
        self.displacement_column = self.columns + DISPLACEMENT_OFFSET  # in outputs and targets alike
        self.team_column = self.columns + TEAM_OFFSET
        self.weight = torch.tensor([1.0] + [float(fg_weight)] * num_classes)
        self.soft = soft
        self.displacement, self.team = displacement, team
        self.displacement_weight, self.team_weight = float(displacement_weight), float(team_weight)

    def _classes(self, targets: torch.Tensor) -> torch.Tensor:
        return targets[..., :self.columns].reshape(-1, self.columns)

    def _soft(self, targets: torch.Tensor) -> bool:
        """`soft`, or where it is None, whether the clips were mixed (the targets' mixed column): theirs is the
        soft form after mixup (training) and the class-index form without it (their validation batches)."""
        if self.soft is not None:
            return self.soft
        return bool((targets[..., self.columns + MIXED_OFFSET] > 0).any())

    def _team_rows(self, targets: torch.Tensor) -> torch.Tensor:
        return targets[..., self.team_column].reshape(-1) != NO_TEAM

    def counts(self, targets: torch.Tensor) -> torch.Tensor:
        """Denominators: the class term's (rows, or with class indices the sum of their weights), the
        displacement term's rows, the team term's rows with a team."""
        classes = self._classes(targets)
        weight = self.weight.to(targets.device)
        class_count = (torch.tensor(float(classes.shape[0]), device=targets.device) if self._soft(targets)
                       else weight[classes.argmax(dim=1)].sum())
        rows = float(classes.shape[0]) if self.displacement else 0.0
        teams = self._team_rows(targets).sum().to(torch.float64) if self.team else 0.0
        return torch.stack([torch.as_tensor(v, dtype=torch.float64, device=targets.device)
                            for v in (class_count, rows, teams)])

    def sums(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Numerators of the three terms (each times its weight), summed over this part's rows."""
        outputs = outputs[-1].float()  # the one stage
        weight = self.weight.to(outputs.device)
        logits = outputs[..., :self.columns].reshape(-1, self.columns)
        classes = self._classes(targets)
        if self._soft(targets):
            class_sum = F.cross_entropy(logits, classes, weight=weight, reduction="sum")
        else:
            class_sum = F.cross_entropy(logits, classes.argmax(dim=1), weight=weight, reduction="sum")
        zero = logits.sum() * 0.0
        displacement_sum = zero
        if self.displacement:
            displacement_sum = F.mse_loss(outputs[..., self.displacement_column].reshape(-1),
                                          targets[..., self.displacement_column].reshape(-1), reduction="sum")
        team_sum = zero
        if self.team:
            rows = self._team_rows(targets)
            team_sum = F.binary_cross_entropy_with_logits(outputs[..., self.team_column].reshape(-1)[rows],
                                                          targets[..., self.team_column].reshape(-1)[rows],
                                                          reduction="sum")
        return torch.stack([class_sum, self.displacement_weight * displacement_sum, self.team_weight * team_sum])

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        counts = self.counts(targets).clamp(min=1.0)
        sums = self.sums(outputs, targets)
        return (sums / counts.to(sums.device, sums.dtype)).sum()
