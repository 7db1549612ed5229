"""textclf.artifacts.compat: each Keras internal textclf relies on, checked against the installed Keras.

A failure here after a Keras upgrade names the workaround to revisit (see the
Keras issue in its docstring).
"""

import inspect
import json
import zipfile

import numpy as np
import pytest


def test_feature_scale_uses_normalization_adapt_variance():
    """keras-team/keras#16392: the feature weights live in `adapt_variance`, a saved weight, not in the config."""
    import keras

    from textclf.artifacts.compat import set_feature_scale

    layer = keras.layers.Normalization(axis=-1)
    layer.build((None, 4))
    assert any(v is layer.adapt_variance for v in layer.weights), "adapt_variance is no longer a layer weight"
    weights = np.array([0.5, 1.0, 2.0, 8.0], dtype=np.float32)
    set_feature_scale(layer, weights)
    x = np.array([[1.0, 1.0, 0.0, 1.0], [0.0, 2.0, 1.0, 0.5]], dtype=np.float32)
    np.testing.assert_allclose(np.asarray(layer(x)), x * weights, rtol=1e-5)
    assert layer.get_config().get("variance") is None  # nothing of the 200,000 weights in the JSON config


def test_multi_worker_build_internals_exist():
    """keras-team/keras#20585: `fit` builds through `_maybe_symbolic_build` -> `_symbolic_build(data_batch=...)`."""
    import keras

    for name in ("_symbolic_build", "_maybe_symbolic_build"):
        method = getattr(keras.Model, name, None)
        assert method is not None, f"keras.Model.{name} is gone: revisit textclf.artifacts.compat.build_for_multi_worker"
        assert "data_batch" in inspect.signature(method).parameters, name


def test_build_for_multi_worker_builds_once_and_vectorizes_step_logs():
    import keras
    import tensorflow as tf

    from textclf.artifacts.compat import build_for_multi_worker

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    batch = (tf.ones((4, 3)), tf.constant([0, 1, 0, 1]))
    build_for_multi_worker(model, batch, tf.distribute.get_strategy())
    assert model.built and model.optimizer.built
    assert model._maybe_symbolic_build(data_batch=batch) is None  # noqa: SLF001 - fit's build is skipped
    logs = model.train_step(batch)
    assert all(tuple(value.shape) == (1,) for value in logs.values())
    build_for_multi_worker(model, batch, tf.distribute.get_strategy())  # after a recompile: steps not wrapped twice
    assert all(tuple(value.shape) == (1,) for value in model.train_step(batch).values())


def test_version_tuple():
    from textclf.artifacts.compat import version_tuple

    assert version_tuple("3.15.1") == (3, 15, 1)
    assert version_tuple("3.8.0rc1") == (3, 8, 0)
    assert version_tuple("3.10.0.dev2025") == (3, 10, 0)
    assert version_tuple("3.8") < version_tuple("3.15.1")


def _rewrite_archive(path, change):
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    for name, transform in change.items():
        entries[name] = json.dumps(transform(json.loads(entries[name]))).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def test_a_model_from_a_newer_keras_that_fails_to_load_names_both_versions(tmp_path):
    import keras

    from textclf.inference.classifier import load_keras_model
    from textclf.artifacts.compat import newer_keras_note
    from textclf.errors import ModelFileError

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    assert newer_keras_note(path) == ""  # saved by this Keras

    def future_config(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Dense":
                layer["config"]["option_from_the_future"] = True  # a key this Keras does not know
        return config

    _rewrite_archive(path, {"metadata.json": lambda meta: {**meta, "keras_version": "99.0.0"},
                            "config.json": future_config})
    with pytest.raises(ModelFileError) as info:
        load_keras_model(path)
    message = str(info.value)
    assert "saved with Keras 99.0.0" in message and f"this is Keras {keras.__version__}" in message
    assert "\n" not in message
