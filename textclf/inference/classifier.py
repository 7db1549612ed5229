"""The trained classifier: scikit-learn style prediction over a saved model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from textclf.errors import ModelFileError
from textclf.data.inputs import check_texts
from textclf.runtime.memory import release_freed_memory

MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
# A batch of predict_proba holds at most batch_size x this many characters: the n-gram branch and the
# tokenizer see whole texts, so a batch of 256 of the longest reviews held several times the tensors of an
# ordinary one and set the peak memory of a file. 1,024 (about IMDB's median review) keeps that peak level
# from 100,000 to 500,000 rows at 14% more time; 2,048 cost 2% but the peak still crept up with the file
# (benchmarks/RESULTS.md).
BATCH_CHARACTERS_PER_ROW = 1_024
TRIM_EVERY_BATCHES = 8  # predict_proba returns freed memory to the OS this often (textclf.runtime.memory)


class TextClassifier:
    """A trained text classifier with `predict`, `predict_proba` and `classes_`.

    Every prediction is a call of `model`, the saved end-to-end Keras model,
    through `predict_texts`. What the probabilities mean and how they become
    decisions is the model's `task` (`textclf.tasks`, rebuilt from
    `metadata.json`): one label per text, or a set of labels with per-label
    thresholds.

    Args:
        model: The end-to-end Keras model (raw strings in, probabilities out).
        metadata: The run's metadata (labels, configuration, metrics...).
    """

    def __init__(self, model, metadata):
        self.model = model
        self.metadata = metadata
        self.classes_ = np.asarray(metadata["labels"], dtype=object)
        from textclf.tasks import from_metadata

        self.task = from_metadata(metadata)

    @property
    def multi_label(self):
        """Whether the model gives each text a set of labels (sigmoid outputs) rather than one."""
        return self.task.name == "multi_label"

    @property
    def label_separator(self):
        """What joins the labels of one text in label cells (multi-label models; "|" otherwise)."""
        return getattr(self.task, "separator", "|")

    @property
    def thresholds(self):
        """float array of the per-label decision thresholds chosen on validation (0.5 where none is stored)."""
        return getattr(self.task, "thresholds", np.full(len(self.classes_), 0.5))

    def decide(self, probabilities, threshold=None, at_least_one=None):
        """The task's decisions for `predict_proba`'s probabilities (`textclf.tasks.Task.decide`).

        Args:
            probabilities: `(rows, labels)` from `predict_proba`.
            threshold: Multi-label: one threshold for every label, overriding the stored per-label ones.
            at_least_one: Multi-label: a row where no label passes takes its most
                probable label; None: as recorded at training (`--at-least-one`).

        Returns:
            Class indices `(rows,)`, or for a multi-label model the int8 0/1 matrix `(rows, labels)`.
        """
        return self.task.with_overrides(threshold, at_least_one).decide(probabilities)

    @property
    def vocabulary(self):
        """The model's token vocabulary, as `TextVectorization.get_vocabulary()` returns it."""
        from textclf.models.build import VECTORIZER_NAME

        return self.model.get_layer(VECTORIZER_NAME).get_vocabulary()

    @property
    def max_length(self):
        """Tokens of a text the recurrent model reads (the rest is cut off)."""
        from textclf.models.build import TRUNCATION_NAME, VECTORIZER_NAME

        names = {layer.name for layer in self.model.layers}
        if TRUNCATION_NAME in names:
            return self.model.get_layer(TRUNCATION_NAME).max_length
        # Models saved before FirstTokens existed pad and cut in their TextVectorization.
        return int(self.model.get_layer(VECTORIZER_NAME).get_config()["output_sequence_length"])

    def vectorize(self, texts):
        """Token ids of `texts` (a `tf.RaggedTensor`), as the recurrent model sees them."""
        from textclf.text.pipeline import vectorize

        return vectorize(list(texts), self.vocabulary, self.max_length)

    def predict_proba(self, texts, batch_size=256, *, validate=True):
        """Class probabilities, columns in the order of `classes_` (`predict_texts`, the one batched path).

        Args:
            texts: A list, tuple, NumPy array (1-D, or 2-D of shape (n, 1)) or pandas Series of `str` (a single
                `str` is refused).
            batch_size: Texts per batch of the recurrent model.
            validate: Refuse empty, whitespace-only and NUL-bearing texts as the command line does
                (`textclf.data.inputs`); False only checks types (explanations pass occluded texts, which may be empty).

        Returns:
            float32 array of shape `(len(texts), len(classes_))`.

        Raises:
            InputDataError: a text that is not a string or breaks the rule, named by its index (`texts[3]`).
        """
        return predict_texts(self.model, check_texts(texts, content=validate), batch_size)  # check: textclf.data.inputs

    def predict(self, texts, batch_size=256, *, threshold=None, at_least_one=None):
        """The task's decision for each text: its most probable label, or for a multi-label model its set of labels.

        Args:
            texts: As for `predict_proba` (the same rule applies).
            batch_size: Texts per batch.
            threshold, at_least_one: Multi-label models only: see `decide`.

        Returns:
            Array of labels (from `classes_`); for a multi-label model, a list
            with a tuple of labels per text, in the order of `classes_` (maybe empty).
        """
        texts = check_texts(texts)  # a list of str, or one clear error (textclf.data.inputs)
        task = self.task.with_overrides(threshold, at_least_one)
        return task.values(task.decide(self.predict_proba(texts, batch_size, validate=False)))  # checked above

    def explain(self, texts, batch_size=256, max_spans=None):
        """Per-token contributions to each text's predicted class (see `textclf.inference.explain.explain`).

        Returns:
            A list of `textclf.inference.explain.Explanation` (tokens, scores, label, probability).
        """
        from textclf.inference.explain import explain

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


