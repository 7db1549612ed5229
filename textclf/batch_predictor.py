"""The one predictor of every batch engine: a pandas batch in, the same batch with prediction columns out.

Local `textclf predict` (`textclf.prediction.predict_file`) runs it chunk after chunk; the Ray engine
(`textclf.ray_engine`) holds one per worker process, built from the model directory so the model is
loaded once per worker. It owns what every engine shares: which rows are bad (`bad_rows`), the option checks
(`check_options`), the multi-label decision (`decision_function`) and the prediction columns
(`prediction_columns`, `add_predictions`; `textclf serve` uses them too), so the columns, options and
error messages are the same wherever prediction runs. It imports nothing of the engines: they import it.
"""

from __future__ import annotations

import numpy as np

from textclf.data import spreadsheet_row
from textclf.errors import ConfigError, InputDataError

DEFAULT_BATCH_SIZE = 256
BAD_ROW_POLICIES = ("error", "skip")


class BatchPredictor:
    """Predicts pandas batches with one loaded classifier.

    Args:
        classifier: A `TextClassifier`, or a model directory to load one from.
        text_column: Column of texts (default: the model's).
        batch_size: Most rows per model batch.
        probabilities: Add one `proba_<label>` column per class.
        top_k: Add `top<k>_label`/`top<k>_proba` for the k best classes.
        on_bad_rows: "error" (raise at the first empty text) or "skip" (empty prediction).
        threshold, at_least_one: Multi-label models only (`decision_function`).
    """

    def __init__(self, classifier, *, text_column=None, batch_size=DEFAULT_BATCH_SIZE, probabilities=False,
                 top_k=0, on_bad_rows="error", threshold=None, at_least_one=None):
        if not hasattr(classifier, "predict_proba"):
            from textclf.classifier import TextClassifier

            classifier = TextClassifier.load(classifier)
        if on_bad_rows not in BAD_ROW_POLICIES:
            raise ValueError(f"on_bad_rows must be one of {BAD_ROW_POLICIES}, got {on_bad_rows!r}")
        self.classifier = classifier
        self.labels = [str(label) for label in classifier.classes_]
        self.text_column = text_column or classifier.metadata.get("text_column", "text")
        self.batch_size = batch_size
        self.probabilities = probabilities
        self.top_k = top_k
        self.on_bad_rows = on_bad_rows
        self.decide = decision_function(classifier, threshold, at_least_one)

    def predict(self, texts, *, file=None, rows=None):
        """Class probabilities of a Series of texts, NaN for skipped (empty) ones.

        Args:
            texts: pandas Series of strings.
            file: The file the texts come from, for the error message, or one per text (array-like).
            rows: 0-based record index of each text in its file (array-like), or an int: that of the first.

        Returns:
            `(probabilities, bad)`: float32 `(len(texts), classes)` and a boolean mask of skipped rows.

        Raises:
            InputDataError: An empty text under `on_bad_rows="error"`, naming file, row and column.
        """
        bad = bad_rows(texts)
        probabilities = np.full((len(texts), len(self.labels)), np.nan, dtype=np.float32)
        if bad.any() and self.on_bad_rows == "error":
            first = int(np.argmax(bad))
            record = (rows or 0) + first if rows is None or np.isscalar(rows) else np.asarray(rows)[first]
            raise InputDataError(
                "text is empty or whitespace only (use --on-bad-rows skip to write such rows without a prediction)",
                file=file if file is None or isinstance(file, str) else np.asarray(file)[first],
                row=spreadsheet_row(record), column=self.text_column,
            )
        good = ~bad
        if good.all():
            probabilities[:] = self.classifier.predict_proba(texts.tolist(), self.batch_size)
        elif good.any():
            probabilities[good] = self.classifier.predict_proba(texts[good].tolist(), self.batch_size)
        return probabilities, bad

    def add_columns(self, frame, probabilities, bad):
        """`frame` with the prediction columns of `probabilities` appended (`add_predictions`)."""
        return add_predictions(frame, probabilities, bad, self.labels, probabilities_columns=self.probabilities,
                               top_k=self.top_k, decide=self.decide, separator=self.classifier.label_separator)

    def __call__(self, frame, *, file=None, rows=None):
        """`frame` (a pandas DataFrame with the text column) with the prediction columns appended.

        Args:
            frame: The batch.
            file, rows: Where the rows come from, for error messages (see `predict`).

        Returns:
            A new DataFrame: every column of `frame`, then the prediction columns.
        """
        probabilities, bad = self.predict(frame[self.text_column], file=file, rows=rows)
        return self.add_columns(frame, probabilities, bad)


