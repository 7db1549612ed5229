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
order), as `TextClassifier.decide` and `textclf predict` give them. The
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
    the SavedModel computes exactly what `predict_proba` computes.
    """
    import tensorflow as tf

    labels = [str(label) for label in classifier.classes_]
    if classifier.multi_label:
        return _multilabel_serving_module(classifier, labels)

    class Serving(tf.Module):
        def __init__(self):
            super().__init__(name="textclf")
            self.model = classifier.model
            self.classes = tf.Variable(labels, dtype=tf.string, trainable=False, name="classes")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            probabilities = self.model(text, training=False)
            best = tf.argmax(probabilities, axis=1)
            return {
                "probabilities": probabilities,
                "label": tf.gather(self.classes, best),
                "confidence": tf.reduce_max(probabilities, axis=1),
            }

    return Serving()


def _multilabel_serving_module(classifier, labels):
    """`serve` for a multi-label model: probabilities, thresholded decisions and the joined labels."""
    import tensorflow as tf

    at_least_one = bool((classifier.metadata.get("fitted") or {}).get("at_least_one", False))
    separator = classifier.label_separator

    class Serving(tf.Module):
        def __init__(self):
            super().__init__(name="textclf")
            self.model = classifier.model
            self.classes = tf.Variable(labels, dtype=tf.string, trainable=False, name="classes")
            self.thresholds = tf.Variable(classifier.thresholds.astype("float32"), trainable=False, name="thresholds")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            probabilities = self.model(text, training=False)
            decided = probabilities >= self.thresholds
            if at_least_one:  # as `multilabel.apply_thresholds`: an empty row takes its most probable label
                best = tf.one_hot(tf.argmax(probabilities, axis=1), len(labels), on_value=True, off_value=False)
                decided = tf.logical_or(decided, tf.logical_and(best, ~tf.reduce_any(decided, axis=1, keepdims=True)))
            names = tf.ragged.boolean_mask(tf.broadcast_to(self.classes, tf.shape(decided)), decided)
            return {
                "probabilities": probabilities,
                "decisions": tf.cast(decided, tf.int8),
                "labels": tf.strings.reduce_join(names, axis=1, separator=separator),
            }

    return Serving()


def export_saved_model(classifier, directory):
    """Writes the SavedModel to `directory` (built in a temporary sibling, then renamed)."""
    import tensorflow as tf

    from textclf.outputs import atomic_directory

    module = build_serving_module(classifier)
    with atomic_directory(directory, kind="saved_model") as tmp:
        tf.saved_model.save(module, os.fspath(tmp), signatures={SIGNATURE: module.serve})
        extra = Path(tmp) / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / "labels.json").write_text(json.dumps([str(c) for c in classifier.classes_]) + "\n")
        meta = {k: v for k, v in classifier.metadata.items()}
        (extra / "textclf_metadata.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return Path(directory)
