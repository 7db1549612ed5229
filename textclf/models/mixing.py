"""Mixing the n-gram branch with the recurrent model: `weight * wide + (1 - weight) * deep`, the weight chosen
on validation log loss.
"""

from __future__ import annotations

import numpy as np

WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def mix(deep, wide, weight):
    """`weight * wide + (1 - weight) * deep` (works on NumPy arrays and tensors)."""
    return weight * wide + (1.0 - weight) * deep



def choose_weight(deep, wide, y, loss):
    """The mixing weight that minimizes validation log loss (ties: the smaller weight).

    Args:
        deep: Validation probabilities of the recurrent model.
        wide: Validation probabilities of the n-gram model.
        y: Encoded validation truth (`Task.encode`).
        loss: `(probabilities, y) -> float`, the task's log loss (`Task.log_loss`).

    Returns:
        `(weight, losses)`: the weight in `WEIGHT_GRID` and the loss at each grid point.
    """
    losses = [loss(mix(deep, wide, weight), y) for weight in WEIGHT_GRID]
    return float(WEIGHT_GRID[int(np.argmin(losses))]), losses

