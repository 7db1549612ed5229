"""Training losses textclf defines (the task picks one: `Task.loss`)."""

from __future__ import annotations

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="textclf")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy averaged over labels, each label's positive terms multiplied by its weight.

    Registered because `keras.models.clone_model` (ensemble members, `inference_copy`)
    recompiles a compiled model's copy from its config.

    Args:
        positive_weights: One weight per label (output column).
    """

    def __init__(self, positive_weights, name="weighted_binary_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.positive_weights = [float(w) for w in positive_weights]

    def call(self, y_true, y_pred):
        weights = keras.ops.convert_to_tensor(np.asarray(self.positive_weights, dtype=np.float32))
        p = keras.ops.clip(y_pred, keras.config.epsilon(), 1.0 - keras.config.epsilon())
        y_true = keras.ops.cast(y_true, p.dtype)
        terms = weights * y_true * keras.ops.log(p) + (1.0 - y_true) * keras.ops.log(1.0 - p)
        return -keras.ops.mean(terms, axis=-1)

    def get_config(self):
        return {**super().get_config(), "positive_weights": self.positive_weights}