_PREDICTORS = "_textclf_predict_batch"  # where a model keeps its traced batch function (not a Keras attribute)


def predict_texts(model, texts, batch_size=256):
    """The one batched path from texts to probabilities, for `TextClassifier` and `TextModel.predict` alike.

    Rows are sorted by length and cut into batches of `batch_size` (fewer
    rows for long texts: at most `batch_size` x 1,024 characters), so each
    batch is padded only to about its own length, then run through `model`
    by one `tf.function` traced once per model: `keras.Model.predict` per call
    would build and keep new dataset and graph state each time, and memory
    would grow over the chunks of a file.

    Args:
        model: An end-to-end Keras model (raw strings in).
        texts: A list of `str` (or `bytes`), already checked.
        batch_size: Most texts per batch.

    Returns:
        float32 array `(len(texts), outputs)`, in input order.
    """
    import tensorflow as tf

    from textclf.models.text_model import length_batches

    predict_batch = model.__dict__.get(_PREDICTORS)
    if predict_batch is None:
        predict_batch = tf.function(lambda batch: model(batch, training=False),
                                    input_signature=[tf.TensorSpec([None], tf.string)])
        # A plain holder, set past Keras' attribute tracking: not a layer, not saved with the model.
        object.__setattr__(model, _PREDICTORS, _Holder(predict_batch))
    else:
        predict_batch = predict_batch.function
    out = np.zeros((len(texts), model.output_shape[-1]), dtype=np.float32)
    order, batches = length_batches([len(text) for text in texts], batch_size,
                                    max_total_length=batch_size * BATCH_CHARACTERS_PER_ROW)
    for number, batch in enumerate(batches, start=1):
        rows = order[batch]
        out[rows] = predict_batch(tf.constant([texts[row] for row in rows], dtype=tf.string)).numpy()
        if number % TRIM_EVERY_BATCHES == 0:
            release_freed_memory()  # else freed memory piles up in glibc's per-thread arenas
    return out


class _Holder:
    """Holds a traced function out of sight of TensorFlow's tracking (which would save a bare `tf.function`)."""

    def __init__(self, function):
        self.function = function


def read_metadata(directory):
    """Reads and checks `metadata.json` of a model directory (older schemas upgraded, see `textclf.artifacts.metadata`)."""
    from textclf.artifacts import metadata

    return metadata.load(directory)


def check_model_archive(path):
    """`path` as a `Path` if it is a `.keras` archive (a zip file), else a `ModelFileError` saying what it is.

    Keras answers "File not found" for a file that is there but damaged; this check needs no TensorFlow.
    """
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: file not found")
    if not zipfile.is_zipfile(path):
        size = path.stat().st_size
        raise ModelFileError(f"{path}: cannot be loaded as a Keras model: it is not a valid .keras archive (a zip "
                             f"file; these {size:,} bytes have no zip directory: truncated or damaged?); train the "
                             "model again or restore the file")
    return path


def load_keras_model(path):
    """`keras.saving.load_model` with `safe_mode=True` and one-line errors.

    A model holding code (a `Lambda` layer, an unregistered function) is
    refused by Keras' safe mode and reported, never executed.
    """
    import keras

    from textclf.models.keras_objects import register_keras_objects

    register_keras_objects()
    path = check_model_archive(path)
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 - any failure to load is one message
        reason = " ".join(str(exc).split())
        if "safe_mode" in reason or "Lambda" in reason:
            reason = "it contains code (e.g. a Lambda layer), which textclf refuses to execute"
        from textclf.artifacts.compat import newer_keras_note

        note = newer_keras_note(path)
        reason = f"{note} ({reason[:200]})" if note else reason[:300]
        raise ModelFileError(f"{path}: cannot be loaded as a Keras model: {reason}") from None


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
