"""The one predictor of every batch engine: a pandas batch in, the same batch with prediction columns out.

Local `textclf predict` (`textclf.inference.prediction.predict_file`) runs it chunk after chunk; the Ray engine
(`textclf.inference.ray_engine`) holds one per worker process, built from the model directory so the model is
loaded once per worker. It owns what every engine shares: which rows are bad (`bad_rows`), the option checks
(`check_options`) and the prediction columns (`prediction_columns`, `prediction_values`, `add_predictions`;
`textclf serve` uses them too), each decided by the model's task (`textclf.tasks`), so the columns, options
and error messages are the same wherever prediction runs. It imports nothing of the engines: they import it.
"""

from __future__ import annotations

import numpy as np

from textclf.data.tables import spreadsheet_row
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
        threshold, at_least_one: Multi-label models only (`Task.with_overrides`).
    """

    def __init__(self, classifier, *, text_column=None, batch_size=DEFAULT_BATCH_SIZE, probabilities=False,
                 top_k=0, on_bad_rows="error", threshold=None, at_least_one=None):
        if not hasattr(classifier, "predict_proba"):
            from textclf.inference.classifier import TextClassifier

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
        self.task = classifier.task.with_overrides(threshold, at_least_one)

    def predict(self, frame, *, file=None, rows=0):
        """Class probabilities of a batch's texts, NaN for skipped (empty) ones.

        Args:
            frame: pandas DataFrame holding the text column (its other text cells are checked for NUL bytes).
            file: The file the rows come from, for error messages, or one per row (array-like).
            rows: 0-based record index of each row in its file (array-like), or an int: that of the first.

        Returns:
            `(probabilities, bad)`: float32 `(len(frame), classes)` and a boolean mask of skipped rows.

        Raises:
            InputDataError: A row breaking the text rule (`bad_rows`), naming file, row and column.
        """
        bad = bad_rows(frame, self.text_column, self.on_bad_rows, file=file, rows=rows)
        texts = frame[self.text_column]
        probabilities = np.full((len(texts), len(self.labels)), np.nan, dtype=np.float32)
        good = ~bad
        # Checked just above, by the rule of `textclf.data.inputs`: the classifier need not check again.
        if good.all():
            probabilities[:] = self.classifier.predict_proba(texts.tolist(), self.batch_size, validate=False)
        elif good.any():
            probabilities[good] = self.classifier.predict_proba(texts[good].tolist(), self.batch_size,
                                                                validate=False)
        return probabilities, bad

    def add_columns(self, frame, probabilities, bad):
        """`frame` with the prediction columns of `probabilities` appended (`add_predictions`)."""
        return add_predictions(frame, probabilities, bad, self.labels, self.task,
                               probabilities_columns=self.probabilities, top_k=self.top_k)

    def __call__(self, frame, *, file=None, rows=0):
        """`frame` (a pandas DataFrame with the text column) with the prediction columns appended.

        Args:
            frame: The batch.
            file, rows: Where the rows come from, for error messages (see `predict`).

        Returns:
            A new DataFrame: every column of `frame`, then the prediction columns.
        """
        probabilities, bad = self.predict(frame, file=file, rows=rows)
        return self.add_columns(frame, probabilities, bad)


def _where(file, rows, index):
    """`(file, spreadsheet row)` of the batch's row `index`; `file`/`rows` are per row or of the whole batch."""
    record = rows + index if np.isscalar(rows) else int(np.asarray(rows)[index])
    where = file if file is None or isinstance(file, str) else str(np.asarray(file)[index])
    return where, spreadsheet_row(record)


