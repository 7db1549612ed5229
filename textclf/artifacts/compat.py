"""Every use of Keras internals, and the Keras version a model file was saved with.

Each function below works around one Keras limitation, named with its issue;
`tests/test_compat.py` checks each against the installed Keras, so an upgrade
that removes or changes an internal fails there, loudly, rather than in a
training run.
"""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np


def set_feature_scale(layer, weights):
    """Makes a built `keras.layers.Normalization` multiply by `weights` (mean 0, variance `1 / weights**2`).

    Works around keras-team/keras#16392: statistics passed to the
    constructor (`mean=`, `variance=`) are kept in the layer *config*, so
    200,000 feature weights would be written into the model's JSON; only the
    statistics of `adapt` are saved as weights, in the undocumented
    `adapt_variance` variable. This assigns it as `adapt` would.

    Args:
        layer: A `keras.layers.Normalization`, built, with its default mean of 0.
        weights: Positive float32 array, one weight per feature.
    """
    layer.adapt_variance.assign(1.0 / np.square(weights))
    layer.finalize_state()


def build_for_multi_worker(model, data_batch, strategy):
    """Builds `model` from one local batch and stops `fit` from building it again across workers.

    Works around keras-team/keras#20585 (tensorflow/tensorflow#72388): under
    `MultiWorkerMirroredStrategy`, Keras 3's `fit` builds the model by
    reducing a *data batch* across replicas (`Model._symbolic_build`, through
    `_maybe_symbolic_build`), which the strategy refuses for a tuple, and it
    reduces per-step logs with `strategy.reduce("MEAN", v, axis=0)`, which
    fails on scalars. So the model, its metrics and optimizer are built here
    from `data_batch`, the build in `fit` is skipped, and the step functions
    return their logs as shape `(1,)`, which that reduction averages into a
    scalar. (Epoch logs, the ones early stopping and the history see, are
    read from the metric variables, aggregated over all workers.)

    Call after every `compile`, before `fit`.
    """
    from keras import ops, tree

    with strategy.scope():
        model._symbolic_build(data_batch=data_batch)  # noqa: SLF001
    if getattr(model, "_textclf_distributed_steps", False):
        return

    def as_vectors(step):
        return lambda data: tree.map_structure(lambda v: ops.reshape(v, (1,)), step(data))

    model.train_step = as_vectors(model.train_step)
    model.test_step = as_vectors(model.test_step)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None  # noqa: SLF001
    model._textclf_distributed_steps = True  # noqa: SLF001


def saved_keras_version(path):
    """The Keras version recorded inside a `.keras` file (its `metadata.json`), or None if unreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            version = json.loads(archive.read("metadata.json")).get("keras_version")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return version if isinstance(version, str) else None


def version_tuple(version):
    """`"3.15.1"` -> `(3, 15, 1)` (the leading numbers only; `"3.8.0rc1"` -> `(3, 8, 0)`)."""
    numbers = []
    for part in str(version).split("."):
        match = re.match(r"\d+", part)
        if not match:
            break
        numbers.append(int(match.group()))
        if match.group() != part:
            break
    return tuple(numbers)


def newer_keras_note(path, installed=None):
    """A sentence naming both versions when `path` was saved by a newer Keras than the installed one, else "".

    A model saved by a newer Keras may not load in an older one: Keras' own
    layer configs gain keys (e.g. `quantization_config`) that older versions
    reject.
    """
    if installed is None:
        import keras

        installed = keras.__version__
    saved = saved_keras_version(path)
    if saved is None or version_tuple(saved) <= version_tuple(installed):
        return ""
    return (f"it was saved with Keras {saved} and this is Keras {installed}; a model saved by a newer Keras may not "
            f"load in an older one: install Keras >= {saved}")
