"""Calibration: does a confidence of 0.8 mean right 8 times out of 10?

The reliability table groups predictions by confidence into equal-width bins
and compares each bin's mean confidence with its accuracy; the expected
calibration error (ECE, Guo et al. 2017) is their gap averaged over bins,
weighted by how many predictions fall in each.

Inputs are flat arrays (one confidence and one right/wrong flag per
prediction), so a multi-label model's (row, label) decisions fit the same
functions as a single-label model's rows.
"""

from __future__ import annotations

import numpy as np

DEFAULT_BINS = 15  # Guo et al. 2017


def reliability(confidence, correct, bins=DEFAULT_BINS):
    """Reliability table and expected calibration error.

    Args:
        confidence: Probability the model gave each of its decisions, in [0, 1].
        correct: Whether each decision was right (bool, same length).
        bins: Number of equal-width confidence bins over [0, 1].

    Returns:
        A dict: `ece` (float, None without predictions), `bins` (list of dicts
        with `lower`, `upper`, `count`, `confidence`, `accuracy`; the means are
        None for empty bins), `predictions` (count).
    """
    confidence = np.asarray(confidence, dtype=np.float64).ravel()
    correct = np.asarray(correct, dtype=bool).ravel()
    if confidence.shape != correct.shape:
        raise ValueError(
            f"confidence and correct must have the same length. Received: {confidence.size} and {correct.size}"
        )
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds (edges[i], edges[i+1]]; a confidence of exactly 0 goes to the first bin.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    conf_sum = np.bincount(index, weights=confidence, minlength=bins)
    right_sum = np.bincount(index, weights=correct.astype(np.float64), minlength=bins)
    table, gap = [], 0.0
    for i in range(bins):
        n = int(counts[i])
        mean_conf = conf_sum[i] / n if n else None
        accuracy = right_sum[i] / n if n else None
        if n:
            gap += n * abs(mean_conf - accuracy)
        table.append({"lower": float(edges[i]), "upper": float(edges[i + 1]), "count": n,
                      "confidence": None if mean_conf is None else float(mean_conf),
                      "accuracy": None if accuracy is None else float(accuracy)})
    total = int(counts.sum())
    return {"ece": float(gap / total) if total else None, "bins": table, "predictions": total}


def plot_reliability(table, path, title=""):
    """Reliability diagram: accuracy per confidence bin against the diagonal, with bin counts below.

    Args:
        table: The dict returned by `reliability`.
        path: PNG file to write.
        title: Shown above the diagram with the ECE.
    """
    from textclf.evaluation.plotting import literal_text

    with literal_text() as plt:  # label names drawn as written, never as mathtext
        bins = table["bins"]
        lower = np.array([b["lower"] for b in bins])
        width = bins[0]["upper"] - bins[0]["lower"]
        accuracy = np.array([b["accuracy"] if b["count"] else 0.0 for b in bins])
        mean_conf = np.array([b["confidence"] if b["count"] else np.nan for b in bins])
        counts = np.array([b["count"] for b in bins])
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 6), height_ratios=(3, 1), sharex=True,
                                          constrained_layout=True)
        top.bar(lower, accuracy, width=width, align="edge", color="#4c78a8", edgecolor="white", label="accuracy")
        # The bin's mean confidence as a tick: above the bar overconfident, inside it underconfident.
        top.scatter(lower + width / 2, mean_conf, marker="_", s=(width * 300) ** 2 / 4, linewidths=2.5,
                    color="#e45756", label="mean confidence", zorder=3)
        top.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
        top.set_ylim(0, 1)
        top.set_ylabel("accuracy")
        ece = table["ece"]
        top.set_title(f"{title + ': ' if title else ''}ECE {ece:.4f}" if ece is not None else title or "no predictions")
        top.legend(loc="upper left", fontsize="small")
        bottom.bar(lower, counts, width=width, align="edge", color="#72b7b2", edgecolor="white")
        if counts.max(initial=0) >= 100:  # most predictions sit in the top bin: a log scale keeps the others visible
            bottom.set_yscale("log")
        bottom.set_xlim(0, 1)
        bottom.set_xlabel("confidence")
        bottom.set_ylabel("predictions")
        fig.savefig(path, dpi=100)
        plt.close(fig)
