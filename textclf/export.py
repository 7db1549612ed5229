"""Export a trained model as a TensorFlow SavedModel that takes raw strings.

The SavedModel needs neither textclf nor Keras to run: the GloVe
standardization is plain `tf.strings` ops and the vocabulary a lookup table,
both traced into the graph. Its `serve` signature takes a 1-D string tensor
and returns `probabilities` (float32, `[batch, classes]`, columns in label
order), `label` (string, `[batch]`, the most probable label) and
`confidence` (float32, `[batch]`). The labels are also in the model's
`classes` variable and in `assets.extra/labels.json`.

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

    Texts are vectorized without padding to `max_length` (only to the longest
    text of the batch, truncated at `max_length`), as `predict_proba` does.
    """
    import tensorflow as tf

    labels = [str(label) for label in classifier.classes_]
    vectorizer = classifier._ragged_vectorizer
    inner = classifier._classifier
    max_length = classifier.max_length
    wide = classifier._wide
    weight = None if wide is None else wide[2]
    from textclf.models.wide import mix

    class Serving(tf.Module):
        def __init__(self):
            super().__init__(name="textclf")
            self.vectorizer = vectorizer
            self.classifier = inner
            self.classes = tf.Variable(labels, dtype=tf.string, trainable=False, name="classes")
            if wide is not None:
                self.ngram_vectorizer, self.ngram_classifier = wide[0], wide[1]

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            ids = self.vectorizer(text)[:, :max_length]
            # Every text has at least one token ("[UNK]" for empty ones).
            dense = ids.to_tensor(default_value=0)
            probabilities = self.classifier(dense, training=False)
            if wide is not None:  # the n-gram branch, mixed as in predict_proba
                probabilities = mix(probabilities, self.ngram_classifier(self.ngram_vectorizer(text), training=False),
                                    weight)
            best = tf.argmax(probabilities, axis=1)
            return {
                "probabilities": probabilities,
                "label": tf.gather(self.classes, best),
                "confidence": tf.reduce_max(probabilities, axis=1),
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
