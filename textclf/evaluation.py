"""Streaming evaluation of a saved model on a labeled CSV/TSV file."""

from __future__ import annotations

import os

import numpy as np

from textclf.data import spreadsheet_row
from textclf.errors import InputDataError
from textclf.prediction import DEFAULT_BATCH_SIZE, DEFAULT_CHUNK_SIZE, ChunkReader, _check_options, predict_chunks


def evaluate_file(classifier, input_path, report_dir, *, text_column=None, label_column=None, encoding="utf-8",
                  chunk_size=DEFAULT_CHUNK_SIZE, batch_size=DEFAULT_BATCH_SIZE, on_bad_rows="error",
                  progress=None):
    """Predicts `input_path` chunk by chunk and writes the reports.

    Memory holds two small integer codes per row (true and predicted label),
    never the texts of more than a few chunks.

    Returns:
        A dict: `metrics` (from `write_reports`), `unseen` (label -> rows, for
        labels the model does not know), `skipped` (rows left out).
    """
    from textclf.outputs import atomic_directory
    from textclf.reports import write_reports

    labels = [str(label) for label in classifier.classes_]
    text_column = text_column or classifier.metadata.get("text_column", "text")
    label_column = label_column or classifier.metadata.get("label_column", "label")
    _check_options(labels, chunk_size=chunk_size, batch_size=batch_size, top_k=0, on_bad_rows=on_bad_rows)
    reader = ChunkReader(input_path, encoding=encoding, chunk_size=chunk_size, required=(text_column, label_column))
    codes = {label: i for i, label in enumerate(labels)}  # true labels; unseen ones appended
    true_parts, pred_parts = [], []
    confidence_parts, length_parts, error_texts = [], [], {}  # error analysis: only misclassified texts are kept
    rows = skipped = 0
    for chunk, probabilities, bad in predict_chunks(
        reader, classifier, text_column=text_column, batch_size=batch_size, on_bad_rows=on_bad_rows,
    ):
        truth = chunk.frame[label_column].str.strip()
        empty = truth.eq("").to_numpy(dtype=bool)
        if empty.any() and on_bad_rows == "error":
            first = int(np.argmax(empty))
            raise InputDataError(
                "label is empty (use --on-bad-rows skip to leave such rows out)",
                file=input_path, row=spreadsheet_row(chunk.start + first), column=label_column,
            )
        keep = ~(bad | empty)
        rows += len(chunk.frame)
        skipped += int((~keep).sum())
        true_parts.append(np.array([codes.setdefault(t, len(codes)) for t in truth[keep]], dtype=np.int32))
        pred_parts.append(np.argmax(probabilities[keep], axis=1).astype(np.int32))
        texts, wrong = chunk.frame[text_column][keep], np.flatnonzero(true_parts[-1] != pred_parts[-1])
        error_texts.update(zip((sum(map(len, length_parts)) + wrong).tolist(), texts.iloc[wrong]))
        confidence_parts.append(np.max(probabilities[keep], axis=1))
        length_parts.append(texts.str.split().str.len().to_numpy(np.int32))
        if progress is not None:
            progress.update(rows, reader.bytes_read)
    if progress is not None:
        progress.close(rows, reader.bytes_read)
    y_true = np.concatenate(true_parts) if true_parts else np.zeros(0, np.int32)
    y_pred = np.concatenate(pred_parts) if pred_parts else np.zeros(0, np.int32)
    if len(y_true) == 0:
        raise InputDataError("has no rows to evaluate" + (" (all were skipped)" if skipped else ""), file=input_path)
    names = np.array(list(codes), dtype=object)  # shared string objects: 8 bytes per row
    unseen_counts = np.bincount(y_true, minlength=len(names))[len(labels):]
    unseen = {str(names[len(labels) + i]): int(n) for i, n in enumerate(unseen_counts) if n}
    evaluated_on = "standard input" if os.fspath(input_path) == "-" else os.path.basename(os.fspath(input_path))
    from textclf.reports import summarize_data

    summary = {"evaluated": summarize_data(names[y_true], np.concatenate(length_parts), unit="words")}
    with atomic_directory(report_dir, kind="reports") as tmp:
        metrics = write_reports(tmp, names[y_true], names[y_pred], labels, evaluated_on=evaluated_on,
                                texts=error_texts, confidence=np.concatenate(confidence_parts),
                                metadata=classifier.metadata, data_summary=summary, classifier=classifier)
    return {"metrics": metrics, "unseen": unseen, "skipped": skipped}
