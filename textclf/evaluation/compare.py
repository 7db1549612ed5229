"""Runs side by side: metrics, per-class F1 differences and configuration differences on one page.

A run is a model directory (`metadata.json` and `reports/`, written by
`textclf train`) or a reports directory (written by `textclf evaluate`).
Only JSON files are read: comparing runs needs no TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

from textclf.errors import InputDataError
from textclf.evaluation.report_html import esc, fmt, metrics_table, page, table

REPORT_FILE = "classification_report.json"


def load_run(directory):
    """Reads one run.

    Args:
        directory: A model directory or a reports directory.

    Returns:
        A dict: `name`, `metadata` (None for a reports directory), `report`
        (scikit-learn's classification report as written by `write_reports`).

    Raises:
        InputDataError: the directory holds neither.
    """
    from textclf.inference.classifier import read_metadata

    directory = Path(directory)
    metadata = None
    reports = directory
    if (directory / "metadata.json").is_file():
        metadata = read_metadata(directory)
        reports = directory / "reports"
    path = reports / REPORT_FILE
    if not path.is_file():
        raise InputDataError(
            f"is not a textclf model directory (metadata.json and reports/{REPORT_FILE}) nor a reports directory "
            f"({REPORT_FILE}); found no {path}", file=directory,
        )
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputDataError(f"not valid JSON ({exc})", file=path) from None
    return {"name": str(directory), "metadata": metadata, "report": report}


def run_metrics(report):
    """The overall metrics of a classification report, named as `compute_metrics` names them."""
    macro, weighted = report.get("macro avg", {}), report.get("weighted avg", {})
    if "micro_f1" in report:  # multi-label (textclf.tasks.multilabel_reports): its own summary, rows included
        return {key: report.get(key) for key in ("micro_f1", "macro_f1", "weighted_f1", "samples_f1",
                                                 "subset_accuracy", "hamming_loss", "expected_calibration_error",
                                                 "rows", "evaluated_on")}
    return {"accuracy": report.get("accuracy"), "macro_f1": macro.get("f1-score"),
            "weighted_f1": weighted.get("f1-score"),
            "expected_calibration_error": report.get("expected_calibration_error"),
            "rows": int(macro["support"]) if "support" in macro else None, "evaluated_on": report.get("evaluated_on")}


def class_labels(report):
    return [key for key, value in report.items()
            if isinstance(value, dict) and "f1-score" in value
            and key not in ("macro avg", "weighted avg", "micro avg", "samples avg")]


def per_class_f1_html(runs):
    """F1 per class and run, with each later run's difference to the first (green better, red worse)."""
    labels = []
    for run in runs:
        labels.extend(label for label in class_labels(run["report"]) if label not in labels)
    header = (["class"] + [f"F1 {esc(run['name'])}" for run in runs]
              + [f"&Delta; {esc(run['name'])}" for run in runs[1:]])
    rows = []
    for label in labels:
        scores = [run["report"].get(label, {}).get("f1-score") for run in runs]
        cells = [esc(label)] + [(fmt(s), 'class="num"') for s in scores]
        for score in scores[1:]:
            if score is None or scores[0] is None:
                cells.append(("&ndash;", ""))
                continue
            delta = score - scores[0]
            css = "better" if delta > 0.0005 else "worse" if delta < -0.0005 else ""
            cells.append((f"{delta:+.4f}", f'class="num {css}"'))
        rows.append(cells)
    return table(header, rows)


# Metadata that differs between any two runs without being a choice: results, timings, provenance.
NOT_SETTINGS = ("metrics", "labels", "fitted.metrics", "fitted.training", "created", "fitted.output",
                "requested.output")


def config_differences_html(runs):
    """The metadata settings whose values differ between the runs that record them (metrics and labels left out).

    A reports directory records no configuration: its column stays empty rather than making every setting differ.
    """
    from textclf.evaluation.report_html import flatten

    flat = [{key: value for key, value in flatten(run["metadata"] or {}) if not key.startswith(NOT_SETTINGS)}
            for run in runs]
    keys = []
    for settings in flat:
        keys.extend(key for key in settings if key not in keys)
    recorded = [settings for settings, run in zip(flat, runs) if run["metadata"]]
    if len(recorded) < 2:
        return "<p>Fewer than two of these runs record their configuration (reports directories do not).</p>"
    differing = [key for key in keys if len({json.dumps(s.get(key), default=str) for s in recorded}) > 1]
    if not differing:
        return "<p>No differences in the recorded configuration.</p>"
    rows = [[esc(key)] + [fmt(settings.get(key)) if not isinstance(settings.get(key), str)
                          else esc(settings[key][:300]) for settings in flat] for key in differing]
    return table(["setting"] + [esc(run["name"]) for run in runs], rows, "kv")


def write_comparison(directories, output):
    """Writes the comparison page of `directories` to `output` (replaced atomically).

    Args:
        directories: Model or reports directories (at least one).
        output: The HTML file to write.

    Returns:
        The runs read (dicts of `load_run`).
    """
    from textclf.artifacts.outputs import atomic_file

    runs = [load_run(directory) for directory in directories]
    names = [run["name"] for run in runs]
    sections = [
        ("metrics", "Metrics", metrics_table([run_metrics(run["report"]) for run in runs], names)),
        ("classes", "Per-class F1", per_class_f1_html(runs)),
        ("config", "Configuration differences", config_differences_html(runs)),
    ]
    subtitle = f"{len(runs)} runs; differences are to the first, {esc(names[0])}"
    with atomic_file(output, "w", encoding="utf-8") as handle:
        handle.write(page("textclf comparison", subtitle, sections))
    return runs
