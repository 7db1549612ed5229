"""Early stopping on the validation loss, with a minimum improvement, its state plain data.

textclf owns this state rather than reading Keras' `EarlyStopping`
attributes, so a checkpoint saves and restores it as JSON and weights.
"""

from __future__ import annotations

import keras

from textclf.training.state import StoppingState


def update(state, loss, *, epoch, patience, min_delta):
    """Counts one epoch's validation loss.

    An epoch improves when its loss is below the reference by more than
    `min_delta`; after `patience` epochs without one the phase stops, so a run
    whose loss still falls by 1e-5 an epoch stops once it has converged.

    Returns:
        Whether `loss` is the lowest so far (its weights should be kept).
    """
    lowest = state.best is None or loss < state.best
    if lowest:
        state.best, state.best_epoch = float(loss), epoch
    if state.reference is None or loss < state.reference - min_delta:
        state.reference, state.wait = float(loss), 0
    else:
        state.wait += 1
        state.stopped = state.wait >= patience
    return lowest


class EarlyStopping(keras.callbacks.Callback):
    """Stops `fit` when `update` says so and keeps the weights of the lowest validation loss.

    Args:
        patience: Epochs without an improvement of more than `min_delta` before stopping.
        min_delta: Smallest fall of the validation loss that counts as an improvement.
        state: A `StoppingState` to continue from (a resumed phase), else a new one.
        best_weights: The weights kept so far, with `state`.
    """

    def __init__(self, patience, min_delta, state=None, best_weights=None):
        super().__init__()
        self.patience = patience
        self.min_delta = min_delta
        self.state = state or StoppingState()
        self.best_weights = best_weights

    def on_epoch_end(self, epoch, logs=None):
        loss = float((logs or {})["val_loss"])
        if update(self.state, loss, epoch=epoch + 1, patience=self.patience, min_delta=self.min_delta):
            self.best_weights = self.model.get_weights()
        if self.state.stopped:
            self.model.stop_training = True
