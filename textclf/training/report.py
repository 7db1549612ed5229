"""Stage 6, report: every metric through the assembled end-to-end model, the report files and the closing lines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Evaluation:
    """The rows the reports describe and the validation metrics.

    Attributes:
        texts: The reported rows (test, else validation).
        y_true: Their true labels.
        probabilities: The model's probabilities for them.
        evaluated_on: What those rows are, for the reports.
        validation: `compute_metrics` on the validation rows.
        data_summary: `reports.summarize_data` of the training and reported rows.
    """

    texts: list
    y_true: list
    probabilities: np.ndarray
    evaluated_on: str
    validation: dict
    data_summary: dict


def evaluate(classifier, split, test, test_path, training_summary, val_probabilities=None):
    """Predicts validation (and test) rows with `classifier`, the model that is saved.

    Args:
        classifier: The assembled `TextClassifier`.
        split: The `textclf.training.prepare.Split` it was trained and validated on.
        test: The test `LabeledData`, or None.
        test_path: Its path, for the reports.
        training_summary: `training_summary` of the training rows, or None.
        val_probabilities: `classifier`'s probabilities for the validation rows, when already predicted.

    Returns:
        An `Evaluation`.
    """
    from textclf.evaluation.reports import summarize_data

    if val_probabilities is None:
        val_probabilities = classifier.predict_proba(split.val_texts)
    validation = task_metrics(classifier.task, split.val_labels, val_probabilities)
    if test is None:
        texts, y_true, probabilities = split.val_texts, split.val_labels, val_probabilities
        evaluated_on = f"validation ({split.record['description']})"
    else:
        texts, y_true, probabilities = list(test.texts), list(test.labels), classifier.predict_proba(test.texts)
        evaluated_on = f"test ({test_path})"
    summary = {"training": training_summary} if training_summary is not None else {}
    summary["evaluated"] = summarize_data(y_true)
    return Evaluation(texts, y_true, probabilities, evaluated_on, validation, summary)


def training_summary(prepared):
    """`reports.summarize_data` of the training rows: labels, token lengths, embedding coverage."""
    from textclf.evaluation.reports import summarize_data

    return summarize_data(prepared.split.train_labels, prepared.train_lengths, coverage=prepared.coverage)


def task_metrics(task, y_true, probabilities):
    """The metrics (`Task.metrics`) of `task`'s decisions against parsed true labels, and `label_f1`, each
    label's F1 (`Task.label_f1`: what `textclf tune --metric f1:LABEL` chooses on).

    Args:
        task: The model's `textclf.tasks.Task`, its decision fitted.
        y_true: The true labels as parsed from the table.
        probabilities: The model's probabilities for those rows.

    Returns:
        A dict of metric name -> value (`label_f1`: label -> F1).
    """
    truth = task.truth()
    y_true, decisions = truth(y_true), task.decide(probabilities)
    return {**task.metrics(y_true, decisions, truth.labels), "label_f1": task.label_f1(y_true, decisions, truth.labels)}


def _judged(evaluation, classifier):
    """The task, encoded truth, decisions and kept scores of the reported rows, and the truth's label names."""
    task = classifier.task
    truth = task.truth()
    y_true = truth(evaluation.y_true)
    decisions = task.decide(evaluation.probabilities)
    return task, y_true, decisions, task.kept_scores(evaluation.probabilities, decisions), truth.labels


def final_metrics(evaluation, classifier):
    """The `fitted.metrics` of the metadata, computed without writing a file (the model is saved before any report).

    Returns:
        The reported rows' metrics (`reports.report_metrics`) and the validation ones.
    """
    from textclf.evaluation.reports import report_metrics

    task, y_true, decisions, scores, labels = _judged(evaluation, classifier)
    metrics = report_metrics(task, y_true, decisions, scores, labels=labels, evaluated_on=evaluation.evaluated_on)
    kept = (*task.headline, "label_f1")
    return {**metrics, **{f"validation_{name}": evaluation.validation[name] for name in kept}}


def write(report_dir, evaluation, classifier, history):
    """Writes the reports, error analysis and `report.html` (their metrics are `final_metrics`).

    A figure that cannot be drawn is a warning naming it (`textclf.evaluation.plotting.best_effort`); any other failure
    of the reports is one warning too: they are written after the model, which they never cost.
    """
    from textclf.evaluation.reports import write_reports
    from textclf.runtime.terminal import warn

    task, y_true, decisions, scores, labels = _judged(evaluation, classifier)
    try:
        write_reports(report_dir, task, y_true, decisions, scores, labels=labels,
                      evaluated_on=evaluation.evaluated_on, history=history, texts=evaluation.texts,
                      metadata=classifier.metadata, data_summary=evaluation.data_summary, classifier=classifier)
    except Exception as exc:  # noqa: BLE001 - storage errors included: the model is already written
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        warn(f"reports in {report_dir.name}/ were not all written ({reason}); the model is saved")


def log_result(metrics, output, seconds, chief, log):
    """The closing lines: where the model is (on the chief) and its metrics."""
    if chief:
        log(f"saved model to {output}/ (model.keras, metadata.json, reports/)")
    from textclf.evaluation.reports import metrics_line

    log(f"{metrics_line(metrics)} ({metrics['rows']} rows); trained in {seconds:.0f}s")
