"""The validation split taken from the training data when no `--validation` file is given."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from textclf.errors import InputDataError
from textclf.data.overlap import find_overlap


@dataclass(frozen=True)
class Split:
    """Row indices of the two parts (ascending) and how overlap was handled."""

    train_rows: np.ndarray
    validation_rows: np.ndarray
    documents: int
    overlapping_rows: int

    def describe(self, fraction, path):
        """The `metadata.json` wording of where validation came from."""
        text = f"stratified {fraction:g} split of {path}"
        if self.overlapping_rows:
            text += (f", grouped by document: {self.overlapping_rows} rows repeat or lie inside another row "
                     f"and go to the side of the {self.documents} documents containing them")
        return text


def split_validation(texts, labels, fraction, seed, path, overlap=None):
    """Stratified train/validation split, over rows or over documents.

    With `overlap=no_overlap(len(texts))` every row is its own document: the
    plain stratified split of the rows (`--validation-split-by rows`).

    The split draws `fraction` of the documents (texts inside no other text,
    see `textclf.data.overlap`), stratified by label. A duplicate row goes with its
    text; a row lying inside documents goes to validation only when all of them
    did (a phrase shared with a training document stays in training, as a
    common phrase of an unseen test text would be known). Without duplicates
    or contained texts this is exactly a stratified split of the rows.

    Args:
        texts: Sequence of str.
        labels: Label per text.
        fraction: Share of the documents drawn for validation.
        seed: Random seed.
        path: Training file, for error messages.
        overlap: What to group: `find_overlap(texts)` (computed when None) or
            `no_overlap(len(texts))`.

    Returns:
        A `Split`.

    Raises:
        InputDataError: a class has too few examples to appear in both parts.
    """
    from sklearn.model_selection import train_test_split

    counts = Counter(labels)
    _check_rows_per_class(counts, path)
    overlap = overlap if overlap is not None else find_overlap(texts)
    documents = overlap.documents
    doc_labels = [labels[row] for row in overlap.first_rows[documents]]
    _check_documents_per_class(counts, Counter(doc_labels), path)
    n_val = _validation_size(len(counts), len(documents), len(labels), fraction, path)
    _, val_docs = train_test_split(
        np.arange(len(documents)), test_size=n_val, stratify=doc_labels, random_state=seed
    )
    in_validation = np.zeros(len(overlap.roots), dtype=bool)
    in_validation[documents[val_docs]] = True
    text_in_validation = np.array([all(in_validation[r] for r in roots) for roots in overlap.roots], dtype=bool)
    row_in_validation = text_in_validation[overlap.text_ids]
    return Split(
        np.flatnonzero(~row_in_validation), np.flatnonzero(row_in_validation), len(documents), overlap.overlapping_rows
    )


def _check_rows_per_class(counts, path):
    """Refuses a class with a single row: it cannot be on both sides."""
    rare = sorted(label for label, n in counts.items() if n < 2)
    if rare:
        raise InputDataError(
            f"class {rare[0]!r} has a single example; a stratified validation split needs at "
            "least 2 per class (add examples, drop the class, or pass --validation FILE)",
            file=path,
        )


def _check_documents_per_class(counts, doc_counts, path):
    """Refuses a class with fewer than 2 documents: its rows would all fall on one side."""
    single = sorted(label for label in counts if doc_counts[label] < 2)
    if single:
        label = single[0]
        held = "no document of its own (every one lies inside another row)" if doc_counts[label] == 0 else (
            "a single distinct text (repeated, or phrases of one document)")
        raise InputDataError(
            f"class {label!r} has {counts[label]} rows but {held}; a validation split by documents "
            "needs at least 2 documents per class (add examples, use --validation-split-by rows, or pass "
            "--validation FILE)",
            file=path,
        )


def _validation_size(n_classes, n_documents, n_rows, fraction, path):
    """Documents drawn for validation: `fraction` of them, at least one per class, leaving one per class."""
    n_val = max(n_classes, int(round(fraction * n_documents)))
    if n_documents - n_val < n_classes:
        what = f"rows ({n_rows})" if n_documents == n_rows else (
            f"distinct texts ({n_documents} documents in {n_rows} rows)")
        raise InputDataError(
            f"too few {what} for a validation split over {n_classes} classes (add examples or pass "
            "--validation FILE)",
            file=path,
        )
    return n_val


def unseen_documents(overlap, train_rows, validation_rows):
    """Which validation rows the choices that compare models are scored on.

    Predictions are made on unseen documents, so choices such as the n-gram
    mixing weight are scored on the validation rows that are documents (inside
    no other row) and whose text no training row repeats: a row split leaks
    both sub-phrases and copies of training rows into validation. When no
    validation row qualifies, all are scored.

    Args:
        overlap: `find_overlap` of all the training file's texts.
        train_rows: Row indices of the training part.
        validation_rows: Row indices of the validation part.

    Returns:
        A bool array, one entry per validation row.
    """
    validation_rows = np.asarray(validation_rows, dtype=np.int64)
    scored = np.isin(validation_rows, overlap.document_rows) & ~np.isin(
        overlap.text_ids[validation_rows], overlap.text_ids[np.asarray(train_rows, dtype=np.int64)]
    )
    return scored if scored.any() else np.ones(len(validation_rows), dtype=bool)
