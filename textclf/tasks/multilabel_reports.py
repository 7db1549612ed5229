"""The tables and plots of a multi-label evaluation: per-label and averaged metrics, 2x2 counts, co-occurrence.

`textclf.tasks.multi_label.MultiLabel.write_tables` writes them for
`textclf.evaluation.reports.write_reports`, which writes the rest of the same directory
layout and the same `report.html` (`textclf.evaluation.report_html`):

    classification_report.json/.txt  per label precision / recall / F1 / support;
                                     micro, macro, weighted and samples averages
    multilabel_confusion.csv/.png    per label true/false positives/negatives
                                     (scikit-learn's `multilabel_confusion_matrix`)
    label_cooccurrence.csv/.png      how often two labels are true of the same text
    errors.csv                       rows with any wrong label (`MultiLabel.confidence` ranks them)
    calibration.json, reliability_diagram.png
                                     every (row, label) probability against how
                                     often the label is true
    history.csv, training_curves.png, data_summary.json, report.html   as single-label
"""

from __future__ import annotations

import json

import numpy as np

CONFUSION_COLUMNS = 7  # small 2x2 panels per row of multilabel_confusion.png (28 labels: 4 rows)


def write_classification_report(report_dir, y_true, y_pred, labels, metrics):
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


def write_label_confusion(report_dir, y_true, y_pred, labels, evaluated_on):
    """`multilabel_confusion.csv` (label, tn, fp, fn, tp) and its PNG of one 2x2 panel per label."""
    import pandas as pd
    from sklearn.metrics import multilabel_confusion_matrix

    matrices = multilabel_confusion_matrix(y_true, y_pred)
    pd.DataFrame({"label": labels, "true_negatives": matrices[:, 0, 0], "false_positives": matrices[:, 0, 1],
                  "false_negatives": matrices[:, 1, 0], "true_positives": matrices[:, 1, 1]}).to_csv(
        report_dir / "multilabel_confusion.csv", index=False)
    from textclf.evaluation.plotting import best_effort

    png = report_dir / "multilabel_confusion.png"
    best_effort(png, plot_label_confusion, matrices, labels, png, title=evaluated_on)
    return matrices


def write_cooccurrence(report_dir, y_true, labels, evaluated_on):
    """`label_cooccurrence.csv/.png`: rows holding both labels (the diagonal: rows holding the label)."""
    import pandas as pd

    y = np.asarray(y_true, dtype=np.int64)
    counts = y.T @ y
    pd.DataFrame(counts, index=pd.Index(labels, name="label"), columns=labels).to_csv(
        report_dir / "label_cooccurrence.csv")
    from textclf.evaluation.plotting import best_effort

    best_effort(report_dir / "label_cooccurrence.png", plot_cooccurrence, counts, labels,
                report_dir / "label_cooccurrence.png", title=evaluated_on)
    return counts


def plot_label_confusion(matrices, labels, path, title=""):
    """One small 2x2 count panel per label (rows true no/yes, columns predicted no/yes), shaded by row share."""
    from textclf.evaluation.plotting import literal_text

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
    from textclf.evaluation.plotting import literal_text

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
