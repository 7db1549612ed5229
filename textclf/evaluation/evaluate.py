"""Streaming evaluation of a saved model on a labeled CSV/TSV file."""

from __future__ import annotations

import os

import numpy as np

from textclf.data.tables import spreadsheet_row
from textclf.errors import InputDataError
from textclf.inference.batch_predictor import DEFAULT_BATCH_SIZE, BatchPredictor, check_options
from textclf.inference.prediction import DEFAULT_CHUNK_SIZE, ChunkReader, predict_chunks


def evaluate_file(classifier, input_path, report_dir, *, text_column=None, label_column=None, encoding="utf-8",
                  chunk_size=DEFAULT_CHUNK_SIZE, batch_size=DEFAULT_BATCH_SIZE, on_bad_rows="error",
                  progress=None, threshold=None, at_least_one=None):
    """Predicts `input_path` chunk by chunk and writes the reports, for any task.

    The model's task (`textclf.tasks`) reads the label cells, decides and
    keeps what its reports need: memory holds per row its encoded truth and
    decision (two small integer codes for one label per text, a byte per
    label for several) and the task's `kept_scores`, and the texts of the
    wrong rows only.

    Args:
        threshold, at_least_one: Multi-label models only (`Task.with_overrides`).

    Returns:
        A dict: `metrics` (from `reports.write_reports`), `unseen` (label -> rows,
        for labels the model does not know), `skipped` (rows left out).
    """
    from textclf.artifacts.outputs import atomic_directory
    from textclf.evaluation.reports import summarize_data, write_reports

    task = classifier.task.with_overrides(threshold, at_least_one)
    text_column = text_column or classifier.metadata.get("text_column", "text")
    label_column = label_column or classifier.metadata.get("label_column", "label")
    check_options(task.labels, chunk_size=chunk_size, batch_size=batch_size, top_k=0, on_bad_rows=on_bad_rows)
    reader = ChunkReader(input_path, encoding=encoding, chunk_size=chunk_size, required=(text_column, label_column))
    truth = task.truth()
    parts, skipped = _read_and_decide(reader, classifier, task, truth, text_column, label_column, batch_size,
                                      on_bad_rows, progress)
    if not parts["truth"] or not sum(map(len, parts["truth"])):
        raise InputDataError("has no rows to evaluate" + (" (all were skipped)" if skipped else ""), file=input_path)
    y_true, decisions = np.concatenate(parts["truth"]), np.concatenate(parts["decisions"])
    evaluated_on = "standard input" if os.fspath(input_path) == "-" else os.path.basename(os.fspath(input_path))
    summary = {"evaluated": summarize_data(task.values(y_true, truth.labels), np.concatenate(parts["lengths"]),
                                           unit="words")}
    with atomic_directory(report_dir, kind="reports") as tmp:
        metrics = write_reports(tmp, task, y_true, decisions, np.concatenate(parts["scores"]), labels=truth.labels,
                                evaluated_on=evaluated_on, texts=parts["errors"], metadata=classifier.metadata,
                                data_summary=summary, classifier=classifier)
    return {"metrics": metrics, "unseen": truth.unseen(y_true), "skipped": skipped}


def _read_and_decide(reader, classifier, task, truth, text_column, label_column, batch_size, on_bad_rows, progress):
    """The one evaluation loop: per chunk the rows kept, their truth, decisions, kept scores and wrong texts."""
    parts = {"truth": [], "decisions": [], "scores": [], "lengths": [], "errors": {}}
    rows = skipped = done = 0
    predictor = BatchPredictor(classifier, text_column=text_column, batch_size=batch_size, on_bad_rows=on_bad_rows)
    for chunk, probabilities, bad in predict_chunks(reader, predictor):
        cells = chunk.frame[label_column].str.strip()
        empty = cells.eq("").to_numpy(dtype=bool)
        if empty.any() and on_bad_rows == "error":
            raise InputDataError("label is empty (use --on-bad-rows skip to leave such rows out)", file=reader.path,
                                 row=spreadsheet_row(chunk.start + int(np.argmax(empty))), column=label_column)
        keep = np.flatnonzero(~(bad | empty))
        spreadsheet_rows = [spreadsheet_row(chunk.start + i) for i in keep]
        parsed = task.parse_cells(cells.iloc[keep].tolist(), file=reader.path, column=label_column,
                                  rows=spreadsheet_rows)
        parts["truth"].append(truth(parsed, spreadsheet_rows, file=reader.path, column=label_column))
        decisions = task.decide(probabilities[keep])
        parts["decisions"].append(decisions)
        parts["scores"].append(task.kept_scores(probabilities[keep], decisions))
        texts = chunk.frame[text_column].iloc[keep]
        wrong = np.flatnonzero(task.wrong_rows(parts["truth"][-1], decisions))
        parts["errors"].update(zip((done + wrong).tolist(), texts.iloc[wrong]))
        parts["lengths"].append(texts.str.split().str.len().to_numpy(np.int32))
        rows, skipped, done = rows + len(chunk.frame), skipped + len(chunk.frame) - len(keep), done + len(keep)
        if progress is not None:
            progress.update(rows, reader.bytes_read)
    if progress is not None:
        progress.close(rows, reader.bytes_read)
    return parts, skipped
