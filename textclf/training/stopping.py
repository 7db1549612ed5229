"""Early stopping on a validation loss, with a minimum improvement, its state plain data.

The loss followed is the recurrent model's own (`val_loss`) or, by default
(`--stop-on mixed`) with an n-gram branch, that of the model that is saved: the recurrent model
mixed with the branch (`val_mixed_loss`); `ValidationScores` computes both. textclf owns
the stopping state rather than reading Keras' `EarlyStopping` attributes, so
a checkpoint saves and restores it as JSON and weights.
"""

from __future__ import annotations

import keras
import numpy as np

from textclf.training.state import StoppingState

RECURRENT_LOSS = "val_loss"
MIXED_LOSS = "val_mixed_loss"
MIXED_WEIGHT = "val_mixed_weight"


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
        monitor: The epoch log's key of the loss followed (`RECURRENT_LOSS` or `MIXED_LOSS`). Epochs
            whose mix gives the recurrent model no weight (`MIXED_WEIGHT` 1) neither improve nor count
            against patience: the recurrent model has not entered the mix yet.
    """

    def __init__(self, patience, min_delta, state=None, best_weights=None, monitor=RECURRENT_LOSS):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.state = state or StoppingState()
        self.best_weights = best_weights

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor == MIXED_LOSS and logs[MIXED_WEIGHT] >= 1.0:
            # The mix is still the n-gram branch alone: its loss stays flat while the recurrent model learns,
            # which is no sign of convergence (on TREC it stopped members at epoch 3 of the frozen phase).
            if self.best_weights is None:
                self.best_weights = self.model.get_weights()
            return
        loss = float(logs[self.monitor])
        if update(self.state, loss, epoch=epoch + 1, patience=self.patience, min_delta=self.min_delta):
            self.best_weights = self.model.get_weights()
        if self.state.stopped:
            self.model.stop_training = True


class ValidationScores(keras.callbacks.Callback):
    """Writes each epoch's validation scores into its logs, from one prediction of the validation rows.

    `val_loss` and `val_accuracy` are the recurrent model's training loss and
    accuracy on every validation row, as Keras computes them from
    `validation_data` (`validation_scores`); with an n-gram branch also
    `MIXED_LOSS` and `MIXED_WEIGHT`: the model being trained mixed with the
    branch's probabilities at the weight of lowest log loss (`choose_weight`,
    as assembling does) over the validation documents that assembling scores,
    i.e. what the saved model would score that epoch. On long documents, where
    the n-gram branch alone is nearly as good as the mix, this loss flattens
    epochs before the recurrent model's own, and stopping on it stops there.

    `fit` gets no `validation_data`: Keras' pass over the same rows would
    predict them a second time (about 4% of an IMDB epoch) and trace a test
    function per compiled model.

    Must come before `EarlyStopping` in the callbacks: it writes the keys that one reads.

    Args:
        prepared: The `textclf.training.prepare.Prepared` data.
        ngram: The `NgramFit` (its validation probabilities), or None without an n-gram branch.
        local_copy: `Runtime.local_copy`: a plain model to predict with, outside any strategy.
        loss: The compiled training loss (`textclf.training.recurrent.training_loss`).
    """

    def __init__(self, prepared, ngram, local_copy, loss):
        from textclf.text.pipeline import SortedBatches

        super().__init__()
        self.prepared, self.ngram, self.local_copy, self.loss = prepared, ngram, local_copy, loss
        self.validation = SortedBatches(prepared.ids_val)  # the same batches every epoch

    def on_epoch_end(self, epoch, logs=None):
        probabilities = self.validation.predict(self.local_copy(self.model))
        logs.update(validation_scores(self.prepared, probabilities, self.loss, self.ngram))


def validation_scores(prepared, probabilities, loss, ngram=None):
    """The epoch log's validation entries for the recurrent model's probabilities on the validation rows.

    Args:
        prepared: The `Prepared` data (the task, the validation truth and documents).
        probabilities: The recurrent model's `(validation rows, classes)` probabilities.
        loss: The compiled training loss: a Keras loss name or `keras.losses.Loss`.
        ngram: The `NgramFit`, or None.

    Returns:
        `{"val_loss", "val_accuracy"}` and, with `ngram`, `MIXED_LOSS` and `MIXED_WEIGHT`.
    """
    from textclf.models.mixing import choose_weight

    y = prepared.y_val
    loss = keras.losses.get(loss) if isinstance(loss, str) else loss
    scores = {
        RECURRENT_LOSS: float(np.mean(keras.ops.convert_to_numpy(loss(y, probabilities)))),
        "val_accuracy": prepared.task.compiled_accuracy(y, probabilities),
    }
    if ngram is not None:
        scored = prepared.split.val_documents
        weight, losses = choose_weight(probabilities[scored], ngram.val_probabilities[scored], y[scored],
                                       prepared.task.log_loss)
        scores[MIXED_LOSS], scores[MIXED_WEIGHT] = float(min(losses)), weight
    return scores