def bad_rows(frame, text_column, on_bad_rows, *, file=None, rows=0):
    """Boolean array of the batch's rows whose text breaks the rule (`textclf.data.inputs`), to be skipped.

    An empty or whitespace-only text stops the run unless `on_bad_rows` is
    "skip"; a NUL byte in any text cell always does: the row is copied to the
    output, which would then hold a byte `textclf train` refuses (and NUL bytes
    mean a binary or UTF-16 file, which skipping would hide).

    Args:
        frame: The batch (pandas DataFrame).
        text_column: Its column of texts.
        on_bad_rows: "error" or "skip".
        file, rows: Where the rows come from (see `BatchPredictor.predict`).

    Returns:
        Boolean array: the rows with an empty text (under "skip").

    Raises:
        InputDataError: naming the file, row and column of the first such cell.
    """
    from pandas.api.types import is_string_dtype

    from textclf.data.inputs import EMPTY, NUL, bad_text_masks

    empty, nul = bad_text_masks(frame[text_column])
    for column in frame.columns:
        if column == text_column:
            cells = nul
        elif frame[column].dtype == object or is_string_dtype(frame[column].dtype):  # numbers hold no NUL
            cells = frame[column].astype(str).str.contains("\x00", regex=False).to_numpy(bool)
        else:
            continue
        if cells.any():
            where, row = _where(file, rows, int(np.argmax(cells)))
            raise InputDataError(NUL, file=where, row=row, column=column)
    if empty.any() and on_bad_rows == "error":
        where, row = _where(file, rows, int(np.argmax(empty)))
        raise InputDataError(f"{EMPTY} (use --on-bad-rows skip to write such rows without a prediction)",
                             file=where, row=row, column=text_column)
    return empty


def prediction_columns(labels, task, *, probabilities=False, top_k=0):
    """Names of the columns prediction appends, in order: the task's (`Task.prediction_columns`) first."""
    names = list(task.prediction_columns())
    if probabilities:
        names += [f"proba_{label}" for label in labels]
    for k in range(1, top_k + 1):
        names += [f"top{k}_label", f"top{k}_proba"]
    return names


def prediction_values(probabilities, bad, labels, task, *, probabilities_columns=False, top_k=0, decisions=None):
    """The prediction columns, named as `prediction_columns` says, each an array with one value per row.

    Args:
        probabilities: `(rows, labels)` array.
        bad: Boolean mask of skipped rows (left empty), or None.
        labels: The model's labels, in output order.
        task: The model's `textclf.tasks.Task` (overrides such as `--threshold`
            applied): its decisions give its columns (`Task.prediction_cells`).
        probabilities_columns, top_k: `--probabilities`, `--top-k`.
        decisions: `task.decide(probabilities)` when the caller already has them (else decided here).

    Returns:
        A dict from column name to array, in column order.
    """
    labels = np.asarray(labels, dtype=object)
    decisions = task.decide(probabilities) if decisions is None else decisions
    columns = task.prediction_cells(probabilities, decisions)
    skipped = bad is not None and bad.any()
    if skipped:
        for values in columns.values():
            if values.dtype == object:
                values[bad] = ""  # fresh arrays; numbers stay NaN
    if probabilities_columns:
        for j, label in enumerate(labels):
            columns[f"proba_{label}"] = probabilities[:, j]
    if top_k:
        order = np.argsort(-np.nan_to_num(probabilities, nan=-1.0), axis=1, kind="stable")[:, :top_k]
        for k in range(top_k):
            names = labels[order[:, k]]
            if skipped:
                names = names.copy()
                names[bad] = ""
            columns[f"top{k + 1}_label"] = names
            columns[f"top{k + 1}_proba"] = np.take_along_axis(probabilities, order[:, k : k + 1], axis=1)[:, 0]
    return columns


def add_predictions(frame, probabilities, bad, labels, task, *, probabilities_columns=False, top_k=0,
                    decisions=None):
    """`frame` with the prediction columns appended (skipped rows left empty; arguments as `prediction_values`)."""
    import pandas as pd

    columns = prediction_values(probabilities, bad, labels, task, probabilities_columns=probabilities_columns,
                                top_k=top_k, decisions=decisions)
    extra = pd.DataFrame(columns, index=frame.index)
    return pd.concat([frame, extra], axis=1)


def check_options(labels, *, chunk_size, batch_size, top_k, on_bad_rows):
    """Refuses out-of-range prediction options with the option's name and the value given (`ConfigError`)."""
    if chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1, got {chunk_size}")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}")
    if not 0 <= top_k <= len(labels):
        raise ConfigError(f"--top-k must be between 0 and the number of classes ({len(labels)}), got {top_k}")
    if on_bad_rows not in BAD_ROW_POLICIES:
        raise ConfigError(f"--on-bad-rows must be one of {', '.join(BAD_ROW_POLICIES)}, got {on_bad_rows!r}")
