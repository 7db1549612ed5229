"""Evaluation reports: metrics, confusion matrix, error analysis, calibration, curves, report.html.

Metrics come from scikit-learn, plots from matplotlib (headless backend) and
the page from `textclf.evaluation.report_html`. `write_reports` serves every task: the
task (`textclf.tasks`) gives the metrics, its tables and plots (this module's
confusion matrix and confused pairs for one label per text,
`textclf.tasks.multilabel_reports`' for several), the calibration pairs and the
confidence that ranks the errors.
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


def metrics_line(metrics):
    """The one-line summary of `metrics`: accuracy and macro F1, or for several labels per text micro and
    macro F1, subset accuracy and Hamming loss."""
    where = f"{metrics['evaluated_on']}: "
    if "micro_f1" in metrics:
        return (where + f"micro F1 {metrics['micro_f1']:.4f}, macro F1 {metrics['macro_f1']:.4f}, subset accuracy "
                f"{metrics['subset_accuracy']:.4f}, Hamming loss {metrics['hamming_loss']:.4f}")
    return where + f"accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}"


def report_metrics(task, y_true, decisions, scores=None, *, labels=None, evaluated_on):
    """The metrics `write_reports` returns, computed without writing anything (a model is saved with them first).

    Args:
        task: The model's `textclf.tasks.Task`.
        y_true, decisions: Encoded truth (`Task.truth()`) and the task's decisions.
        scores: Optional `Task.kept_scores` of the rows (adds the expected calibration error).
        labels: Names of the truth codes; default the task's labels.
        evaluated_on: What the rows are.

    Returns:
        `Task.metrics` plus `evaluated_on` and, with `scores`, `expected_calibration_error`.
    """
    from textclf.evaluation.calibration import reliability

    labels = list(task.labels if labels is None else labels)
    metrics = {**task.metrics(y_true, decisions, labels), "evaluated_on": evaluated_on}
    if scores is not None:
        probabilities, correct, _ = task.calibration(y_true, decisions, scores)
        metrics["expected_calibration_error"] = reliability(probabilities, correct)["ece"]
    return metrics


WRONG_EXAMPLES = 10  # most confidently wrong rows explained on the page
EXPLAINED_SPANS = 200  # longer examples are occluded in runs of tokens (20newsgroups: 57 s -> a few s for 10)
CONFUSED_PAIRS = 10  # class pairs listed in confused_pairs.csv
PAIR_EXAMPLES = 3  # example texts per confused pair


def write_reports(report_dir, task, y_true, decisions, scores=None, *, labels=None, evaluated_on, history=None,
                  texts=None, metadata=None, data_summary=None, classifier=None):
    """Writes the metrics, error analysis, calibration and `report.html` of one evaluation, for any task.

    Always written: the task's tables and plots (`Task.write_tables`),
    `data_summary.json` and `report.html`; the others when their inputs are given.

    Args:
        report_dir: Directory to write into (created if needed).
        task: The model's `textclf.tasks.Task`.
        y_true: Encoded truth (`Task.truth()`), one row per evaluated row.
        decisions: The task's decisions (`Task.decide`) for the same rows.
        scores: Optional `Task.kept_scores` of the rows' probabilities: rank
            the errors and give the reliability diagram (`reliability_diagram.png`,
            `calibration.json`) and the ECE.
        labels: Names of the truth codes (`Truth.labels`: true labels the model
            never saw after its own); default the task's labels.
        evaluated_on: What the rows are ("test", "a.csv"); written into every report.
        history: Optional per-epoch dicts for `history.csv` and the curves.
        texts: Optional text of each row, for `errors.csv` and the examples;
            only wrong rows' texts are read (others may be None).
        metadata: Optional model metadata; the page shows it as "what was trained".
        data_summary: Optional dict of named `summarize_data` results (e.g.
            "training", "evaluated"); default: the evaluated rows' labels.
        classifier: Optional model with `explain(texts, max_spans=...)` (a
            `TextClassifier`); its token contributions highlight the most
            confidently wrong examples on the page.

    Returns:
        `Task.metrics`, plus `evaluated_on` and, with `scores`, `expected_calibration_error`.
    """
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    labels = list(task.labels if labels is None else labels)
    metrics = report_metrics(task, y_true, decisions, scores, labels=labels, evaluated_on=evaluated_on)
    calibration = confidence = None
    wrong = np.flatnonzero(task.wrong_rows(y_true, decisions))
    if scores is not None:
        probabilities, correct, what = task.calibration(y_true, decisions, scores)
        calibration = write_calibration(report_dir, probabilities, correct, title=evaluated_on + what)
        confidence = task.error_confidence(decisions, scores)
        wrong = wrong[np.argsort(-np.asarray(confidence)[wrong], kind="stable")]  # most confident first
    page = task.write_tables(report_dir, y_true, decisions, metrics, labels=labels, evaluated_on=evaluated_on,
                             wrong=wrong, texts=texts)
    true_cells, predicted_cells = task.cells(y_true, labels), task.cells(decisions, labels)
    if texts is not None:
        write_errors(report_dir / "errors.csv", wrong, texts, true_cells, predicted_cells, confidence,
                     noun=task.label_noun)
    if data_summary is None:
        data_summary = {"evaluated": summarize_data(task.values(y_true, labels))}
    write_summary_and_history(report_dir, data_summary, history)
    examples = wrong_examples(wrong[:WRONG_EXAMPLES], texts, true_cells, predicted_cells, confidence, classifier)
    from textclf.evaluation.report_html import write_run_page

    write_run_page(report_dir, metrics=metrics, calibration=calibration, examples=examples,
                   data_summary=data_summary, metadata=metadata, **page)
    return metrics


def write_summary_and_history(report_dir, data_summary, history):
    """`data_summary.json`, and with a training `history` `history.csv` and `training_curves.png`."""
    (report_dir / "data_summary.json").write_text(json.dumps(data_summary, indent=2) + "\n")
    if history:
        import pandas as pd

        pd.DataFrame(history).to_csv(report_dir / "history.csv", index=False)
        from textclf.evaluation.plotting import best_effort

        best_effort(report_dir / "training_curves.png", plot_history, history, report_dir / "training_curves.png")


def write_confusion(report_dir, y_true, y_pred, all_labels, evaluated_on):
    """`confusion_matrix.csv` and `.png`; returns the count matrix (true rows, predicted columns)."""
    import pandas as pd
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=all_labels)
    frame = pd.DataFrame(matrix, index=pd.Index(all_labels, name="true \\ predicted"), columns=all_labels)
    frame.to_csv(report_dir / "confusion_matrix.csv")
    from textclf.evaluation.plotting import best_effort

    png = report_dir / "confusion_matrix.png"
    best_effort(png, plot_confusion_matrix, matrix, all_labels, png, title=evaluated_on)
    return matrix


def write_classification_report(report_dir, y_true, y_pred, labels, all_labels, metrics):
    """`classification_report.json` and `.txt`; returns sklearn's report dict (per class and averages)."""
    from sklearn.metrics import classification_report

    report = classification_report(y_true, y_pred, labels=all_labels, output_dict=True, zero_division=0)
    report["evaluated_on"] = metrics["evaluated_on"]
    # With labels= given, sklearn reports "micro avg" instead of accuracy.
    report["accuracy"] = metrics["accuracy"]
    report.pop("micro avg", None)
    unseen = all_labels[len(labels):]
    if unseen:
        report["labels_unknown_to_model"] = unseen
    if "expected_calibration_error" in metrics:
        report["expected_calibration_error"] = metrics["expected_calibration_error"]
    (report_dir / "classification_report.json").write_text(json.dumps(report, indent=2) + "\n")
    text = classification_report(y_true, y_pred, labels=all_labels, zero_division=0, digits=4)
    header = f"Evaluated on: {metrics['evaluated_on']} ({len(y_true)} rows)\nAccuracy: {metrics['accuracy']:.4f}\n"
    if "expected_calibration_error" in metrics:
        header += f"Expected calibration error: {metrics['expected_calibration_error']:.4f}\n"
    if unseen:
        header += f"Labels the model never saw (always wrong): {', '.join(unseen)}\n"
    (report_dir / "classification_report.txt").write_text(header + "\n" + text)
    return report