def bad_rows(texts):
    """Boolean array: empty or whitespace-only cells of a string Series (no stripped copy of the texts is made)."""
    return (texts.str.len().eq(0) | texts.str.isspace()).to_numpy(dtype=bool)


def prediction_columns(labels, *, probabilities=False, top_k=0, multi_label=False):
    """Names of the columns prediction appends, in order (a multi-label model: `predicted_labels` first)."""
    names = ["predicted_labels"] if multi_label else ["predicted_label", "confidence"]
    if probabilities:
        names += [f"proba_{label}" for label in labels]
    for k in range(1, top_k + 1):
        names += [f"top{k}_label", f"top{k}_proba"]
    return names


def add_predictions(frame, probabilities, bad, labels, *, probabilities_columns=False, top_k=0, decide=None,
                    separator="|"):
    """`frame` with the prediction columns appended (skipped rows left empty).

    Args:
        decide: For a multi-label model, its `TextClassifier.decide` (thresholds
            bound): `predicted_labels` holds the labels it gives each row, joined
            by `separator` in label order (empty when none passes).
    """
    import pandas as pd

    labels = np.asarray(labels, dtype=object)
    best = np.argmax(np.nan_to_num(probabilities, nan=-1.0), axis=1)
    if decide is not None:
        from textclf.multilabel import join_labels

        predicted = np.asarray(join_labels(decide(np.nan_to_num(probabilities, nan=0.0)), labels, separator),
                               dtype=object)
        columns = {"predicted_labels": predicted}
    else:
        predicted = labels[best]
        columns = {
            "predicted_label": predicted,
            "confidence": probabilities[np.arange(len(best)), best] if len(best) else np.zeros(0, np.float32),
        }
    if bad is not None and bad.any():
        predicted[bad] = ""  # a fresh array either way
    if probabilities_columns:
        for j, label in enumerate(labels):
            columns[f"proba_{label}"] = probabilities[:, j]
    if top_k:
        order = np.argsort(-np.nan_to_num(probabilities, nan=-1.0), axis=1, kind="stable")[:, :top_k]
        for k in range(top_k):
            names = labels[order[:, k]]
            if bad is not None and bad.any():
                names = names.copy()
                names[bad] = ""
            columns[f"top{k + 1}_label"] = names
            columns[f"top{k + 1}_proba"] = np.take_along_axis(probabilities, order[:, k : k + 1], axis=1)[:, 0]
    extra = pd.DataFrame(columns, index=frame.index)
    return pd.concat([frame, extra], axis=1)


def decision_function(classifier, threshold=None, at_least_one=None):
    """A multi-label model's `decide` with `threshold` and `at_least_one` bound; None for a single-label model.

    Raises:
        ConfigError: `threshold` or `at_least_one` given for a single-label model, or a threshold outside [0, 1].
    """
    if not classifier.multi_label:
        if threshold is not None or at_least_one is not None:
            raise ConfigError("--threshold and --at-least-one apply to multi-label models (trained with "
                              "--multi-label); this model predicts one label per text")
        return None
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"--threshold must be between 0 and 1, got {threshold}")
    return lambda probabilities: classifier.decide(probabilities, threshold, at_least_one)


def check_options(labels, *, chunk_size, batch_size, top_k, on_bad_rows):
    if chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1, got {chunk_size}")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}")
    if not 0 <= top_k <= len(labels):
        raise ConfigError(f"--top-k must be between 0 and the number of classes ({len(labels)}), got {top_k}")
    if on_bad_rows not in BAD_ROW_POLICIES:
        raise ConfigError(f"--on-bad-rows must be one of {', '.join(BAD_ROW_POLICIES)}, got {on_bad_rows!r}")
