"""Resumable training: a checkpoint after every epoch, next to the output.

While `textclf train --output models/x` runs, `models/.x.partial/` holds the
state after the last completed epoch, in `epoch-NNNN/`:

* `state.json`: the run's fingerprint (configuration and training-file
  identity), the phase, the history so far, the early-stopping state and the
  best validation loss of earlier phases;
* `model.npz`: every model variable, dropout seed-generator states included;
* `optimizer.npz`: every optimizer variable (Adam moments, iteration count);
* `stopper_best.npz` / `phase_best.npz`: the weights early stopping and the
  phase logic would restore.

Each checkpoint is written in a temporary directory and renamed into place,
then older ones are deleted, so a kill at any moment leaves a complete one.
The work directory is removed when the model has been saved.

`textclf train --resume` loads the latest checkpoint and continues with the
next epoch. The shuffle of a `tf.data` dataset with `reshuffle_each_iteration`
draws a new order per iterator from a seed generator; Keras 3's `fit` creates
two iterators per epoch of a dataset of known cardinality (one at the end of
the epoch, one at the start of the next), so the resumed run first creates
(and drops) `2 * epochs_done` iterators and every later epoch sees the same
order (`tests/test_faults.py` checks this against an uninterrupted run, so a
Keras change in that count shows up as a failing test). With
`enable_op_determinism` the resumed run then ends with the same weights as an
uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from textclf.errors import ConfigError

STATE_FILE = "state.json"
ARRAY_GROUPS = ("model", "optimizer", "stopper_best", "phase_best")


def work_dir_for(output):
    """The checkpoint directory of `output`: `.<name>.partial` beside it."""
    output = Path(output).absolute()
    return output.parent / f".{output.name}.partial"


def fingerprint(config):
    """What must not change between an interrupted run and its resumption."""
    settings = {k: v for k, v in config.to_dict().items() if k not in ("output", "name", "test")}
    files = {}
    for field in ("train", "validation", "embeddings"):
        value = settings.get(field)
        if value and os.path.isfile(value):
            st = os.stat(value)
            files[field] = [os.path.abspath(value), st.st_size, st.st_mtime_ns]
    return {"config": settings, "files": files}


def _describe_difference(old, new):
    for key in sorted(set(old["config"]) | set(new["config"])):
        if old["config"].get(key) != new["config"].get(key):
            return f"{key} was {old['config'].get(key)!r}, now {new['config'].get(key)!r}"
    for key in sorted(set(old["files"]) | set(new["files"])):
        if old["files"].get(key) != new["files"].get(key):
            return f"the {key} file changed"
    return "the settings differ"


class TrainingCheckpoint:
    """The per-epoch checkpoints of one output.

    Args:
        output: The final output directory.
        fingerprint: `fingerprint(config)` of the run.
        directory: Where the checkpoints go, instead of `work_dir_for(output)`.
    """

    def __init__(self, output, fingerprint, directory=None):
        self.directory = work_dir_for(output) if directory is None else Path(directory)
        self.fingerprint = fingerprint

    def member(self, index):
        """The checkpoints of ensemble member `index` (0-based, >= 1) inside this work directory."""
        return TrainingCheckpoint(None, self.fingerprint, directory=self.directory / f"member-{index + 1}")

    def _complete(self):
        if not self.directory.is_dir():
            return []
        found = []
        for entry in self.directory.iterdir():
            if entry.name.startswith("epoch-") and (entry / STATE_FILE).is_file():
                with contextlib.suppress(ValueError):
                    found.append((int(entry.name[6:]), entry))
        return [entry for _, entry in sorted(found)]

    def exists(self):
        """Whether the work directory exists (complete checkpoint or not)."""
        return self.directory.exists()

    def load(self):
        """The latest checkpoint as `(state, arrays)`, or None if there is none.

        Raises:
            ConfigError: the checkpoint was written with other settings or data.
        """
        complete = self._complete()
        if not complete:
            return None
        latest = complete[-1]
        try:
            state = json.loads((latest / STATE_FILE).read_text(encoding="utf-8"))
            arrays = {}
            for group in ARRAY_GROUPS:
                path = latest / f"{group}.npz"
                if path.is_file():
                    with np.load(path, allow_pickle=False) as npz:
                        arrays[group] = [npz[f"arr_{i}"] for i in range(len(npz.files))]
                else:
                    arrays[group] = None
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"{latest}: checkpoint cannot be read ({' '.join(str(exc).split())}); "
                f"delete {self.directory} to start over"
            ) from None
        if state.get("fingerprint") != self.fingerprint:
            raise ConfigError(
                f"{self.directory}: the interrupted run used other settings or data "
                f"({_describe_difference(state.get('fingerprint') or {'config': {}, 'files': {}}, self.fingerprint)}); "
                f"resume with the same options, or delete {self.directory} to start over"
            )
        return state, arrays

    def save(self, state, arrays):
        """Writes a checkpoint atomically and deletes the older ones.

        Args:
            state: JSON-ready dict; must hold "epoch" (epochs completed).
            arrays: Group name -> list of arrays, or None.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="tmp-", dir=self.directory))
        try:
            for group, values in arrays.items():
                if values is not None:
                    np.savez(tmp / f"{group}.npz", *[np.asarray(v) for v in values])
            (tmp / STATE_FILE).write_text(json.dumps({**state, "fingerprint": self.fingerprint}), encoding="utf-8")
            final = self.directory / f"epoch-{int(state['epoch']):04d}"
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for entry in self.directory.iterdir():
            if entry != final and (entry.name.startswith("epoch-") or entry.name.startswith("tmp-")):
                shutil.rmtree(entry, ignore_errors=True)

    def remove(self):
        """Deletes the work directory (after a successful save)."""
        shutil.rmtree(self.directory, ignore_errors=True)


