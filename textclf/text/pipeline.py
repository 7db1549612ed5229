"""tf.data pipelines: vectorize once, bucket by length, predict in input order.

Vectorization runs outside the model during training, once per text; batches
are then bucketed by length so a batch of short texts is not padded to the
longest text of the corpus. Padding is always on the right, as cuDNN requires.
"""

from __future__ import annotations

import numpy as np

BUCKET_BOUNDARIES = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


def vectorize(texts, vocabulary, max_length, batch_size=8192):
    """Token ids of `texts`, truncated to `max_length`, as a `tf.RaggedTensor`.

    Args:
        texts: Sequence of `str`.
        vocabulary: Vocabulary as `TextVectorization.get_vocabulary()` returns it.
        max_length: Tokens kept from the start of each text.
        batch_size: Texts vectorized per call (bounds memory).

    Returns:
        An int64 `tf.RaggedTensor` of shape `(len(texts), None)`.
    """
    from textclf.models.build import make_vectorizer

    layer = make_vectorizer(vocabulary, ragged=True, name="ragged_vectorization")
    return vectorize_with(layer, texts, max_length, batch_size)


def vectorize_with(layer, texts, max_length, batch_size=8192):
    """Like `vectorize`, with an existing ragged `TextVectorization` layer."""
    import tensorflow as tf

    parts = []
    for start in range(0, len(texts), batch_size):
        batch = tf.constant(list(texts[start : start + batch_size]), dtype=tf.string)
        parts.append(layer(batch)[:, :max_length])
    if not parts:
        return tf.ragged.constant([], dtype=tf.int64, ragged_rank=1)
    return tf.concat(parts, axis=0) if len(parts) > 1 else parts[0]


def _row_getter(ids):
    """A function from row number to that row's ids as a dense 1-D tensor.

    (Slicing a RaggedTensor in tf.data yields ragged elements, which
    `padded_batch` and bucketing refuse; slicing its flat values does not.)
    """
    values, splits = ids.flat_values, ids.row_splits

    def row(i):
        return values[splits[i] : splits[i + 1]]

    return row


def _boundaries(max_length):
    return [b for b in BUCKET_BOUNDARIES if b < max_length] + [max_length + 1]


def batches_per_epoch(lengths, batch_size, max_length):
    """Batches of one epoch of `training_dataset`: per length bucket, the last one partial.

    Bucket sizes depend only on lengths, not on the shuffle order, so this is
    known before training (it gives Keras its `steps_per_epoch`).
    """
    bucket_of = np.searchsorted(_boundaries(max_length), np.asarray(lengths), side="right")
    return int(sum(-(-np.sum(bucket_of == b) // batch_size) for b in np.unique(bucket_of)))


def training_dataset(ids, labels, *, batch_size, max_length, shuffle, seed, sample_weights=None, epochs=(0, 1)):
    """Batches bucketed by length, for `fit`: the epochs `range(*epochs)` one after the other.

    Epoch `e` is shuffled by a stateless shuffle seeded with `(seed, e)`, so
    its order depends on nothing but the seed and its number: a resumed run
    starts its dataset at the next epoch and sees what an uninterrupted run
    sees, without replaying anything.

    Args:
        ids: `tf.RaggedTensor` of token ids.
        labels: int array of class indices, or a float `(rows, labels)` 0/1 matrix (several labels per text).
        batch_size: Examples per batch.
        max_length: Longest sequence.
        shuffle: Shuffle each epoch (deterministically from `seed` and the epoch).
        seed: Shuffle seed.
        sample_weights: Optional float array.
        epochs: `(first, stop)`: the epochs the dataset holds, `batches_per_epoch`
            batches each (pass `steps_per_epoch` to `fit`).

    Returns:
        A `tf.data.Dataset` of `(ids, labels[, weights])` with known cardinality.
    """
    import tensorflow as tf

    lengths = ids.row_lengths().numpy()
    labels = tf.constant(np.asarray(labels, dtype=np.float32 if np.ndim(labels) == 2 else np.int64))
    weights = None if sample_weights is None else tf.constant(np.asarray(sample_weights, dtype=np.float32))
    row = _row_getter(ids)
    boundaries = _boundaries(max_length)
    rows = tf.range(len(lengths), dtype=tf.int64)

    def one_epoch(epoch):
        order = rows
        if shuffle:  # shuffle row numbers, which is cheap, then fetch the rows
            order = tf.random.experimental.stateless_shuffle(rows, seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        ds = tf.data.Dataset.from_tensor_slices(order)
        if weights is None:
            ds = ds.map(lambda i: (row(i), labels[i]))
        else:
            ds = ds.map(lambda i: (row(i), labels[i], weights[i]))
        return ds.bucket_by_sequence_length(
            element_length_func=lambda x, *rest: tf.shape(x)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padded_shapes=None,
            pad_to_bucket_boundary=False,
            drop_remainder=False,
        )

    first, stop = epochs
    ds = tf.data.Dataset.range(first, stop).flat_map(one_epoch)
    steps = batches_per_epoch(lengths, batch_size, max_length) * (stop - first)
    ds = ds.apply(tf.data.experimental.assert_cardinality(steps))
    return ds.prefetch(tf.data.AUTOTUNE)


def length_sorted_dataset(ids, batch_size):
    """Batches of `ids` in order of length (for prediction), and that order.

    Returns:
        `(dataset, order)`: the dataset yields padded id batches in the order
        `order`; `outputs[order] = predictions` puts results back in input order.
    """
    import tensorflow as tf

    lengths = ids.row_lengths().numpy()
    order = np.argsort(lengths, kind="stable")
    row = _row_getter(ids)
    ds = tf.data.Dataset.from_tensor_slices(order.astype(np.int64)).map(row).padded_batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE), order


class SortedBatches:
    """Padded batches of `ids` in order of length, made once and predicted with as often as needed.

    Validation predicts the same rows after every epoch (`textclf.training.stopping.ValidationScores`):
    in a profiled TREC run those predictions took 9% of the run, a sixth of
    it in building a new tf.data pipeline for each; `predict_on_batch` on
    ready batches also skips Keras' iterator over a dataset.

    Args:
        ids: `tf.RaggedTensor` of token ids.
        batch_size: Rows per batch.
    """

    def __init__(self, ids, batch_size=256):
        self.rows = int(ids.nrows())
        self.batches, self.order = [], np.zeros(0, dtype=np.int64)
        if self.rows:
            ds, self.order = length_sorted_dataset(ids, batch_size)
            self.batches = list(ds)

    def predict(self, classifier):
        """`classifier`'s probabilities for the rows, in input order: float32 `(rows, classes)`."""
        out = np.zeros((self.rows, classifier.output_shape[-1]), dtype=np.float32)
        if self.batches:
            out[self.order] = np.concatenate([classifier.predict_on_batch(batch) for batch in self.batches])
        return out