def write_calibration(report_dir, confidence, correct, title=""):
    """`calibration.json` (reliability table, ECE) and `reliability_diagram.png`; returns the table."""
    from textclf.evaluation.calibration import plot_reliability, reliability

    table = reliability(confidence, correct)
    (report_dir / "calibration.json").write_text(json.dumps(table, indent=2) + "\n")
    from textclf.evaluation.plotting import best_effort

    png = report_dir / "reliability_diagram.png"
    best_effort(png, plot_reliability, table, png, title=title)
    return table


def write_errors(path, wrong, texts, true_cells, predicted_cells, confidence, *, noun="label"):
    """`errors.csv`: one row per wrong row (`wrong`, in that order), for any task.

    Columns: text, true_<noun>, predicted_<noun> (label cells as `Task.cells`
    gives them), confidence (`Task.error_confidence`; empty when unknown).
    """
    import pandas as pd

    pd.DataFrame({
        "text": [texts[i] for i in wrong],
        f"true_{noun}": np.asarray(true_cells, dtype=object)[wrong],
        f"predicted_{noun}": np.asarray(predicted_cells, dtype=object)[wrong],
        "confidence": np.asarray(confidence, dtype=np.float64)[wrong] if confidence is not None else np.nan,
    }).to_csv(path, index=False, float_format="%.6f")


