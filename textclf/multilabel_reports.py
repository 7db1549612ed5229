"""Evaluation reports of a multi-label model: per-label and averaged metrics, 2x2 counts, co-occurrence, errors.

The multi-label twin of `textclf.reports.write_reports`, writing into the
same directory layout and the same `report.html` (`textclf.report_html`):

    classification_report.json/.txt  per label precision / recall / F1 / support;
                                     micro, macro, weighted and samples averages
    multilabel_confusion.csv/.png    per label true/false positives/negatives
                                     (scikit-learn's `multilabel_confusion_matrix`)
    label_cooccurrence.csv/.png      how often two labels are true of the same text
    errors.csv                       rows with any wrong label (see `row_confidence`)
    calibration.json, reliability_diagram.png
                                     every (row, label) probability against how
                                     often the label is true
    history.csv, training_curves.png, data_summary.json, report.html   as single-label
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CONFUSION_COLUMNS = 7  # small 2x2 panels per row of multilabel_confusion.png (28 labels: 4 rows)


def row_confidence(probabilities, decided):
    """How sure the model is of a row's whole label set: the probability of its most doubtful decision.

    Per label the decision's probability is `p` when the label was given and
    `1 - p` when it was not; a row's confidence is the smallest of them, so
    a row is confidently wrong only when every one of its decisions was sure.

    Returns:
        float array `(rows,)`.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    return np.where(np.asarray(decided) == 1, probabilities, 1.0 - probabilities).min(axis=1)


def multilabel_report_metrics(y_true, y_pred, probabilities, labels, *, evaluated_on):
    """The metrics `write_multilabel_reports` returns, computed without writing anything.

    Returns:
        `multilabel_metrics` plus `evaluated_on` and `expected_calibration_error` (over every row-label pair).
    """
    from textclf.calibration import reliability
    from textclf.multilabel import multilabel_metrics

    y_true, y_pred = np.asarray(y_true, dtype=np.int8), np.asarray(y_pred, dtype=np.int8)
    metrics = {**multilabel_metrics(y_true, y_pred, [str(label) for label in labels]), "evaluated_on": evaluated_on}
    metrics["expected_calibration_error"] = reliability(np.asarray(probabilities).ravel(), y_true.ravel() == 1)["ece"]
    return metrics


def write_multilabel_reports(report_dir, y_true, y_pred, probabilities, labels, *, evaluated_on, separator="|",
                             history=None, texts=None, metadata=None, data_summary=None, classifier=None):
    """Writes the reports of one multi-label evaluation (see the module doc).

    Args:
        report_dir: Directory to write into (created if needed).
        y_true, y_pred: `(rows, labels)` 0/1 indicator matrices.
        probabilities: `(rows, labels)` model probabilities.
        labels: Label names in column order.
        evaluated_on: What the rows are, written into every report.
        separator: Joins label names in `errors.csv`.
        history: Optional per-epoch dicts (`history.csv`, curves).
        texts: Optional texts per row (only rows with a wrong label are read).
        metadata: Optional model metadata for the page.
        data_summary: Optional named `reports.summarize_data` results.
        classifier: Optional `TextClassifier` explaining the most confidently wrong rows.

    Returns:
        `multilabel_metrics` plus `evaluated_on` and `expected_calibration_error`.
    """
    from textclf.reports import (WRONG_EXAMPLES, summarize_data, write_calibration, write_summary_and_history,
                                 wrong_examples)

    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    y_true, y_pred = np.asarray(y_true, dtype=np.int8), np.asarray(y_pred, dtype=np.int8)
    labels = [str(label) for label in labels]
    metrics = multilabel_report_metrics(y_true, y_pred, probabilities, labels, evaluated_on=evaluated_on)
    calibration = write_calibration(report_dir, np.asarray(probabilities).ravel(), y_true.ravel() == 1,
                                    title=f"{evaluated_on} (every label of every row)")
    per_label = _write_classification_report(report_dir, y_true, y_pred, labels, metrics)
    _write_label_confusion(report_dir, y_true, y_pred, labels, evaluated_on)
    _write_cooccurrence(report_dir, y_true, labels, evaluated_on)
    confidence = row_confidence(probabilities, y_pred)
    wrong = np.flatnonzero((y_true != y_pred).any(axis=1))
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]  # most confident first
    true_names, predicted_names = _joined(y_true, labels, separator), _joined(y_pred, labels, separator)
    if texts is not None:
        _write_errors(report_dir / "errors.csv", wrong, texts, true_names, predicted_names, confidence)
    if data_summary is None:
        data_summary = {"evaluated": summarize_data(label_sets(y_true, labels))}
    write_summary_and_history(report_dir, data_summary, history)
    examples = wrong_examples(wrong[:WRONG_EXAMPLES], texts, true_names, predicted_names, confidence, classifier)
    from textclf.report_html import write_run_page

    write_run_page(report_dir, metrics=metrics, per_class=per_label, matrix=None, labels=labels,
                   calibration=calibration, examples=examples, data_summary=data_summary, metadata=metadata)
    return metrics


def label_sets(indicators, labels):
    """Each row's label names as a tuple (what `summarize_data` counts per label)."""
    labels = np.asarray(labels, dtype=object)
    return [tuple(labels[np.flatnonzero(row)]) for row in np.asarray(indicators)]


def _joined(indicators, labels, separator):
    from textclf.multilabel import join_labels

    return np.asarray(join_labels(indicators, labels, separator), dtype=object)


