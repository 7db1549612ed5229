"""The trained classifier: scikit-learn style prediction over a saved model."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from textclf.errors import ModelFileError

MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
SCHEMA_VERSION = 1
VECTORIZE_BATCH = 1024  # texts per vectorizer call (bounds its transient string tensors)


class TextClassifier:
    """A trained text classifier with `predict`, `predict_proba` and `classes_`.

    Args:
        model: The end-to-end Keras model (raw strings in, probabilities out).
        metadata: The run's metadata (labels, configuration, metrics...).
    """

    def __init__(self, model, metadata):
        self.model = model
        self.metadata = metadata
        self.classes_ = np.asarray(metadata["labels"], dtype=object)
        from textclf.models.build import CLASSIFIER_NAME, VECTORIZER_NAME

        vectorization = model.get_layer(VECTORIZER_NAME)
        self.max_length = int(vectorization.get_config()["output_sequence_length"])
        self.vocabulary = vectorization.get_vocabulary()
        self._classifier = model.get_layer(CLASSIFIER_NAME)
        self._wide = self._find_wide(model, metadata)

    @functools.cached_property
    def _ragged_vectorizer(self):
        """The model's vectorization without padding (for `vectorize` and `textclf export`).

        Built on first use: prediction tokenizes in `_traced` and never needs it.
        """
        from textclf.models.build import make_vectorizer

        return make_vectorizer(self.vocabulary, ragged=True, name="ragged_vectorization")

    @staticmethod
    def _find_wide(model, metadata):
        """`(ngram_vectorizer, ngram_classifier, weight)` if the model has the n-gram branch, else None."""
        from textclf.models import wide

        names = {layer.name for layer in model.layers}
        if wide.MODEL_NAME not in names:
            return None
        weight = (metadata.get("wide") or {}).get("weight")
        if not isinstance(weight, (int, float)) or not 0 < weight <= 1:
            raise ModelFileError(
                f"{METADATA_FILE}: the model has an n-gram branch but 'wide.weight' is missing or not in (0, 1]; "
                f"the files do not belong together. Received: weight={weight!r}"
            )
        return model.get_layer(wide.VECTORIZER_NAME), model.get_layer(wide.MODEL_NAME), float(weight)

    def vectorize(self, texts):
        """Token ids of `texts` (a `tf.RaggedTensor`), as the model sees them."""
        from textclf.pipeline import vectorize_with

        return vectorize_with(self._ragged_vectorizer, list(texts), self.max_length)

    def _traced(self):
        """`(encode, deep)`: the prediction path wrapped once in `tf.function`s.

        `encode` standardizes and splits a batch of texts once, and from the
        same tokens returns the recurrent model's token ids (ragged, as row
        lengths and flat values) and, with an n-gram branch, its probabilities
        (computed sparsely, see `wide.sparse_ngram_scorer`). `deep` runs the
        recurrent classifier on a padded batch of ids.

        Calling `keras.Model.predict` on a new dataset per call builds and keeps
        new graph and iterator state each time: memory grows with the number of
        calls (e.g. chunks of a large file). These functions are traced once.
        """
        if getattr(self, "_traced_fns", None) is None:
            import tensorflow as tf

            from textclf.tokenize import glove_standardize
            from textclf.vocabulary import lookup_table

            deep = self._classifier
            deep_fn = tf.function(lambda ids: deep(ids, training=False),
                                  input_signature=[tf.TensorSpec([None, None], tf.int64)], reduce_retracing=True)
            # Index 0 is padding, 1 the out-of-vocabulary id, as in the model's TextVectorization.
            table = lookup_table(self.vocabulary[2:], first_id=2, default_id=1)
            scorer = None
            if self._wide is not None:
                from textclf.models.wide import sparse_ngram_scorer

                scorer = sparse_ngram_scorer(*self._wide[:2])
            max_length = self.max_length

            @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
            def encode(texts):
                tokens = tf.strings.split(glove_standardize(texts))
                ids = tf.ragged.map_flat_values(table.lookup, tokens[:, :max_length])
                wide = scorer(tokens) if scorer is not None else tf.zeros([tf.shape(texts)[0], 0])
                return ids.row_lengths(), ids.flat_values, wide

            self._traced_fns = (encode, deep_fn, table, scorer)
        return self._traced_fns[:2]

    def predict_proba(self, texts, batch_size=256):
        """Class probabilities, columns in the order of `classes_`.

        Args:
            texts: Sequence of `str`.
            batch_size: Texts per batch of the recurrent model.

        Returns:
            float32 array of shape `(len(texts), len(classes_))`.
        """
        import tensorflow as tf

        texts = list(texts)
        encode, deep_fn = self._traced()
        # Texts are encoded VECTORIZE_BATCH at a time: the string tensors of one
        # call take ~30 bytes per token, so small calls bound transient memory.
        lengths, values, wide = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], []
        for begin in range(0, len(texts), VECTORIZE_BATCH):
            row_lengths, flat, probabilities = encode(tf.constant(texts[begin : begin + VECTORIZE_BATCH],
                                                                  dtype=tf.string))
            lengths.append(row_lengths.numpy())
            values.append(flat.numpy())
            wide.append(probabilities.numpy())
        lengths, values = np.concatenate(lengths), np.concatenate(values)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        out = np.zeros((len(texts), len(self.classes_)), dtype=np.float32)
        # Rows sorted by length, batches right-padded to their longest row:
        # short texts are never padded to a long one's length.
        order = np.argsort(lengths, kind="stable")
        for begin in range(0, len(texts), batch_size):
            rows = order[begin : begin + batch_size]
            width = int(lengths[rows].max())
            columns = np.arange(width)
            mask = columns[None, :] < lengths[rows][:, None]
            batch = np.zeros((len(rows), width), dtype=np.int64)
            batch[mask] = values[(starts[rows][:, None] + columns[None, :])[mask]]
            out[rows] = deep_fn(tf.constant(batch)).numpy()
        if self._wide is not None and len(texts):
            from textclf.models.wide import mix

            out = mix(out, np.concatenate(wide), self._wide[2])
        return out

    def predict(self, texts, batch_size=256):
        """The most probable label of each text.

        Args:
            texts: Sequence of `str`.
            batch_size: Texts per batch.

        Returns:
            Array of labels (from `classes_`).
        """
        return self.classes_[np.argmax(self.predict_proba(texts, batch_size), axis=1)]

    def explain(self, texts, batch_size=256, max_spans=None):
        """Per-token contributions to each text's predicted class (see `textclf.explain.explain`).

        Returns:
            A list of `textclf.explain.Explanation` (tokens, scores, label, probability).
        """
        from textclf.explain import explain

        return explain(self, texts, batch_size=batch_size, max_spans=max_spans)

    def save(self, directory):
        """Writes `model.keras` and `metadata.json` into `directory` (must exist)."""
        directory = Path(directory)
        self.model.save(directory / MODEL_FILE)
        (directory / METADATA_FILE).write_text(json.dumps(self.metadata, indent=2, default=_json_default) + "\n")

    @classmethod
    def load(cls, directory):
        """Loads a model directory written by `textclf train`.

        Args:
            directory: Directory holding `model.keras` and `metadata.json`.

        Returns:
            A `TextClassifier`.

        Raises:
            ModelFileError: missing, corrupted or inconsistent files.
        """
        directory = Path(directory)
        metadata = read_metadata(directory)
        model = load_keras_model(directory / MODEL_FILE)
        classes = model.output_shape[-1]
        if classes != len(metadata["labels"]):
            raise ModelFileError(
                f"{directory / METADATA_FILE}: lists {len(metadata['labels'])} labels but "
                f"{directory / MODEL_FILE} outputs {classes} classes; the files do not belong together"
            )
        return cls(model, metadata)


def read_metadata(directory):
    """Reads and checks `metadata.json` of a model directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFileError(f"{directory}: model directory not found")
    path = directory / METADATA_FILE
    if not path.is_file():
        raise ModelFileError(f"{path}: file not found; is {directory} a textclf model directory?")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("labels"), list) or not metadata["labels"]:
        raise ModelFileError(f"{path}: has no 'labels' list")
    return metadata


def load_keras_model(path):
    """`keras.saving.load_model` with `safe_mode=True` and one-line errors.

    A model holding code (a `Lambda` layer, an unregistered function) is
    refused by Keras' safe mode and reported, never executed.
    """
    import keras

    from textclf.keras_objects import register_keras_objects

    register_keras_objects()
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: file not found")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 - any failure to load is one message
        reason = " ".join(str(exc).split())
        if "safe_mode" in reason or "Lambda" in reason:
            reason = "it contains code (e.g. a Lambda layer), which textclf refuses to execute"
        raise ModelFileError(f"{path}: cannot be loaded as a Keras model: {reason[:300]}") from None


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