def confused_pairs(matrix, labels, wrong, y_true, y_pred, texts=None, top=CONFUSED_PAIRS):
    """The most frequent (true, predicted) mistakes, with example texts.

    Args:
        matrix: Confusion counts, rows true and columns predicted, in `labels` order.
        labels: Labels of the rows and columns.
        wrong: Indices of the misclassified rows, in the order examples are taken.
        y_true, y_pred: Labels per row.
        texts: Optional texts per row (for examples).
        top: How many pairs.

    Returns:
        A list of dicts: `true_label`, `predicted_label`, `count`,
        `share_of_true_label`, `examples` (up to `PAIR_EXAMPLES` texts).
    """
    off = [(int(matrix[i, j]), i, j) for i in range(len(labels)) for j in range(len(labels))
           if i != j and matrix[i, j] > 0]
    off.sort(key=lambda item: (-item[0], item[1], item[2]))
    pairs = [{"true_label": labels[i], "predicted_label": labels[j], "count": n,
              "share_of_true_label": n / int(matrix[i].sum()), "examples": []} for n, i, j in off[:top]]
    if texts is not None and pairs:
        slots = {(p["true_label"], p["predicted_label"]): p["examples"] for p in pairs}
        for i in wrong:
            examples = slots.get((y_true[i], y_pred[i]))
            if examples is not None and len(examples) < PAIR_EXAMPLES:
                examples.append(str(texts[i]))
    return pairs


def write_pairs(path, pairs):
    import pandas as pd

    columns = ["true_label", "predicted_label", "count", "share_of_true_label"]
    rows = [{**{c: p[c] for c in columns},
             **{f"example_{k + 1}": (p["examples"][k] if k < len(p["examples"]) else "") for k in range(PAIR_EXAMPLES)}}
            for p in pairs]
    pd.DataFrame(rows, columns=columns + [f"example_{k + 1}" for k in range(PAIR_EXAMPLES)]).to_csv(
        path, index=False, float_format="%.4f")


def wrong_examples(rows, texts, y_true, y_pred, confidence, classifier=None):
    """The given misclassified rows as dicts for the page, with token contributions when `classifier` is given."""
    if texts is None or not len(rows):
        return []
    examples = [{"text": str(texts[i]), "true_label": y_true[i], "predicted_label": y_pred[i],
                 "confidence": None if confidence is None else float(confidence[i])} for i in rows]
    if classifier is not None:
        explanations = classifier.explain([e["text"] for e in examples], max_spans=EXPLAINED_SPANS)
        for example, explanation in zip(examples, explanations):
            example["tokens"] = list(explanation.tokens)
            example["scores"] = [float(s) for s in explanation.scores]
    return examples


def summarize_data(labels, lengths=None, *, unit="tokens", coverage=None):
    """Rows, class counts and length distribution of a set of rows, for `data_summary.json` and the page.

    Args:
        labels: Label of each row, or a tuple of labels per row (several
            labels per text: each label counts the rows holding it).
        lengths: Optional length of each row (in `unit`).
        unit: What `lengths` counts ("tokens", "words").
        coverage: Optional dict of embedding coverage figures (shown as given).

    Returns:
        A JSON-ready dict: `rows`, `classes` (label -> rows, most frequent
        first), and `length` (unit, mean, percentiles, histogram) and
        `coverage` when given.
    """
    import pandas as pd

    labels = list(labels)
    rows = len(labels)
    if rows and isinstance(labels[0], tuple):
        labels = [name for names in labels for name in names]
    counts = pd.Series(labels, dtype=object).astype(str).value_counts(sort=True)
    summary = {"rows": rows, "classes": {str(k): int(v) for k, v in counts.items()}}
    if lengths is not None and len(lengths):
        lengths = np.asarray(lengths, dtype=np.int64)
        top = int(np.percentile(lengths, 99)) + 1
        edges = np.unique(np.linspace(0, max(top, 1), 21).astype(np.int64))
        hist, _ = np.histogram(np.minimum(lengths, edges[-1]), bins=edges)
        summary["length"] = {
            "unit": unit, "mean": float(lengths.mean()), "min": int(lengths.min()), "max": int(lengths.max()),
            **{f"p{q}": float(np.percentile(lengths, q)) for q in (50, 90, 95, 99)},
            "histogram": {"edges": edges.tolist(), "counts": hist.astype(int).tolist()},
        }
    if coverage:
        summary["coverage"] = dict(coverage)
    return summary


def plot_confusion_matrix(matrix, labels, path, title=""):
    """Two panels, counts and row-normalized, sized to stay readable at 20+ classes."""
    from textclf.evaluation.plotting import literal_text

    with literal_text() as plt:  # label names drawn as written, never as mathtext
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
    from textclf.evaluation.plotting import literal_text

    with literal_text() as plt:  # label names drawn as written, never as mathtext
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
