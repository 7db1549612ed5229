"""Several labels per text: label sets, their indicator matrix, decision thresholds.

A multi-label cell holds label names joined by a separator (`joy|surprise`).
Cells are parsed once, at the boundary, into tuples of names; everything after
works on the 0/1 indicator matrix whose columns follow the model's label order.
Per-label thresholds are chosen on validation, each maximizing that label's F1.
"""

from __future__ import annotations

import numpy as np

from textclf.errors import ConfigError, InputDataError

DEFAULT_SEPARATOR = "|"
# Thresholds are searched on this grid; never below its floor, so a label seen
# a handful of times cannot be predicted for nearly every text.
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)
# A label with fewer validation positives than this keeps the neutral 0.5: its
# F1-optimal threshold would be fitted to one or two examples.
MIN_POSITIVES_FOR_TUNING = 5
# Single-label data "looks joined" when at least this share of the non-empty
# label cells contain the separator (and at least this many cells do).
JOINED_SHARE, JOINED_MIN_CELLS = 0.05, 3


def split_label_cells(cells, separator=DEFAULT_SEPARATOR, *, file=None, column=None, first_row=2):
    """Parses label cells into tuples of names (in first-seen order, duplicates dropped).

    Args:
        cells: The label column's cells (strings).
        separator: What joins the names in one cell.
        file, column: Named in errors.
        first_row: The spreadsheet row of `cells[0]` (the header is row 1).

    Returns:
        A list of tuples of label names, one per cell.

    Raises:
        InputDataError: an empty cell or an empty part (`a||b`, `a|`).
    """
    if not isinstance(separator, str) or not separator:
        raise ConfigError(f"the label separator must be a non-empty string. Received: {separator!r}")
    label_sets = []
    for index, cell in enumerate(cells):
        parts = [part.strip() for part in str(cell).split(separator)]
        if not any(parts):
            raise InputDataError("label is empty; a multi-label row needs at least one label",
                                 file=file, row=first_row + index, column=column)
        if not all(parts):
            raise InputDataError(f"empty label between separators {separator!r} in {cell!r}",
                                 file=file, row=first_row + index, column=column)
        label_sets.append(tuple(dict.fromkeys(parts)))
    return label_sets


def looks_joined(cells, separator=DEFAULT_SEPARATOR):
    """Whether single-label cells look like joined label sets (the separator in many cells)."""
    cells = [str(cell) for cell in cells if str(cell)]
    joined = sum(separator in cell for cell in cells)
    return joined >= JOINED_MIN_CELLS and joined >= JOINED_SHARE * len(cells)


def indicator_matrix(label_sets, labels):
    """The `(rows, len(labels))` 0/1 int matrix of `label_sets`; names not in `labels` are ignored."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(label_sets), len(labels)), dtype=np.int8)
    for row, names in enumerate(label_sets):
        for name in names:
            if name in index:
                matrix[row, index[name]] = 1
    return matrix


def join_labels(indicators, labels, separator=DEFAULT_SEPARATOR):
    """Each row of an indicator matrix as label names joined by `separator`, in label order."""
    labels = np.asarray(labels, dtype=object)
    return [separator.join(labels[np.flatnonzero(row)]) for row in np.asarray(indicators)]


def choose_thresholds(y_true, probabilities, *, grid=THRESHOLD_GRID, min_positives=MIN_POSITIVES_FOR_TUNING):
    """Per-label decision thresholds maximizing each label's F1 on validation.

    Args:
        y_true: `(rows, labels)` 0/1 indicator matrix.
        probabilities: `(rows, labels)` predicted probabilities.
        grid: Candidate thresholds (ascending); ties keep the lowest.
        min_positives: Labels with fewer positives keep 0.5.

    Returns:
        float array `(labels,)`.
    """
    y_true = np.asarray(y_true).astype(bool)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if y_true.shape != probabilities.shape:
        raise ValueError(f"y_true and probabilities must have the same shape. Received: {y_true.shape} and "
                         f"{probabilities.shape}")
    grid = np.asarray(grid, dtype=np.float64)
    # (grid, rows, labels) would be large on big validation sets: loop over labels instead.
    thresholds = np.full(y_true.shape[1], 0.5)
    for label in range(y_true.shape[1]):
        truth = y_true[:, label]
        if truth.sum() < min_positives:
            continue
        predicted = probabilities[:, label][None, :] >= grid[:, None]
        true_positives = (predicted & truth[None, :]).sum(axis=1)
        f1 = 2 * true_positives / np.maximum(predicted.sum(axis=1) + truth.sum(), 1)
        thresholds[label] = grid[int(np.argmax(f1))]
    return thresholds


def positive_weights(y_true):
    """`--class-weight balanced` for several labels: each label's positives weighted negatives/positives.

    Returns:
        float32 array `(labels,)`, 1.0 for labels without positives.
    """
    y_true = np.asarray(y_true)
    positives = y_true.sum(axis=0).astype(np.float64)
    negatives = len(y_true) - positives
    return np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0).astype(np.float32)


def multilabel_metrics(y_true, y_pred, labels):
    """Micro, macro, weighted and samples F1, subset accuracy and Hamming loss.

    Args:
        y_true, y_pred: `(rows, labels)` 0/1 indicator matrices.
        labels: Label names, in column order.

    Returns:
        A dict of floats plus `rows`.
    """
    from sklearn.metrics import accuracy_score, f1_score, hamming_loss

    def f1(average):
        return float(f1_score(y_true, y_pred, average=average, zero_division=0))

    return {
        "micro_f1": f1("micro"), "macro_f1": f1("macro"), "weighted_f1": f1("weighted"),
        "samples_f1": f1("samples"),
        "subset_accuracy": float(accuracy_score(y_true, y_pred)),
        "hamming_loss": float(hamming_loss(y_true, y_pred)),
        "labels": len(labels), "rows": int(len(y_true)),
    }


def stratification_keys(label_sets):
    """A stratum per row for a validation split of label sets: its rarest label seen at least twice.

    Stratifying by the whole set would fail on combinations seen once; by the
    rarest label, rare labels still reach both sides. Rows whose labels are
    all unique share one stratum, "", or when that has a single row, the largest.
    """
    from collections import Counter

    counts = Counter(name for names in label_sets for name in names)
    keys = []
    for names in label_sets:
        common = [name for name in names if counts[name] >= 2]
        keys.append(min(common, key=lambda name: (counts[name], name)) if common else "")
    strata = Counter(keys)
    if strata.get("", 2) < 2:
        largest = strata.most_common(1)[0][0]
        keys = [key or largest for key in keys]
    return keys
