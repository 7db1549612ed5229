"""Resumable training: a checkpoint after every epoch, next to the output.

While `textclf train --output models/x` runs, `models/.x.partial/` holds the
state after the last completed epoch, in `epoch-NNNN/`:

* `state.json`: the run's fingerprint (configuration and training-file
  identity) and the fit loop's progress (phase, history, early-stopping
  state), as `textclf.training.resume` writes it;
* one `<group>.npz` per group of arrays (model and optimizer variables,
  dropout seed-generator states included; the weights early stopping and
  the phase logic would restore).

Each checkpoint is written in a temporary directory and renamed into place,
then older ones are deleted, so a kill at any moment leaves a complete one.
The work directory is removed when the model has been saved.

`textclf train --resume` loads the latest checkpoint and continues with the
next epoch. Nothing needs replaying: each epoch's shuffle is seeded by
`(seed, epoch)` (`textclf.text.pipeline.training_dataset`), so with
`enable_op_determinism` the resumed run ends with the same weights as an
uninterrupted one (`tests/test_faults.py`).
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

        `arrays` maps each saved group to its list of arrays (a group saved as
        None is absent).

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
            for path in latest.glob("*.npz"):
                with np.load(path, allow_pickle=False) as npz:
                    arrays[path.stem] = [npz[f"arr_{i}"] for i in range(len(npz.files))]
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
