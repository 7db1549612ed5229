"""Evaluation reports: confusion matrix, classification report, training curves.

Metrics come from scikit-learn and plots from matplotlib (headless backend).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def compute_metrics(y_true, y_pred, labels):
    """Accuracy, macro and weighted F1 of label predictions.

    Args:
        y_true: True labels (strings).
        y_pred: Predicted labels (strings).
        labels: All labels, in model output order.

    Returns:
        A dict with `accuracy`, `macro_f1`, `weighted_f1`, `rows`.
    """
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "rows": int(len(y_true)),
    }


def write_reports(report_dir, y_true, y_pred, labels, *, evaluated_on, history=None):
    """Writes the confusion matrix and classification report (and curves).

    Args:
        report_dir: Directory to write into (created if needed).
        y_true: True labels.
        y_pred: Predicted labels.
        labels: Label order for rows and columns (the model's output order).
            True labels the model never saw are appended after them.
        evaluated_on: What the rows are ("test", "validation", a file name);
            written into every report.
        history: Optional list of per-epoch dicts (epoch, loss, accuracy,
            val_loss, val_accuracy, ...) for `history.csv` and the curves.

    Returns:
        The dict of `compute_metrics`, plus `evaluated_on`.
    """
    import pandas as pd
    from sklearn.metrics import classification_report, confusion_matrix

    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    labels = list(labels)
    unseen = sorted(set(y_true) - set(labels))
    all_labels = labels + unseen

    matrix = confusion_matrix(y_true, y_pred, labels=all_labels)
    frame = pd.DataFrame(matrix, index=pd.Index(all_labels, name="true \\ predicted"), columns=all_labels)
    frame.to_csv(report_dir / "confusion_matrix.csv")
    plot_confusion_matrix(matrix, all_labels, report_dir / "confusion_matrix.png", title=evaluated_on)

    report = classification_report(
        y_true, y_pred, labels=all_labels, output_dict=True, zero_division=0
    )
    metrics = compute_metrics(y_true, y_pred, labels)
    report["evaluated_on"] = evaluated_on
    # With labels= given, sklearn reports "micro avg" instead of accuracy.
    report["accuracy"] = metrics["accuracy"]
    report.pop("micro avg", None)
    if unseen:
        report["labels_unknown_to_model"] = unseen
    (report_dir / "classification_report.json").write_text(json.dumps(report, indent=2) + "\n")
    text = classification_report(y_true, y_pred, labels=all_labels, zero_division=0, digits=4)
    header = f"Evaluated on: {evaluated_on} ({len(y_true)} rows)\nAccuracy: {metrics['accuracy']:.4f}\n"
    if unseen:
        header += f"Labels the model never saw (always wrong): {', '.join(unseen)}\n"
    (report_dir / "classification_report.txt").write_text(header + "\n" + text)

    if history:
        pd.DataFrame(history).to_csv(report_dir / "history.csv", index=False)
        plot_history(history, report_dir / "training_curves.png")
    return {**metrics, "evaluated_on": evaluated_on}


def plot_confusion_matrix(matrix, labels, path, title=""):
    """Two panels, counts and row-normalized, sized to stay readable at 20+ classes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    side = max(5.0, 0.45 * n + 2.5)
    fig, axes = plt.subplots(1, 2, figsize=(2 * side, side), constrained_layout=True)
    rows = matrix.sum(axis=1, keepdims=True)
    normalized = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    fontsize = 9 if n <= 10 else max(5, 11 - n // 4)
    for ax, values, name, fmt in (
        (axes[0], matrix, "counts", "d"),
        (axes[1], normalized, "row-normalized (recall)", ".2f"),
    ):
        image = ax.imshow(values, cmap="Blues", vmin=0)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        ax.set_xticks(range(n), labels=labels, rotation=60, ha="right", fontsize=fontsize)
        ax.set_yticks(range(n), labels=labels, fontsize=fontsize)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title}: {name}" if title else name)
        threshold = values.max() / 2 if values.size and values.max() > 0 else 0.5
        for i in range(n):
            for j in range(n):
                ax.text(j, i, format(values[i, j], fmt), ha="center", va="center", fontsize=fontsize,
                        color="white" if values[i, j] > threshold else "black")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_history(history, path):
    """Loss and accuracy per epoch, training and validation (one line per ensemble member)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    members = sorted({h.get("member") for h in history}, key=lambda m: m or 0)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for ax, key in zip(axes, ("loss", "accuracy")):
        for member in members:
            rows = [h for h in history if h.get("member") == member]
            epochs = [h["epoch"] for h in rows]
            suffix = "" if member is None else f" (member {member})"
            for prefix, style in (("", "-o"), ("val_", "--s")):
                values = [h.get(prefix + key) for h in rows]
                if any(v is not None for v in values):
                    ax.plot(epochs, values, style, label=(prefix or "train_") + key + suffix)
            if member == members[0]:
                phases = [h.get("phase") for h in rows]
                for i in range(1, len(phases)):
                    if phases[i] != phases[i - 1]:
                        ax.axvline(epochs[i] - 0.5, color="grey", linestyle=":", label="embeddings unfrozen")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    plt.close(fig)
