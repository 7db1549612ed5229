"""The saved model's class: a functional Keras model that takes texts as Keras users pass them.

`keras.Model.predict` refuses a Python list of strings ("Unrecognized data
type") and a NumPy string array ("Invalid dtype: str576"); only a
`tf.string` tensor works. `TextModel` converts a list, tuple, NumPy or pandas
string array to a 1-D `tf.string` tensor first, in `predict` and when called,
as keras-hub's task models do. Its `predict` takes textclf's one batched path
(`textclf.inference.classifier.predict_texts`): rows of similar length batched together
(each batch padded only to its longest row), probabilities in input order.

Registered as `textclf>TextModel` (see `textclf.models.keras_objects`); a model
file of this class loads with `safe_mode=True` after `import textclf`.
"""

from __future__ import annotations

import keras
import numpy as np

from textclf.data.inputs import check_texts
from textclf.text.tokenize import KERAS_PACKAGE


def as_text_tensor(texts):
    """A 1-D `tf.string` tensor of `texts`; other inputs (tensors, `KerasTensor`s) are returned unchanged.

    Args:
        texts: A list or tuple of `str`, a NumPy or pandas array of strings,
            or a `tf.string` tensor.

    Returns:
        What the model's graph takes.

    Raises:
        InputTypeError: a single `str` or `bytes` (also a `TypeError`).
        InputDataError: an item that is not a string, named by its position.
    """
    import tensorflow as tf

    if hasattr(texts, "to_numpy") and not isinstance(texts, tf.Tensor):  # pandas Series, Index, one-column frame
        texts = texts.to_numpy()
    if not isinstance(texts, (str, bytes, bytearray, list, tuple, np.ndarray)):
        return texts  # tensors, KerasTensors, datasets: Keras' own business
    # The one check of texts (textclf.data.inputs): a bare str is refused, None and non-strings named by position,
    # (n, 1) arrays flattened, other shapes refused. The bare Keras model predicts any string (content=False).
    items = check_texts(texts, content=False)
    return tf.constant(items, dtype=tf.string, shape=[len(items)])


def length_batches(lengths, batch_size, max_total_length=None):
    """Row indices in batches of about equal length, shortest first (padding stays small).

    Args:
        lengths: A cheap length proxy per row (characters, tokens).
        batch_size: Most rows per batch.
        max_total_length: If given, a batch also ends before its rows would
            exceed this many times the longest of them: batches of long texts
            hold fewer rows, so one batch's tensors stay about the size of a
            batch of ordinary texts whatever the file holds (a row longer than
            this is a batch by itself).

    Returns:
        `(order, batches)`: the length-sorted row order and a list of slices of it.
    """
    lengths = np.asarray(lengths)
    order = np.argsort(lengths, kind="stable")
    if max_total_length is None:
        return order, [slice(start, start + batch_size) for start in range(0, len(order), batch_size)]
    ranked = lengths[order]
    batches, start = [], 0
    while start < len(order):
        # Sorted ascending: k rows from `start` cost k times the k-th's length; keep the most that fit.
        window = ranked[start : start + batch_size]
        fits = np.arange(1, len(window) + 1) * window <= max_total_length
        rows = max(1, int(np.count_nonzero(fits)))
        batches.append(slice(start, start + rows))
        start += rows
    return order, batches


@keras.saving.register_keras_serializable(package=KERAS_PACKAGE)
class TextModel(keras.Model):
    """A functional model from raw strings to class probabilities (see the module doc).

    Built like any functional model: `TextModel(text_input, probabilities, name=...)`.
    """

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(as_text_tensor(inputs), *args, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Class probabilities of the texts `x`, in input order.

        Args:
            x: A list of `str`, a NumPy or pandas string array, or a `tf.string` tensor.
            batch_size, verbose, steps, callbacks: As `keras.Model.predict`.
                Without `steps` or `callbacks`, texts go through
                `textclf.inference.classifier.predict_texts`, the one batched path
                (`TextClassifier.predict_proba` takes it too).

        Returns:
            float32 NumPy array `(rows, classes)`.
        """
        import tensorflow as tf

        from textclf.inference.classifier import predict_texts

        texts = as_text_tensor(x)
        if steps is not None or callbacks or not isinstance(texts, tf.Tensor) or texts.shape.rank not in (1, 2):
            return super().predict(texts, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)
        return predict_texts(self, list(tf.reshape(texts, [-1]).numpy()), batch_size or 32)
