"""One trial: `run_training` with the trial's configuration and a progress store that prunes and keeps time.

The store plugs into the fit loop where checkpoints do (`run_training(progress=...)`): after each epoch of
the first member it reports the validation log loss of the model that would be saved (what early stopping
follows: the recurrent model mixed with the n-gram branch, or its own) to the pruner; after each training
call it checks the deadline, so a trial still running then is cut inside its fit.
"""

from __future__ import annotations

import dataclasses
import time

from textclf.training.stopping import MIXED_LOSS, RECURRENT_LOSS

METRICS = ("accuracy", "macro_f1", "micro_f1")
_KEYS = {"accuracy": "validation_accuracy", "macro_f1": "validation_macro_f1", "micro_f1": "validation_micro_f1"}


class TrialCut(Exception):
    """The budget's deadline came inside a trial's fit."""


class TrialHook:
    """The fit loop's progress store for one trial (the methods of `textclf.training.state.NoProgress`, and `step`).

    Args:
        trial: The `optuna.Trial`.
        deadline: `time.monotonic()` value after which the fit is cut.
    """

    def __init__(self, trial, deadline):
        self.trial, self.deadline = trial, deadline
        self.epochs, self.first_epoch_at, self.last_epoch_at = 0, None, None

    def member(self, index):
        """Member 1 reports to the pruner; later members only count epochs and keep time."""
        if index == 0:
            return self
        return _Member(self)

    def restored(self):
        return None

    def record(self, progress, model):
        """After an epoch: reports `-loss` at this epoch and raises `optuna.TrialPruned` if the pruner says so."""
        self._epoch_done()
        row = progress.history[-1]
        loss = row.get(MIXED_LOSS, row[RECURRENT_LOSS])
        self.trial.report(-float(loss), progress.epoch)
        if self.trial.should_prune():
            import optuna

            raise optuna.TrialPruned(f"pruned at epoch {progress.epoch}")

    def _epoch_done(self):
        self.epochs += 1
        self.last_epoch_at = time.monotonic()
        self.first_epoch_at = self.first_epoch_at or self.last_epoch_at

    def step(self):
        """After a training call: raises `TrialCut` past the deadline."""
        if time.monotonic() > self.deadline:
            raise TrialCut("the budget's deadline came inside this trial's fit")

    def finish(self):
        pass


class _Member(TrialHook):
    """A later ensemble member: epochs counted on the trial's hook, no reports (their epochs restart at 1)."""

    def __init__(self, parent):
        self.parent = parent
        self.deadline = parent.deadline

    def record(self, progress, model):
        self.parent._epoch_done()


def check_metric(metric, labels, allowed):
    """Raises `ConfigError` unless `metric` is one of `allowed` (the task's headline metrics) or `f1:LABEL`
    with a label of the training data."""
    from textclf.errors import ConfigError

    if metric.startswith("f1:"):
        if metric[3:] not in labels:
            shown = ", ".join(repr(label) for label in labels[:10]) + (" ..." if len(labels) > 10 else "")
            raise ConfigError(f"--metric {metric}: no label {metric[3:]!r} in the training data (labels: {shown})")
        return
    if metric not in allowed:
        raise ConfigError(f"metric must be one of {', '.join(allowed)} or f1:LABEL for this task. "
                          f"Received: metric={metric!r}")


def metric_value(metrics, metric):
    """The validation value of `metric` in a saved model's `fitted.metrics`."""
    if metric.startswith("f1:"):
        return float(metrics["validation_label_f1"][metric[3:]])
    return float(metrics[_KEYS[metric]])


def run_trial(config, changes, output, hook, verbose):
    """Trains `config` with `changes` into `output` through `run_training`, its log lines kept back.

    Returns:
        The trained `TextClassifier` (saved in `output`).
    """
    from textclf.training import run_training

    trial_config = dataclasses.replace(config, output=str(output), name=None, **changes)
    lines = []
    try:
        return run_training(trial_config, log=lines.append, keras_verbose=0, progress=hook)
    finally:
        if verbose:
            import sys

            for line in lines:
                print(f"  {line}", file=sys.stderr)
