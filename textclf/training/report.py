"""Stage 6, report: every metric through the assembled end-to-end model, the report files and the closing lines."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Evaluation:
    """The rows the reports describe and the validation metrics.

    Attributes:
        y_true: True labels of the reported rows (test, else validation).
        y_pred: The model's labels for them.
        evaluated_on: What those rows are, for the reports.
        validation: `compute_metrics` on the validation rows.
    """

    y_true: list
    y_pred: list
    evaluated_on: str
    validation: dict


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
    from textclf.reports import compute_metrics

    split = prepared.split
    val_pred = list(classifier.predict(split.val_texts))
    validation = compute_metrics(split.val_labels, val_pred, prepared.labels)
    if test is None:
        return Evaluation(split.val_labels, val_pred, f"validation ({split.record['description']})", validation)
    return Evaluation(list(test.labels), list(classifier.predict(test.texts)), f"test ({test_path})", validation)


def write(report_dir, evaluation, labels, history):
    """Writes the reports; returns the `fitted.metrics` of the metadata."""
    from textclf.reports import write_reports

    metrics = write_reports(report_dir, evaluation.y_true, evaluation.y_pred, labels,
                            evaluated_on=evaluation.evaluated_on, history=history)
    return {**metrics, "validation_accuracy": evaluation.validation["accuracy"],
            "validation_macro_f1": evaluation.validation["macro_f1"]}


def log_result(metrics, output, seconds, chief, log):
    """The closing lines: where the model is (on the chief) and its metrics."""
    if chief:
        log(f"saved model to {output}/ (model.keras, metadata.json, reports/)")
    log(f"{metrics['evaluated_on']}: accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f} "
        f"({metrics['rows']} rows); trained in {seconds:.0f}s")
