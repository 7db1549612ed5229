"""Streaming evaluation of a saved model on a labeled CSV/TSV file."""

from __future__ import annotations

import os

import numpy as np

from textclf.data import spreadsheet_row
from textclf.errors import InputDataError
from textclf.batch_predictor import DEFAULT_BATCH_SIZE, BatchPredictor, check_options, decision_function
from textclf.prediction import DEFAULT_CHUNK_SIZE, ChunkReader, predict_chunks


def evaluate_file(classifier, input_path, report_dir, *, text_column=None, label_column=None, encoding="utf-8",
                  chunk_size=DEFAULT_CHUNK_SIZE, batch_size=DEFAULT_BATCH_SIZE, on_bad_rows="error",
                  progress=None, threshold=None, at_least_one=None):
    """Predicts `input_path` chunk by chunk and writes the reports.

    Memory holds two small integer codes per row (true and predicted label),
    never the texts of more than a few chunks. A multi-label model reads label
    cells joined by its separator (`evaluate_multilabel_chunks`).

    Args:
        threshold, at_least_one: Multi-label models only (`TextClassifier.decide`).

    Returns:
        A dict: `metrics` (from `write_reports`), `unseen` (label -> rows, for
        labels the model does not know), `skipped` (rows left out).
    """
    from textclf.outputs import atomic_directory
    from textclf.reports import write_reports

    decide = decision_function(classifier, threshold, at_least_one)
    labels = [str(label) for label in classifier.classes_]
    text_column = text_column or classifier.metadata.get("text_column", "text")
    label_column = label_column or classifier.metadata.get("label_column", "label")
    check_options(labels, chunk_size=chunk_size, batch_size=batch_size, top_k=0, on_bad_rows=on_bad_rows)
    reader = ChunkReader(input_path, encoding=encoding, chunk_size=chunk_size, required=(text_column, label_column))
    if decide is not None:
        return evaluate_multilabel_chunks(classifier, reader, report_dir, decide, text_column=text_column,
                                          label_column=label_column, batch_size=batch_size, on_bad_rows=on_bad_rows,
                                          progress=progress)
    codes = {label: i for i, label in enumerate(labels)}  # true labels; unseen ones appended
    true_parts, pred_parts = [], []
    confidence_parts, length_parts, error_texts = [], [], {}  # error analysis: only misclassified texts are kept
    rows = skipped = 0
    for chunk, probabilities, bad in predict_chunks(
        reader, BatchPredictor(classifier, text_column=text_column, batch_size=batch_size, on_bad_rows=on_bad_rows),
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


def evaluate_multilabel_chunks(classifier, reader, report_dir, decide, *, text_column, label_column, batch_size,
                               on_bad_rows, progress):
    """`evaluate_file` for a multi-label model: label cells parsed with its separator, multi-label reports.

    Memory holds, per row, its true and decided labels (one byte per label)
    and its probabilities, and the texts of rows with a wrong label.

    Raises:
        InputDataError: an empty label cell (unless skipped) or part (`a||b`),
            or a label the model does not know (its metrics would be undefined).
    """
    from textclf.multilabel import indicator_matrix, split_label_cells
    from textclf.multilabel_reports import label_sets, write_multilabel_reports
    from textclf.outputs import atomic_directory
    from textclf.reports import summarize_data

    labels = [str(label) for label in classifier.classes_]
    known, separator = set(labels), classifier.label_separator
    true_parts, pred_parts, probability_parts, length_parts, error_texts = [], [], [], [], {}
    rows = skipped = 0
    for chunk, probabilities, bad in predict_chunks(reader, BatchPredictor(
            classifier, text_column=text_column, batch_size=batch_size, on_bad_rows=on_bad_rows)):
        truth = chunk.frame[label_column].str.strip()
        empty = truth.eq("").to_numpy(dtype=bool)
        if empty.any() and on_bad_rows == "error":
            raise InputDataError("label is empty (use --on-bad-rows skip to leave such rows out)", file=reader.path,
                                 row=spreadsheet_row(chunk.start + int(np.argmax(empty))), column=label_column)
        keep = np.flatnonzero(~(bad | empty))
        sets = [split_label_cells([truth.iloc[i]], separator, file=reader.path, column=label_column,
                                  first_row=spreadsheet_row(chunk.start + i))[0] for i in keep]
        for i, names in zip(keep, sets):
            unknown = [name for name in names if name not in known]
            if unknown:
                raise InputDataError(f"label {unknown[0]!r} is not one of the model's {len(labels)} labels; a "
                                     "multi-label evaluation needs every true label known to the model",
                                     file=reader.path, row=spreadsheet_row(chunk.start + i), column=label_column)
        rows += len(chunk.frame)
        skipped += len(chunk.frame) - len(keep)
        true_parts.append(indicator_matrix(sets, labels))
        probability_parts.append(probabilities[keep])
        pred_parts.append(decide(probability_parts[-1]))
        texts = chunk.frame[text_column].iloc[keep]
        wrong = np.flatnonzero((true_parts[-1] != pred_parts[-1]).any(axis=1))
        error_texts.update(zip((sum(map(len, length_parts)) + wrong).tolist(), texts.iloc[wrong]))
        length_parts.append(texts.str.split().str.len().to_numpy(np.int32))
        if progress is not None:
            progress.update(rows, reader.bytes_read)
    if progress is not None:
        progress.close(rows, reader.bytes_read)
    if not true_parts or not sum(map(len, true_parts)):
        raise InputDataError("has no rows to evaluate" + (" (all were skipped)" if skipped else ""), file=reader.path)
    y_true, y_pred = np.concatenate(true_parts), np.concatenate(pred_parts)
    evaluated_on = "standard input" if os.fspath(reader.path) == "-" else os.path.basename(os.fspath(reader.path))
    summary = {"evaluated": summarize_data(label_sets(y_true, labels), np.concatenate(length_parts), unit="words")}
    with atomic_directory(report_dir, kind="reports") as tmp:
        metrics = write_multilabel_reports(tmp, y_true, y_pred, np.concatenate(probability_parts), labels,
                                           evaluated_on=evaluated_on, separator=separator, texts=error_texts,
                                           metadata=classifier.metadata, data_summary=summary, classifier=classifier)
    return {"metrics": metrics, "unseen": {}, "skipped": skipped}
