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


def evaluate(classifier, prepared, test, test_path):
    """Predicts validation (and test) rows with `classifier`, the model that is saved.

    Args:
        classifier: The assembled `TextClassifier`.
        prepared: The `textclf.training.prepare.Prepared` data.
        test: The test `LabeledData`, or None.
        test_path: Its path, for the reports.

    Returns:
        An `Evaluation`.
    """
    from textclf.reports import summarize_data

    split = prepared.split
    val_probabilities = classifier.predict_proba(split.val_texts)
    validation = _metrics(classifier, split.val_labels, val_probabilities)
    if test is None:
        texts, y_true, probabilities = split.val_texts, split.val_labels, val_probabilities
        evaluated_on = f"validation ({split.record['description']})"
    else:
        texts, y_true, probabilities = list(test.texts), list(test.labels), classifier.predict_proba(test.texts)
        evaluated_on = f"test ({test_path})"
    summary = {"training": summarize_data(split.train_labels, prepared.train_lengths, coverage=prepared.coverage),
               "evaluated": summarize_data(y_true)}
    return Evaluation(texts, y_true, probabilities, evaluated_on, validation, summary)


def _metrics(classifier, y_true, probabilities):
    """Accuracy and macro F1, or with several labels per text `multilabel_metrics`, of the model's decisions;
    and `label_f1`, each label's F1 (what `textclf tune --metric f1:LABEL` chooses on)."""
    from sklearn.metrics import f1_score

    labels = list(classifier.classes_)
    if classifier.multi_label:
        from textclf.multilabel import indicator_matrix, multilabel_metrics

        y_true, y_pred = indicator_matrix(y_true, labels), classifier.decide(probabilities)
        metrics = multilabel_metrics(y_true, y_pred, labels)
        per_label = f1_score(y_true, y_pred, average=None, zero_division=0)
    else:
        from textclf.reports import compute_metrics

        y_pred = list(classifier.classes_[probabilities.argmax(axis=1)])
        metrics = compute_metrics(y_true, y_pred, labels)
        per_label = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {**metrics, "label_f1": {str(label): float(f1) for label, f1 in zip(labels, per_label)}}


def write(report_dir, evaluation, classifier, history):
    """Writes the reports, error analysis and `report.html`; returns the `fitted.metrics` of the metadata."""
    if classifier.multi_label:
        return _write_multilabel(report_dir, evaluation, classifier, history)
    from textclf.reports import write_reports

    y_pred = list(classifier.classes_[evaluation.probabilities.argmax(axis=1)])
    metrics = write_reports(report_dir, evaluation.y_true, y_pred, list(classifier.classes_),
                            evaluated_on=evaluation.evaluated_on, history=history, texts=evaluation.texts,
                            confidence=evaluation.probabilities.max(axis=1), metadata=classifier.metadata,
                            data_summary=evaluation.data_summary, classifier=classifier)
    return {**metrics, "validation_accuracy": evaluation.validation["accuracy"],
            "validation_macro_f1": evaluation.validation["macro_f1"],
            "validation_label_f1": evaluation.validation["label_f1"]}


def _write_multilabel(report_dir, evaluation, classifier, history):
    from textclf.multilabel import indicator_matrix
    from textclf.multilabel_reports import write_multilabel_reports

    labels = list(classifier.classes_)
    metrics = write_multilabel_reports(
        report_dir, indicator_matrix(evaluation.y_true, labels), classifier.decide(evaluation.probabilities),
        evaluation.probabilities, labels, evaluated_on=evaluation.evaluated_on, separator=classifier.label_separator,
        history=history, texts=evaluation.texts, metadata=classifier.metadata, data_summary=evaluation.data_summary,
        classifier=classifier)
    return {**metrics, "validation_micro_f1": evaluation.validation["micro_f1"],
            "validation_macro_f1": evaluation.validation["macro_f1"],
            "validation_label_f1": evaluation.validation["label_f1"]}


def log_result(metrics, output, seconds, chief, log):
    """The closing lines: where the model is (on the chief) and its metrics."""
    if chief:
        log(f"saved model to {output}/ (model.keras, metadata.json, reports/)")
    from textclf.reports import metrics_line

    log(f"{metrics_line(metrics)} ({metrics['rows']} rows); trained in {seconds:.0f}s")
