"""The textclf layers of saved models, where no built-in Keras layer does the job.

Each is registered under the package name "textclf" (by
`textclf.models.keras_objects.register_keras_objects`, which `import textclf`
arranges), so `keras.saving.load_model` rebuilds it with `safe_mode=True`:
only its name and config are stored, never code.

    GloveStandardize        strings -> their first `max_chars` characters, GloVe-spelled
                            (`textclf.text.tokenize`), once for both branches' `TextVectorization` layers
    FirstTokens             token ids padded to the batch's longest row -> at most
                            `max_length` of them
    NgramLogisticRegression n-gram ids -> class probabilities (softmax), or one
                            probability per label (sigmoid, several labels per text),
                            computed on the distinct ids of each row (never a dense multi-hot row)
    MixProbabilities        `weight * ngram + (1 - weight) * recurrent`

This module imports Keras and TensorFlow: import it only where they are
already needed.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from textclf.text.tokenize import KERAS_PACKAGE as PACKAGE
from textclf.text.tokenize import glove_standardize

UNIT_NORM_EPSILON = 1e-12  # keras.layers.UnitNormalization's


@keras.saving.register_keras_serializable(package=PACKAGE)
class GloveStandardize(keras.layers.Layer):
    """Cuts strings to their first `max_chars` characters, then lowercases and spaces them out the way glove.6B is
    spelled (`glove_standardize`).

    Args:
        max_chars: Characters (Unicode code points) kept of each text, as training cut them
            (`textclf.text.vocabulary.cut_texts`); None keeps texts whole (models saved before the cut existed).
    """

    def __init__(self, max_chars=None, **kwargs):
        super().__init__(trainable=False, **kwargs)
        if max_chars is not None and int(max_chars) < 1:
            raise ValueError(f"max_chars must be a positive integer or None. Received: max_chars={max_chars!r}")
        self.max_chars = None if max_chars is None else int(max_chars)

    def call(self, texts):
        if self.max_chars is not None:
            texts = tf.strings.substr(texts, 0, self.max_chars, unit="UTF8_CHAR")
        return glove_standardize(texts)

    def compute_output_spec(self, texts):
        return keras.KerasTensor(texts.shape, dtype="string")

    def get_config(self):
        config = {**super().get_config(), "max_chars": self.max_chars}
        config.pop("trainable", None)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class FirstTokens(keras.layers.Layer):
    """The first `max_length` columns of a batch of token ids (the rest of a long text is dropped).

    Args:
        max_length: Columns kept.
    """

    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        if int(max_length) < 1:
            raise ValueError(f"max_length must be a positive integer. Received: max_length={max_length!r}")
        self.max_length = int(max_length)

    def call(self, ids):
        return ids[:, : self.max_length]

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        return (input_shape[0], None if length is None else min(length, self.max_length))

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


def normalized_ngram_features(ids, feature_weights):
    """The L2-normalized weighted multi-hot features of rows of n-gram ids, as `(rows, columns, values)`.

    What multi-hot -> x `feature_weights` -> `UnitNormalization` computes,
    on the distinct `(row, feature)` pairs only.

    Args:
        ids: int `(batch, length)` ids of an `output_mode="int"` `TextVectorization`:
            0 is padding, 1 the out-of-vocabulary entry (feature 0), `k + 1` feature `k`.
        feature_weights: float32 `(features,)` weights of the features.

    Returns:
        `(rows, columns, values)`: int64, int64 and float32 1-D tensors.
    """
    ids = tf.cast(ids, tf.int64)
    size = tf.shape(feature_weights, out_type=tf.int64)[0]
    where = tf.where(ids > 0)
    # Distinct (row, feature) pairs: multi-hot counts every n-gram once per row.
    keys, _ = tf.unique(where[:, 0] * size + tf.gather_nd(ids, where) - 1)
    rows, columns = keys // size, keys % size
    values = tf.gather(feature_weights, columns)
    squares = tf.math.unsorted_segment_sum(tf.square(values), rows, tf.shape(ids, out_type=tf.int64)[0])
    # UnitNormalization's x * min(rsqrt(sum(x^2)), 1 / epsilon).
    values = values * tf.gather(tf.minimum(tf.math.rsqrt(squares), 1.0 / UNIT_NORM_EPSILON), rows)
    return rows, columns, values


@keras.saving.register_keras_serializable(package=PACKAGE)
class NgramLogisticRegression(keras.layers.Layer):
    """Logistic regression on weighted, L2-normalized multi-hot n-gram features.

    `softmax(normalize(multi_hot(ids) * feature_weights) @ kernel + bias)`
    (multinomial), or with `activation="sigmoid"` one independent probability
    per output (one-vs-rest, several labels per text);
    computed from the distinct ids of each row: a dense multi-hot row of a
    200,000 n-gram vocabulary would be 800 kB per text for a few hundred nonzeros.

    Args:
        num_features: Feature count (the n-gram vocabulary plus its out-of-vocabulary entry).
        num_classes: Output classes.
        activation: "softmax" or "sigmoid".
    """

    ACTIVATIONS = ("softmax", "sigmoid")

    def __init__(self, num_features, num_classes, activation="softmax", **kwargs):
        super().__init__(**kwargs)
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation must be one of {self.ACTIVATIONS}. Received: activation={activation!r}")
        self.num_features, self.num_classes, self.activation = int(num_features), int(num_classes), activation

    def build(self, input_shape):
        self.feature_weights = self.add_weight(shape=(self.num_features,), initializer="ones", trainable=False,
                                               name="feature_weights")
        self.kernel = self.add_weight(shape=(self.num_features, self.num_classes), initializer="zeros", name="kernel")
        self.bias = self.add_weight(shape=(self.num_classes,), initializer="zeros", name="bias")

    def call(self, ids):
        rows, columns, values = normalized_ngram_features(ids, tf.convert_to_tensor(self.feature_weights))
        weighted = tf.gather(tf.convert_to_tensor(self.kernel), columns) * values[:, None]
        logits = tf.math.unsorted_segment_sum(weighted, rows, tf.shape(ids, out_type=tf.int64)[0])
        return (tf.nn.sigmoid if self.activation == "sigmoid" else tf.nn.softmax)(logits + self.bias)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_features": self.num_features, "num_classes": self.num_classes,
                "activation": self.activation}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MixProbabilities(keras.layers.Layer):
    """`weight * ngram + (1 - weight) * recurrent`, called on `[recurrent, ngram]`.

    Args:
        weight: The n-gram branch's share, in [0, 1] (chosen on validation in training).
    """

    def __init__(self, weight, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(weight) <= 1.0:
            raise ValueError(f"weight must be in [0, 1]. Received: weight={weight!r}")
        self.weight = float(weight)

    def call(self, inputs):
        recurrent, ngram = inputs
        return self.weight * ngram + (1.0 - self.weight) * recurrent

    def compute_output_shape(self, input_shapes):
        return tuple(input_shapes[0])

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}