def make_callback(checkpoint, stopper, *, phase_index, phase, phase_start, base_state, restore=None):
    """A Keras callback that checkpoints after every epoch of one phase.

    Args:
        checkpoint: The `TrainingCheckpoint`.
        stopper: The phase's `EarlyStopping` (its state is saved and restored).
        phase_index: 0-based index of the phase in the plan.
        phase: "frozen" or "finetune".
        phase_start: Global index of the phase's first epoch.
        base_state: Dict of "history", "phases", "best_loss" and the
            "phase_best" weights as of the start of the phase.
        restore: The loaded `(state, arrays)` when resuming inside this phase.

    Returns:
        The callback; its `rows` are the phase's history rows (restored ones first).
    """
    import keras

    from textclf.training import HISTORY_KEYS

    class _Checkpointer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.rows = list(restore[0]["phase_rows"]) if restore else []

        def on_train_begin(self, logs=None):
            if restore:  # runs after EarlyStopping.on_train_begin reset it
                saved = restore[0]["stopper"]
                stopper.wait = saved["wait"]
                stopper.best = saved["best"]
                stopper.best_epoch = saved["best_epoch"]
                stopper.stopped_epoch = saved["stopped_epoch"]
                stopper.best_weights = restore[1]["stopper_best"]

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            row = {"epoch": epoch + 1, "phase": phase}
            row.update({k: float(logs[k]) for k in HISTORY_KEYS if k in logs})
            self.rows.append(row)
            model = self.model
            state = {
                "epoch": epoch + 1,
                "phase_index": phase_index,
                "phase_start": phase_start,
                "phase_rows": self.rows,
                "history": base_state["history"],
                "phases": base_state["phases"],
                "best_loss": base_state["best_loss"],
                "stop_training": bool(model.stop_training),
                "stopper": {
                    "wait": stopper.wait,
                    "best": None if stopper.best is None else float(stopper.best),
                    "best_epoch": stopper.best_epoch,
                    "stopped_epoch": stopper.stopped_epoch,
                },
            }
            checkpoint.save(state, {
                "model": [v.numpy() for v in model.variables],
                "optimizer": [v.numpy() for v in model.optimizer.variables],
                "stopper_best": stopper.best_weights,
                "phase_best": base_state["phase_best"],
            })

    return _Checkpointer()


def restore_variables(model, arrays):
    """Assigns the saved model and optimizer variables (optimizer built first).

    Raises:
        ConfigError: the checkpoint does not match the model.
    """
    saved_model, saved_opt = arrays["model"], arrays["optimizer"]
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    for variables, saved, what in ((model.variables, saved_model, "model"),
                                   (model.optimizer.variables, saved_opt, "optimizer")):
        if saved is None or len(saved) != len(variables) or any(
            tuple(v.shape) != tuple(s.shape) for v, s in zip(variables, saved)
        ):
            raise ConfigError(f"the checkpoint's {what} state does not match the model; delete it to start over")
        for variable, value in zip(variables, saved):
            variable.assign(value)
