"""The one predictor of every batch engine: a pandas batch in, the same batch with prediction columns out.

Local `textclf predict` (`textclf.prediction.predict_file`) runs it chunk after chunk; the Ray engine
(`textclf.ray_engine`) holds one per worker process, built from the model directory so the model is
loaded once per worker. It is a thin layer over `TextClassifier.predict_proba`,
`textclf.prediction.bad_rows`, `decision_function` and `add_predictions`: the columns, options and
error messages are those of local prediction wherever it runs.
"""

from __future__ import annotations

import numpy as np

from textclf.data import spreadsheet_row
from textclf.errors import InputDataError
from textclf.prediction import BAD_ROW_POLICIES, DEFAULT_BATCH_SIZE, add_predictions, bad_rows, decision_function


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
