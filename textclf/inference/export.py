"""Export a trained model as a TensorFlow SavedModel that takes raw strings.

The SavedModel wraps the saved Keras model (`TextClassifier.model`), the one
prediction path, and needs neither textclf nor Keras to run: the GloVe
standardization is plain `tf.strings` ops, the vocabularies lookup tables and
textclf's layers TensorFlow ops, all traced into the graph. Its `serve` signature takes a 1-D string tensor
and returns `probabilities` (float32, `[batch, classes]`, columns in label
order), `label` (string, `[batch]`, the most probable label) and
`confidence` (float32, `[batch]`). A multi-label model's `serve` returns
`probabilities` (one independent probability per label), `decisions` (int8,
`[batch, labels]`: each label's probability against its threshold chosen on
validation, with `--at-least-one` as trained) and `labels` (string,
`[batch]`: the decided labels joined by the model's separator, in label
order). The outputs are the model task's (`textclf.tasks`), its decision rule
the one `TextClassifier.decide` and `textclf predict` run, traced in. The
labels are also in the model's `classes` variable and in
`assets.extra/labels.json`.

    import tensorflow as tf
    m = tf.saved_model.load("exported")
    out = m.signatures["serve"](tf.constant(["a great film", "dull"]))
    out["label"], out["probabilities"]
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SIGNATURE = "serve"


def build_serving_module(classifier):
    """A `tf.Module` with a `serve` function from raw strings to predictions.

    `serve` calls the classifier's saved Keras model (`TextClassifier.model`):
    the SavedModel computes exactly what `predict_proba` computes; its other
    outputs are the task's (`Task.serving_outputs`), whose decision rule is the
    one `predict` and `evaluate` run (`Task.decision_ops`), traced in.
    """
    import tensorflow as tf

    task = classifier.task

    class Serving(tf.Module):
        def __init__(self):
            super().__init__(name="textclf")
            self.model = classifier.model
            self.classes = tf.Variable(task.labels, dtype=tf.string, trainable=False, name="classes")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return task.serving_outputs(self.model(text, training=False), self.classes)

    return Serving()


def module_outputs(classifier):
    """Names of the `serve` signature's outputs (the task's, run eagerly on no rows: no model call)."""
    import tensorflow as tf

    task = classifier.task
    return list(task.serving_outputs(tf.zeros([0, len(task.labels)]), tf.constant(task.labels)))


def export_saved_model(classifier, directory):
    """Writes the SavedModel to `directory` (built in a temporary sibling, then renamed)."""
    import tensorflow as tf

    from textclf.artifacts.outputs import atomic_directory

    module = build_serving_module(classifier)
    with atomic_directory(directory, kind="saved_model") as tmp:
        tf.saved_model.save(module, os.fspath(tmp), signatures={SIGNATURE: module.serve})
        extra = Path(tmp) / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / "labels.json").write_text(json.dumps([str(c) for c in classifier.classes_]) + "\n")
        meta = {k: v for k, v in classifier.metadata.items()}
        (extra / "textclf_metadata.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return Path(directory)