def _write_classification_report(report_dir, y_true, y_pred, labels, metrics):
    """`classification_report.json` and `.txt`; returns scikit-learn's dict (per label and averages)."""
    from sklearn.metrics import classification_report

    report = classification_report(y_true, y_pred, target_names=labels, output_dict=True, zero_division=0)
    summary = {k: metrics[k] for k in ("evaluated_on", "micro_f1", "macro_f1", "weighted_f1", "samples_f1",
                                       "subset_accuracy", "hamming_loss", "expected_calibration_error", "rows")}
    (report_dir / "classification_report.json").write_text(json.dumps({**report, **summary}, indent=2) + "\n")
    text = classification_report(y_true, y_pred, target_names=labels, zero_division=0, digits=4)
    header = (f"Evaluated on: {metrics['evaluated_on']} ({metrics['rows']} rows, several labels per text)\n"
              f"Subset accuracy (every label right): {metrics['subset_accuracy']:.4f}\n"
              f"Hamming loss (share of wrong row-label decisions): {metrics['hamming_loss']:.4f}\n"
              f"Expected calibration error (per label): {metrics['expected_calibration_error']:.4f}\n")
    (report_dir / "classification_report.txt").write_text(header + "\n" + text)
    return report


def _write_label_confusion(report_dir, y_true, y_pred, labels, evaluated_on):
    """`multilabel_confusion.csv` (label, tn, fp, fn, tp) and its PNG of one 2x2 panel per label."""
    import pandas as pd
    from sklearn.metrics import multilabel_confusion_matrix

    matrices = multilabel_confusion_matrix(y_true, y_pred)
    pd.DataFrame({"label": labels, "true_negatives": matrices[:, 0, 0], "false_positives": matrices[:, 0, 1],
                  "false_negatives": matrices[:, 1, 0], "true_positives": matrices[:, 1, 1]}).to_csv(
        report_dir / "multilabel_confusion.csv", index=False)
    from textclf.plotting import best_effort

    png = report_dir / "multilabel_confusion.png"
    best_effort(png, plot_label_confusion, matrices, labels, png, title=evaluated_on)
    return matrices


def _write_cooccurrence(report_dir, y_true, labels, evaluated_on):
    """`label_cooccurrence.csv/.png`: rows holding both labels (the diagonal: rows holding the label)."""
    import pandas as pd

    y = np.asarray(y_true, dtype=np.int64)
    counts = y.T @ y
    pd.DataFrame(counts, index=pd.Index(labels, name="label"), columns=labels).to_csv(
        report_dir / "label_cooccurrence.csv")
    from textclf.plotting import best_effort

    best_effort(report_dir / "label_cooccurrence.png", plot_cooccurrence, counts, labels,
                report_dir / "label_cooccurrence.png", title=evaluated_on)
    return counts


def _write_errors(path, wrong, texts, true_names, predicted_names, confidence):
    """`errors.csv`: text, true_labels, predicted_labels, confidence (of the most doubtful label), most sure first."""
    import pandas as pd

    pd.DataFrame({"text": [texts[i] for i in wrong], "true_labels": true_names[wrong],
                  "predicted_labels": predicted_names[wrong], "confidence": confidence[wrong]}).to_csv(
        path, index=False, float_format="%.6f")


def plot_label_confusion(matrices, labels, path, title=""):
    """One small 2x2 count panel per label (rows true no/yes, columns predicted no/yes), shaded by row share."""
    from textclf.plotting import literal_text

    with literal_text() as plt:  # label names drawn as written, never as mathtext
        columns = min(CONFUSION_COLUMNS, len(labels))
        rows = -(-len(labels) // columns)
        fig, axes = plt.subplots(rows, columns, figsize=(2.1 * columns, 2.0 * rows + 0.6), squeeze=False,
                                 constrained_layout=True)
        for index, ax in enumerate(axes.ravel()):
            if index >= len(labels):
                ax.axis("off")
                continue
            counts = matrices[index]
            totals = counts.sum(axis=1, keepdims=True)
            shares = np.divide(counts, totals, out=np.zeros((2, 2)), where=totals > 0)
            ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
            for i in range(2):
                for j in range(2):
                    ax.text(j, i, f"{counts[i, j]:,}", ha="center", va="center", fontsize=8,
                            color="white" if shares[i, j] > 0.5 else "black")
            ax.set_xticks([0, 1], labels=["no", "yes"], fontsize=7)
            ax.set_yticks([0, 1], labels=["no", "yes"], fontsize=7)
            ax.set_title(labels[index], fontsize=9)
        fig.suptitle(f"{title}: per label, true (rows) against predicted (columns)" if title else
                     "per label, true (rows) against predicted (columns)", fontsize=10)
        fig.savefig(path, dpi=100)
        plt.close(fig)


def plot_cooccurrence(counts, labels, path, title=""):
    """Heatmap of how many rows hold both labels (log-shaded, counts written), readable at 28 labels."""
    from textclf.plotting import literal_text

    with literal_text() as plt:  # label names drawn as written, never as mathtext
        n = len(labels)
        side = max(5.0, 0.42 * n + 2.5)
        fig, ax = plt.subplots(figsize=(side + 1, side), constrained_layout=True)
        image = ax.imshow(np.log1p(counts), cmap="Purples", vmin=0)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="log(1 + rows)")
        fontsize = 9 if n <= 10 else max(5, 11 - n // 4)
        ax.set_xticks(range(n), labels=labels, rotation=60, ha="right", fontsize=fontsize)
        ax.set_yticks(range(n), labels=labels, fontsize=fontsize)
        top = np.log1p(counts).max() / 2 if counts.size else 0
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    ax.text(j, i, f"{counts[i, j]:,}", ha="center", va="center", fontsize=max(4, fontsize - 2),
                            color="white" if np.log1p(counts[i, j]) > top else "black")
        ax.set_title(f"{title}: label co-occurrence (rows holding both)" if title else "label co-occurrence")
        fig.savefig(path, dpi=100)
        plt.close(fig)
